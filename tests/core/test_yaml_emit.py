"""``FastSafeDumper`` writes exactly what ``yaml.SafeDumper`` writes (the canonical bytes)."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.core import template_files, yaml_emit
from workbench.core.builtin_templates import builtin_templates
from workbench.storage.formats import yamlsrc

# Characters where PyYAML's emitter decides something: indicators, whitespace, breaks, escapes,
# non-ASCII printable and unprintable ones, and one beyond U+FFFF.
_ALPHABET = st.sampled_from(
    [
        *" \n\t\r#:-?,[]{}&*!|>'\"%@`.\\x",
        "\x00",
        "\x07",
        "\x85",
        "\xa0",
        "é",
        "\u2028",
        "\u2029",
        "\ufeff",
        "\ud7ff",
        "\ue000",
        "\U0001f600",
        "word",
        "longerwordhere",
        "  ",
        "\n\n",
    ]
)
TEXT = st.lists(_ALPHABET, max_size=80).map("".join)


def _forced(style: str | None) -> tuple[type[yaml.SafeDumper], type[yaml.SafeDumper]]:
    """The stock dumper and the fast one, both writing every string in ``style``."""

    def represent(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    class Stock(yaml.SafeDumper):
        pass

    class Fast(yaml_emit.FastSafeDumper):
        pass

    Stock.add_representer(str, represent)
    Fast.add_representer(str, represent)
    return Stock, Fast


STYLES = {style: _forced(style) for style in (None, "|", '"', "'", ">")}


def _reference(fast: type[yaml.SafeDumper]) -> type[yaml.SafeDumper]:
    """A stock ``SafeDumper`` with ``fast``'s string representer."""

    class Stock(yaml.SafeDumper):
        pass

    Stock.add_representer(str, fast.yaml_representers[str])
    return Stock


def _both(data: Any, stock: type[yaml.SafeDumper], fast: type[yaml.SafeDumper], **kw: Any) -> None:
    assert yaml.dump(data, Dumper=fast, **kw) == yaml.dump(data, Dumper=stock, **kw)


def test_every_builtin_template_is_written_as_the_stock_emitter_writes_it() -> None:
    stock = _reference(template_files._Dumper)
    for template in builtin_templates():
        expected = yaml.dump(
            template_files.to_data(template),
            Dumper=stock,
            sort_keys=False,
            allow_unicode=True,
            width=100,
            default_flow_style=False,
        )
        assert template_files.dumps(template) == expected, template.name


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, st.booleans())
def test_the_scalar_analysis_is_the_stock_one(text: str, unicode: bool) -> None:
    stock = yaml.SafeDumper(io.StringIO(), allow_unicode=unicode)
    fast = yaml_emit.FastSafeDumper(io.StringIO(), allow_unicode=unicode)
    assert vars(fast.analyze_scalar(text)) == vars(stock.analyze_scalar(text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(TEXT, min_size=1, max_size=4),
    st.sampled_from(sorted(STYLES, key=str)),
    st.sampled_from([12, 40, 100]),
    st.booleans(),
)
def test_documents_are_byte_identical_in_every_style(
    texts: list[str], style: str | None, width: int, unicode: bool
) -> None:
    stock, fast = STYLES[style]
    data = {"a": texts[0], "nested": {"list": texts, "deeper": [{"k": t} for t in texts]}}
    for flow in (False, None):
        _both(data, stock, fast, width=width, allow_unicode=unicode, default_flow_style=flow)
    _both(texts[0], stock, fast, width=width, allow_unicode=unicode)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXT, min_size=1, max_size=3))
def test_the_template_and_yaml_writers_match_the_stock_emitter(texts: list[str]) -> None:
    data = {"name": texts[0], "messages": [{"role": "user", "content": t} for t in texts]}
    kw = {"sort_keys": False, "allow_unicode": True, "width": 100, "default_flow_style": False}
    for fast in (template_files._Dumper, yamlsrc._Dumper):
        _both(data, _reference(fast), fast, **kw)


@pytest.mark.parametrize("style", ['"', "|"])
def test_long_prose_with_trailing_spaces_and_escapes_matches(style: str) -> None:
    # The shape that made imports slow: kilobytes of prose, lines with trailing spaces (so not a
    # literal block), quotes, tabs and backslashes, wrapped at the width.
    line = 'He said "stop"\tnow \\ then  -- a: b # c, [d] {e} é \U0001f600 '
    text = "\n".join(line * (n % 7) for n in range(300))
    stock, fast = STYLES[style]
    for unicode in (True, False):
        _both({"content": text}, stock, fast, width=100, allow_unicode=unicode)
    _both({"content": text}, _reference(template_files._Dumper), template_files._Dumper)


# Text libyaml may be given: no escapes, but every indicator, blank lines, leading and trailing
# breaks, long lines (wrapped in plain and single-quoted style) and long words.
_LIBYAML_ALPHABET = st.sampled_from(
    [
        *" \n#:-?,[]{}&*!|>'\"%@`.\\x",
        *("é", "\xa0", "\ue000", "word", "a" * 30, "b" * 95, "  ", "\n\n", " word " * 12),
        *("- ", ": ", " #", "---", "...", "0", "true", "null", "1.5"),
    ]
)
LIBYAML_TEXT = st.lists(_LIBYAML_ALPHABET, max_size=60).map("".join)
_KW: dict[str, Any] = {
    "sort_keys": False,
    "allow_unicode": True,
    "width": 100,
    "default_flow_style": False,
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LIBYAML_TEXT, min_size=1, max_size=4), st.integers(0, 4))
def test_libyaml_writes_the_stock_bytes_whenever_it_is_used(texts: list[str], depth: int) -> None:
    data: dict[str, Any] = {"name": texts[0], "messages": [{"content": t} for t in texts]}
    data[texts[-1][:70]] = texts[-1]
    for _ in range(depth):
        data = {"k": [data, texts[-1]], "n": 1}
    for fast in (template_files._Dumper, yamlsrc._Dumper):
        expected = yaml.dump(data, Dumper=_reference(fast), **_KW)
        assert yaml_emit.dump(data, fast) == expected
        twin = yaml_emit._libyaml_twin(fast)
        if twin is not None and yaml_emit.libyaml_agrees(data):
            assert yaml.dump(data, Dumper=twin, **_KW) == expected


def test_an_ordinary_template_is_written_by_libyaml() -> None:
    # The fast path is not dead: a typical template qualifies (and gives the stock bytes).
    typical = [
        t for t in builtin_templates() if yaml_emit.libyaml_agrees(template_files.to_data(t))
    ]
    assert len(typical) >= len(builtin_templates()) // 2
    assert yaml_emit._libyaml_twin(template_files._Dumper) is not None
