"""The model table (models.yaml): lookups, user overrides, errors, and costs from its prices."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.core import paths
from workbench.core.model_table import (
    ModelTableError,
    Price,
    cost_of,
    load_model_table,
    user_table_path,
)
from workbench.core.tokens import BUNDLED_ENCODINGS


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_builtin_table_is_consistent() -> None:
    table = load_model_table()
    assert table.sources == (paths.resources_dir() / "models.yaml",)
    assert table.fallback_encoding in BUNDLED_ENCODINGS
    assert table.prices_checked
    names = set(table.entries)
    aliases = [alias for entry in table.entries.values() for alias in entry.aliases]
    assert len(aliases) == len(set(aliases))
    assert not names & set(aliases)
    for name, entry in table.entries.items():
        assert entry.encoding is None or entry.encoding in BUNDLED_ENCODINGS, name
        assert entry.context_window, name
        if entry.max_output_tokens is not None:
            assert entry.max_output_tokens <= entry.context_window, name


def test_lookup_by_name_alias_and_prefix() -> None:
    table = load_model_table()
    by_name = table.lookup("gpt-4o")
    assert by_name is not None
    assert (by_name.matched_by, by_name.encoding, by_name.context_window) == (
        "name",
        "o200k_base",
        128000,
    )
    assert by_name.price == Price(input=2.5, output=10.0, currency="USD")
    alias = table.lookup("gpt-4o-2024-08-06")
    assert alias is not None and (alias.entry, alias.matched_by) == ("gpt-4o", "alias")
    assert alias.price == by_name.price
    # A snapshot the table does not list shares the family's encoding, never its window or price.
    snapshot = table.lookup("gpt-4o-mini-2099-01-01")
    assert snapshot is not None
    assert (snapshot.entry, snapshot.matched_by, snapshot.encoding) == (
        "gpt-4o-mini",
        "prefix",
        "o200k_base",
    )
    assert (snapshot.context_window, snapshot.max_output_tokens, snapshot.price) == (
        None,
        None,
        None,
    )
    # A dated snapshot with its own price is its own entry.
    old = table.lookup("gpt-4o-2024-05-13")
    assert old is not None and old.price is not None and old.price.input == 5.0


def test_lookup_of_router_names_fine_tunes_and_unknowns() -> None:
    table = load_model_table()
    routed = table.lookup("openai/gpt-4.1")
    assert routed is not None and (routed.entry, routed.matched_by) == ("gpt-4.1", "name")
    tuned = table.lookup("ft:gpt-4o-mini:acme::abc123")
    assert tuned is not None and (tuned.entry, tuned.matched_by, tuned.price) == (
        "gpt-4o-mini",
        "prefix",
        None,
    )
    claude = table.lookup("claude-3-5-haiku-20241022")
    assert claude is not None and claude.encoding is None and claude.context_window == 200000
    assert table.lookup("llama-3-8b") is None
    assert table.lookup("gpt-4-32k").context_window == 32768  # type: ignore[union-attr]


def test_a_user_table_overrides_fields_and_adds_models() -> None:
    write(
        user_table_path(),
        "fallback_encoding: cl100k_base\n"
        "models:\n"
        "  gpt-4o:\n"
        "    price: {input: 1.0, output: 2.0, currency: EUR}\n"
        "  house-model:\n"
        "    encoding: cl100k_base\n"
        "    context_window: 4096\n"
        "  gpt-4o-mini:\n"
        "    price: null\n",
    )
    table = load_model_table()
    assert table.sources[-1] == user_table_path()
    assert table.fallback_encoding == "cl100k_base"
    gpt4o = table.lookup("gpt-4o")
    assert gpt4o is not None
    assert gpt4o.price == Price(input=1.0, output=2.0, currency="EUR")
    assert (gpt4o.encoding, gpt4o.context_window) == ("o200k_base", 128000)  # kept from built-in
    house = table.lookup("house-model")
    assert house is not None and (house.encoding, house.context_window) == ("cl100k_base", 4096)
    mini = table.lookup("gpt-4o-mini")
    assert mini is not None and mini.price is None and mini.context_window == 128000


def test_the_table_is_reread_when_a_file_changes() -> None:
    path = write(user_table_path(), "models:\n  a-model: {context_window: 100}\n")
    assert load_model_table().lookup("a-model").context_window == 100  # type: ignore[union-attr]
    write(path, "models:\n  a-model: {context_window: 200}\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_model_table().lookup("a-model").context_window == 200  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models:\n  x: [unclosed\n", r"models.yaml:\d+: not valid YAML"),
        (
            "models:\n  x:\n    context_window: -5\n",
            r"models\.x\.context_window: Input should be greater",
        ),
        ("models:\n  x:\n    colour: red\n", r"models\.x\.colour: Extra inputs"),
        ("models:\n  x:\n    price: {input: 1}\n", r"models\.x\.price\.output: Field required"),
        ("format_version: 99\n", r"format_version 99 is newer"),
        ("- a\n- b\n", r"models.yaml: Input should be a valid dictionary"),
    ],
)
def test_a_bad_user_table_is_a_clear_error(text: str, message: str) -> None:
    write(user_table_path(), text)
    with pytest.raises(ModelTableError, match=message):
        load_model_table()


def test_an_unreadable_table_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelTableError, match="cannot read"):
        load_model_table(tmp_path / "missing.yaml")


def test_an_empty_user_table_changes_nothing() -> None:
    write(user_table_path(), "")
    assert load_model_table().lookup("gpt-4o").price is not None  # type: ignore[union-attr]


def test_cost_from_the_price_table() -> None:
    price = Price(input=2.5, output=10.0)
    cost = cost_of(price, 1_000_000, 500_000)
    assert cost is not None
    assert (cost.currency, cost.input, cost.output, cost.total, cost.exact) == (
        "USD",
        2.5,
        5.0,
        7.5,
        True,
    )
    assert cost_of(price, 2, exact=False).exact is False  # type: ignore[union-attr]
    assert cost_of(price, 0).total == 0  # type: ignore[union-attr]


def test_no_price_means_no_cost() -> None:
    assert cost_of(None, 1000, 1000) is None
    table = load_model_table()
    assert cost_of(table.lookup("gpt-4o-2099-01-01").price, 1000) is None  # type: ignore[union-attr]


def test_prices_are_never_negative() -> None:
    with pytest.raises(ValueError):
        Price(input=-1, output=0)
