"""A TEMPLATE argument (render, run, count): a file path, else a library key (its current
version, or KEY@VERSION), else a built-in template's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.core.models import Message, PromptTemplate
from workbench.core.paths import data_dir
from workbench.core.template_files import SUFFIX, dumps


def _render(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["render", *argv, "--json"]) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    return "\n".join(m["content"] for m in out["messages"])


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    template = PromptTemplate(
        name=path.name.removesuffix(SUFFIX), messages=[Message(role="user", content=text)]
    )
    path.write_text(dumps(template), encoding="utf-8")


def test_a_library_template_shadows_the_built_in_of_that_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "three fun facts" in _render(capsys, "welcome")  # the built-in
    library = data_dir() / "library"
    _write(library / f"welcome{SUFFIX}", "Tell me five fun facts.")
    assert _render(capsys, "welcome") == "Tell me five fun facts."
    _write(library / f"welcome{SUFFIX}", "Tell me five fun facts, briefly.")  # edited: v2
    assert _render(capsys, "welcome") == "Tell me five fun facts, briefly."
    assert _render(capsys, "welcome@1") == "Tell me five fun facts."
    assert main(["render", "welcome@7"]) == 1
    assert "'welcome' has no version or label '7'" in capsys.readouterr().err


def test_a_key_in_a_collection_and_an_other_library_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "lib"
    _write(folder / "imported" / "prompts-2025" / f"accountant{SUFFIX}", "Act as an accountant.")
    key = "imported/prompts-2025/accountant"
    assert _render(capsys, key, "--library", str(folder)) == "Act as an accountant."
    assert main(["count", key, "--library", str(folder), "--encoding", "cl100k_base"]) == 0
    assert capsys.readouterr().out.startswith("tokens:")


def test_a_file_path_comes_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(data_dir() / "library" / f"welcome{SUFFIX}", "from the library")
    _write(tmp_path / "welcome", "from the file")
    monkeypatch.chdir(tmp_path)
    assert _render(capsys, "welcome") == "from the file"


def test_a_deleted_library_template_is_not_used(capsys: pytest.CaptureFixture[str]) -> None:
    path = data_dir() / "library" / f"welcome{SUFFIX}"
    _write(path, "from the library")
    assert _render(capsys, "welcome") == "from the library"
    path.unlink()
    assert "three fun facts" in _render(capsys, "welcome")


def test_the_error_names_all_three_places(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "no-such-thing"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'no-such-thing' is not a template file, a template in the library or a built-in" in err
    assert "workbench library list" in err and "welcome" in err


def test_run_records_the_library_version_it_ran(capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.backends.config import add_config
    from workbench.storage.repositories import Store

    add_config("echo", "scripted", {"script": [{"text": "ok"}]})
    path = data_dir() / "library" / "team" / f"accountant{SUFFIX}"
    _write(path, "Act as an accountant.")
    assert main(["library", "rescan"]) == 0  # recorded as v1
    capsys.readouterr()
    _write(path, "Act as a careful accountant.")  # v2, recorded when run looks it up
    assert main(["run", "team/accountant@1", "--backend", "echo", "--json"]) == 0
    sent = json.loads(capsys.readouterr().out)["request"]["messages"]
    assert sent == [{"role": "user", "content": "Act as an accountant."}]
    assert main(["run", "team/accountant", "--backend", "echo"]) == 0
    with Store.open() as store:
        runs = [store.runs.get(r.id) for r in store.runs.recent(2)]
    assert [(r.ref.template_key, r.ref.template_version) for r in runs] == [
        ("team/accountant", 2),
        ("team/accountant", 1),
    ]


def _named(key: str, name: str, text: str) -> None:
    template = PromptTemplate(name=name, messages=[Message(role="user", content=text)])
    path = data_dir() / "library" / f"{key}{SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(template), encoding="utf-8")


def test_the_name_the_app_shows_finds_the_template(capsys: pytest.CaptureFixture[str]) -> None:
    """Saved in the app as "product blurb", its key is product-blurb: both name it, in every
    command that takes a template (render, count, library show), with @VERSION too."""
    _named("product-blurb", "product blurb", "Describe {{ product }}.")
    assert _render(capsys, "product blurb", "--var", "product=a kettle") == "Describe a kettle."
    assert _render(capsys, "Product Blurb@1", "--var", "product=a mug") == "Describe a mug."
    assert main(["count", "product blurb", "--var", "product=x", "--encoding", "cl100k_base"]) == 0
    assert capsys.readouterr().out.startswith("tokens:")
    assert main(["library", "show", "PRODUCT BLURB"]) == 0
    assert "Describe {{ product }}." in capsys.readouterr().out
    assert main(["library", "versions", "product blurb"]) == 0
    assert capsys.readouterr().out.startswith("v1 ")


def test_a_name_two_templates_share_is_an_error_listing_their_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _named("blurb", "Blurb", "One.")
    _named("team/blurb", "blurb", "Two.")
    assert _render(capsys, "team/blurb") == "Two."  # a key is never ambiguous
    assert main(["render", "BLURB "]) == 1
    err = capsys.readouterr().err
    assert "2 library templates are named 'BLURB ': blurb, team/blurb" in err


def test_the_error_suggests_the_closest_keys(capsys: pytest.CaptureFixture[str]) -> None:
    _named("product-blurb", "product blurb", "Describe it.")
    assert main(["render", "product-blurbs"]) == 1
    assert "did you mean product-blurb?" in capsys.readouterr().err
    assert main(["render", "prodcut blurb"]) == 1  # a typo in the name the app shows
    assert "did you mean product-blurb?" in capsys.readouterr().err
    assert main(["render", "welcom"]) == 1  # built-ins too
    assert "did you mean welcome?" in capsys.readouterr().err
