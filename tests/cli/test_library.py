"""``workbench library``: list, show, versions, diff, restore, label, add, delete, search and
rescan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.storage.factories import make_template
from workbench.cli import main
from workbench.core.paths import data_dir
from workbench.core.template_files import dumps


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    return json.loads(_run(capsys, *argv, "--json"))


@pytest.fixture
def template_files(tmp_path: Path) -> list[Path]:
    paths = []
    for name, description in (("Summarize ticket", "first"), ("Haiku", "poems")):
        path = tmp_path / f"{name}.prompt.yaml"
        path.write_text(dumps(make_template(name, description=description)), encoding="utf-8")
        paths.append(path)
    return paths


def test_add_list_show_and_edit_on_disk(
    template_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(capsys, "library", "add", *map(str, template_files), "--collection", "team")
    assert "team/summarize-ticket  v1" in out
    entries = _json(capsys, "library", "list")
    assert [(e["key"], e["version"]) for e in entries] == [
        ("team/haiku", 1),
        ("team/summarize-ticket", 1),
    ]
    # An edit made in an editor is picked up by the next command.
    path = data_dir() / "library" / "team" / "haiku.prompt.yaml"
    path.write_text(dumps(make_template("Haiku", description="edited by hand")), encoding="utf-8")
    versions = _json(capsys, "library", "versions", "team/haiku")
    assert [(v["number"], v["origin"], v["message"]) for v in versions] == [
        (1, "import", "added"),
        (2, "disk", "changed on disk"),
    ]
    assert "description: edited by hand" in _run(capsys, "library", "show", "team/haiku")
    assert "description: poems" in _run(capsys, "library", "show", "team/haiku", "--version", "1")


def test_diff_restore_and_labels(
    template_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "library", "add", str(template_files[1]))
    path = data_dir() / "library" / "haiku.prompt.yaml"
    path.write_text(dumps(make_template("Haiku", description="worse")), encoding="utf-8")
    diff = _run(capsys, "library", "diff", "haiku", "1")
    assert "-description: poems" in diff and "+description: worse" in diff
    data = _json(capsys, "library", "diff", "haiku", "v1", "v2")
    assert (data["added"], data["removed"]) == (1, 1)
    assert "identical" in _run(capsys, "library", "diff", "haiku", "2", "head")
    assert "haiku is now v3 (restored v1)" in _run(capsys, "library", "restore", "haiku", "1")
    assert "description: poems" in path.read_text(encoding="utf-8")
    assert "production -> haiku v3" in _run(capsys, "library", "label", "haiku", "production")
    shown = _json(capsys, "library", "show", "haiku", "--version", "production")
    assert shown["number"] == 3 and shown["labels"] == ["production"]
    versions = _json(capsys, "library", "versions", "haiku")
    assert versions[-1]["labels"] == ["production"]
    _run(capsys, "library", "label", "haiku", "production", "--remove")
    assert _json(capsys, "library", "versions", "haiku")[-1]["labels"] == []


def test_search_delete_and_rescan(
    template_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "library", "add", *map(str, template_files))
    hits = _json(capsys, "library", "search", "poems")
    assert [h["key"] for h in hits] == ["haiku"]
    assert "deleted haiku" in _run(capsys, "library", "delete", "haiku")
    assert _json(capsys, "library", "search", "poems") == []
    assert [e["key"] for e in _json(capsys, "library", "list", "--deleted") if e["deleted"]] == [
        "haiku"
    ]
    folder = data_dir() / "library"
    (folder / "new.prompt.yaml").write_text(dumps(make_template("New one")), encoding="utf-8")
    (folder / "broken.prompt.yaml").write_text("format_version: 1\nname: [\n", encoding="utf-8")
    report = _json(capsys, "library", "rescan")
    assert report["added"] == ["new"]
    assert [(Path(p["path"]).name, p["line"], p["kept_version"]) for p in report["problems"]] == [
        ("broken.prompt.yaml", 2, None)
    ]
    # Other commands still work and warn about the broken file on stderr, once, truthfully.
    assert main(["library", "list"]) == 0
    captured = capsys.readouterr()
    assert "new" in captured.out
    assert captured.err.count("broken.prompt.yaml:2") == 1
    assert "left out of the library until it is fixed" in captured.err
    assert "last good version" not in captured.err
    assert main(["library", "rescan"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("broken.prompt.yaml") == 1 and captured.err == ""
    # A file that had a good version and then broke: that version stays current.
    (folder / "new.prompt.yaml").write_text("format_version: 1\nname: {\n", encoding="utf-8")
    assert main(["library", "show", "new"]) == 0
    captured = capsys.readouterr()
    assert "New one" in captured.out
    assert "new.prompt.yaml:2: not valid YAML" in captured.err
    assert "its last good version, v1, stays current" in captured.err
    assert captured.err.count("\n") == 2  # one line per broken file


def test_unknown_template_is_a_known_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["library", "show", "nope"]) == 1
    assert capsys.readouterr().err.strip() == "workbench library: no template 'nope' in the library"
    assert main(["library", "show", "../etc/passwd"]) == 1
