"""``workbench import`` and ``workbench export`` wired to the library and the experiment store:
the shared fixtures, round trips, malformed imports that leave the library untouched, runs,
fine-tuning and DPO exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.storage.factories import failed_result, make_result, make_spec, make_template
from workbench.cli import main
from workbench.core.models import Message, PromptTemplate
from workbench.core.paths import builtin_templates_dir, config_dir, data_dir
from workbench.core.template_files import SUFFIX
from workbench.storage.finetune import check_finetune_file
from workbench.storage.formats import read_runs_jsonl
from workbench.storage.library import Library
from workbench.storage.repositories import RunRef, Store

AWESOME = "prompt_library/awesome-chatgpt-prompts-2025-01-06.csv"


def _import(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    assert main(["import", *argv, "--json"]) == code
    return json.loads(capsys.readouterr().out)


def _export(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["export", *argv]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _titles_and_bodies() -> list[tuple[str, str]]:
    with Store.open() as store:
        library = Library(store.db)
        templates = [library.load(e.key) for e in library.entries()]
    return sorted((t.name, t.messages[0].content) for t in templates)


def test_awesome_prompts_import_export_import_round_trip(
    fixtures_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = _import(capsys, str(fixtures_dir / AWESOME))
    assert report["format"] == "csv" and report["errors"] == []
    assert len(report["templates"]) == 175
    assert all(t["changed"] and t["version"] == 1 for t in report["templates"])
    assert report["templates"][0]["key"].startswith("imported/awesome-chatgpt-prompts-2025-01-06/")
    first = _titles_and_bodies()
    assert len(first) == 175
    # Imported bodies are data: they render to themselves.
    with Store.open() as store:
        library = Library(store.db)
        entry = library.entries()[0]
        assert library.load(entry.key).messages[0].literal

    exported = tmp_path / "again.csv"
    _export(capsys, "--format", "csv", "--out", str(exported))
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "second-home"))
    again = _import(capsys, str(exported))
    assert again["errors"] == [] and len(again["templates"]) == 175
    assert _titles_and_bodies() == first


def test_reimport_is_idempotent(fixtures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _import(capsys, str(fixtures_dir / AWESOME))
    again = _import(capsys, str(fixtures_dir / AWESOME))
    assert [t["changed"] for t in again["templates"]] == [False] * 175
    assert {t["version"] for t in again["templates"]} == {1}


@pytest.mark.parametrize(
    ("config", "prompts", "tests"), [("getting-started", 2, 2), ("simple-csv", 2, 4)]
)
def test_promptfoo_fixtures_become_experiments(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str], config: str, prompts: int, tests: int
) -> None:
    report = _import(capsys, str(fixtures_dir / "promptfoo" / config / "promptfooconfig.yaml"))
    assert report["format"] == "promptfoo" and report["errors"] == []
    assert (len(report["templates"]), len(report["tests"])) == (prompts, tests)
    # No OpenAI backend is configured here: the report says, on each provider's line, that it
    # runs on the local model.
    assert [w["line"] for w in report["warnings"] if "local embedded model" in w["message"]] == (
        [12, 13] if config == "getting-started" else [5])
    assert {t["key"].split("/")[1] for t in report["templates"]} == {config}
    experiment = report["experiment"]
    assert experiment["tests"] == tests
    with Store.open() as store:
        stored = store.experiments.get(experiment["id"])
        library = Library(store.db)
        versions = {
            (t["key"], library.version(t["key"]).number) for t in report["templates"]
        }
    assert len(stored.spec.tests) == tests
    # linked to the library: each variant's key and version number
    assert {(v.template_key, v.template_version) for v in stored.spec.variants} == versions
    # And back out: promptfoo reads the same prompts and tests.
    text = _export(capsys, "--format", "promptfoo", experiment["id"])
    out = Path(data_dir()) / "roundtrip" / "promptfooconfig.yaml"
    out.parent.mkdir(parents=True)
    out.write_text(text, encoding="utf-8")
    again = _import(capsys, str(out), "--dry-run")
    assert (len(again["templates"]), len(again["tests"])) == (prompts, tests)


def test_malformed_import_keeps_the_library_and_reports_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open() as store:
        Library(store.db).save(make_template("keep me"), collection="imported/bundle")
    folder = data_dir() / "library"
    before = {p: p.read_bytes() for p in folder.rglob("*.prompt.yaml")}
    bad = tmp_path / "bundle.json"
    bad.write_text(
        json.dumps(
            {
                "format_version": 1,
                "kind": "prompt-workbench-bundle",
                "templates": [
                    {
                        "format_version": 1,
                        "name": "good one",
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                    {
                        "format_version": 1,
                        "name": "bad role",
                        "messages": [{"role": "wizard", "content": "x"}],
                    },
                    {"format_version": 1, "name": "keep me", "temperature": "hot"},
                ],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    report = _import(capsys, str(bad), code=1)
    assert [t["name"] for t in report["templates"]] == ["good one"]
    assert len(report["errors"]) == 2
    assert all(isinstance(e["line"], int) and e["line"] > 1 for e in report["errors"])
    after = {p: p.read_bytes() for p in folder.rglob("*.prompt.yaml") if p in before}
    assert after == before
    broken = tmp_path / "broken.json"
    broken.write_text(
        '{"format_version": 1,\n "templates": [\n  {"name": oops}\n]}', encoding="utf-8"
    )
    report = _import(capsys, str(broken), "--format", "bundle-json", code=1)
    assert report["templates"] == [] and report["errors"][0]["line"] == 3
    assert {p: p.read_bytes() for p in folder.rglob("*.prompt.yaml") if p in before} == before
    assert main(["import", str(bad)]) == 1
    assert "bundle.json:" in capsys.readouterr().err


def test_dry_run_writes_nothing(fixtures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _import(capsys, str(fixtures_dir / AWESOME), "--dry-run")
    assert len(report["templates"]) == 175 and report["templates"][0]["key"] is None
    assert not (data_dir() / "library").exists() or not list(
        (data_dir() / "library").rglob("*.yaml")
    )


def test_presets_import_to_user_presets_and_export_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preset = tmp_path / "Focused.yaml"
    preset.write_text("temperature: 0.3\ntop_p: 0.9\nseed: 7\n", encoding="utf-8")
    report = _import(capsys, str(preset), "--format", "tgw-preset")
    [saved] = report["presets"]
    assert Path(saved["file"]).parent == config_dir() / "presets"
    text = _export(capsys, "--format", "tgw-preset", saved["name"])
    assert "temperature: 0.3" in text and "top_p: 0.9" in text


def test_library_bundle_and_markdown_export(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with Store.open() as store:
        library = Library(store.db)
        library.save(make_template("alpha"), collection="team")
        library.save(make_template("beta", description="beta v1"), collection="team")
        library.set_label("team/beta", "production", 1)
        library.save(make_template("beta", description="beta v2"), collection="team")
        library.save(make_template("other"))
    bundle = tmp_path / "team.json"
    assert (
        main(
            [
                "export",
                "--format",
                "bundle-json",
                "--out",
                str(bundle),
                "team",
                "--version",
                "production",
            ]
        )
        == 0
    )
    assert "team/alpha has no version 'production'; skipped" in capsys.readouterr().err
    data = json.loads(bundle.read_text(encoding="utf-8"))
    assert [t["description"] for t in data["templates"]] == ["beta v1"]
    markdown = _export(capsys, "--format", "markdown", "team")
    assert "alpha" in markdown and "other" not in markdown
    assert main(["export", "--format", "csv", "nosuch"]) == 1
    assert "no template or collection 'nosuch'" in capsys.readouterr().err
    folder = tmp_path / "prompty"
    folder.mkdir()
    _export(capsys, "--format", "prompty", "--out", str(folder), "team")
    assert sorted(p.name for p in folder.iterdir()) == ["alpha.prompty", "beta.prompty"]


def _render(capsys: pytest.CaptureFixture[str], template: str) -> Any:
    assert main(["render", template, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)["messages"]


@pytest.mark.parametrize("fmt", ["prompty", "llm-template"])
def test_exported_template_with_components_renders_the_same_after_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    source = builtin_templates_dir() / f"zero-shot-summarize{SUFFIX}"
    assert main(["library", "add", "--collection", "a", str(source)]) == 0
    capsys.readouterr()
    out = tmp_path / "d"
    assert main(["export", "--format", fmt, "--out", str(out)]) == 0
    assert "components" not in capsys.readouterr().err  # nothing was left out
    report = _import(capsys, "--format", fmt, str(out))
    [imported] = report["templates"]
    original = _render(capsys, "a/zero-shot-summarize")
    assert original[0]["content"].startswith("Summarize the text below in 2 sentences")
    assert _render(capsys, imported["key"]) == original


@pytest.mark.parametrize(("fmt", "suffix"), [("llm-template", ".yaml"), ("prompty", ".prompty")])
def test_one_file_per_template_skips_what_the_format_cannot_express(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, suffix: str
) -> None:
    loop = Message(role="user", content="{% for x in items %}{{ x }}{% endfor %}")
    marker = Message(role="user", content="Transcript:\nuser:\nhi")
    with Store.open() as store:
        library = Library(store.db)
        library.save(make_template("plain"), collection="team")
        library.save(make_template("loop", messages=[loop]), collection="odd")
        library.save(make_template("marker", messages=[marker]), collection="odd")
    folder = tmp_path / "out"
    builtins = [
        builtin_templates_dir() / f"{n}{SUFFIX}" for n in ("welcome", "zero-shot-summarize")
    ]
    assert main(["library", "add", *map(str, builtins)]) == 0
    capsys.readouterr()
    assert main(["export", "--format", fmt, "--out", str(folder)]) == 0
    err = capsys.readouterr().err
    written = sorted(p.name for p in folder.iterdir())
    expressible = {"llm-template": "marker", "prompty": "loop"}[fmt]  # each format's own limits
    assert written == sorted(
        f"{n}{suffix}" for n in ("plain", "welcome", "zero-shot-summarize", expressible)
    )
    [skipped] = [line for line in err.splitlines() if "skipped" in line]
    unexpressible = "loop" if fmt == "llm-template" else "marker"
    # One template into an existing folder: a file in it (was "Is a directory").
    single = tmp_path / "single"
    single.mkdir()
    assert main(["export", "--format", fmt, "--out", str(single), "team/plain"]) == 0
    assert [p.name for p in single.iterdir()] == [f"plain{suffix}"]
    assert skipped.startswith(f"warning: odd/{unexpressible} skipped: template '{unexpressible}'")
    # Nothing the format can hold: an error that names them, nothing written.
    with Store.open() as store:
        both = make_template("both", messages=[loop, marker])
        Library(store.db).save(both, collection="bad")
    none = tmp_path / "none"
    assert main(["export", "--format", fmt, "--out", str(none), "bad", f"odd/{unexpressible}"]) == 1
    err = capsys.readouterr().err
    assert "none of the 2 selected templates can be written" in err and "bad/both" in err
    assert not none.exists()


def _library_contents() -> dict[str, PromptTemplate]:
    with Store.open() as store:
        library = Library(store.db)
        return {e.key: library.load(e.key) for e in library.entries()}


def test_bundle_round_trip_keeps_the_library_structure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open() as store:
        library = Library(store.db)
        library.save(make_template("alpha"), collection="team")
        library.save(make_template("alpha", description="same name"), collection="team/sub")
        library.save(make_template("top"))
    welcome = builtin_templates_dir() / f"welcome{SUFFIX}"
    assert main(["library", "add", "--collection", "starters", str(welcome)]) == 0
    capsys.readouterr()
    first = _library_contents()
    assert sorted(first) == ["starters/welcome", "team/alpha", "team/sub/alpha", "top"]
    bundles = {"bundle-json": tmp_path / "b.json", "bundle-yaml": tmp_path / "b.yaml"}
    for fmt, bundle in bundles.items():
        assert main(["export", "--format", fmt, "--out", str(bundle)]) == 0
    for fmt, bundle in bundles.items():
        monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / f"home-{fmt}"))
        report = _import(capsys, "--format", fmt, str(bundle))
        assert report["warnings"] == []
        assert sorted(t["key"] for t in report["templates"]) == sorted(first)
        assert _library_contents() == first
        # --collection still puts everything in the one collection given.
        again = _import(capsys, "--collection", "flat", str(bundle))
        assert sorted(t["key"] for t in again["templates"]) == [
            "flat/alpha",
            "flat/alpha-2",
            "flat/top",
            "flat/welcome",
        ]


def _store_runs() -> tuple[str, list[str]]:
    with Store.open() as store:
        experiment = store.experiments.create(make_spec())
        ids = [
            store.runs.add(
                make_result("Capital of France?", "Paris."),
                RunRef(experiment.id, experiment.variant_ids[0], experiment.test_ids[0]),
            ),
            store.runs.add(
                make_result("Capital of France?", "Lyon."),
                RunRef(experiment.id, experiment.variant_ids[1], experiment.test_ids[0]),
            ),
            store.runs.add(failed_result(), RunRef(experiment.id)),
            store.runs.add(make_result("Capital of Peru?", "Lima.")),
        ]
        store.ratings.rate(ids[0], thumbs=1)
        store.ratings.rate(ids[3], stars=5)
        store.ratings.rate(ids[1], thumbs=-1, stars=2)
        store.ratings.prefer(ids[0], ids[1], "a")
    return experiment.id, ids


def test_runs_export_jsonl_and_csv(capsys: pytest.CaptureFixture[str]) -> None:
    experiment_id, ids = _store_runs()
    records, problems = read_runs_jsonl(_export(capsys, "--format", "runs-jsonl"))
    assert problems.items == []
    assert [r.id for r in records] == ids
    with Store.open() as store:
        assert [r.result for r in records] == [store.runs.get(i).result for i in ids]
    assert (records[0].label, records[0].vars) == ("terse", {"country": "France"})
    csv_text = _export(
        capsys, "--format", "runs-csv", "--experiment", experiment_id, "--status", "ok"
    )
    assert csv_text.splitlines()[0].startswith("id,label,backend,model")
    assert csv_text.count("Capital of France?") == 2 and "Peru" not in csv_text
    found, _ = read_runs_jsonl(_export(capsys, "--format", "runs-jsonl", "--search", "lima"))
    assert [r.id for r in found] == [ids[3]]
    picked, _ = read_runs_jsonl(_export(capsys, "--format", "runs-jsonl", ids[1], ids[0]))
    assert [r.id for r in picked] == [ids[1], ids[0]]


def test_finetune_export_of_chosen_runs_passes_the_checks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, ids = _store_runs()
    text = _export(capsys, "--format", "finetune-jsonl", "--thumbs-up")
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["messages"][-1] for line in lines] == [{"role": "assistant", "content": "Paris."}]
    both = _export(capsys, "--format", "finetune-jsonl", "--min-stars", "4")
    assert [json.loads(line)["messages"][-1]["content"] for line in both.splitlines()] == ["Lima."]
    everything = _export(capsys, "--format", "finetune-jsonl")  # every ok run, failures left out
    assert len(everything.splitlines()) == 3
    report = check_finetune_file(everything)
    assert report.ok and report.examples == 3
    assert main(["export", "--format", "finetune-jsonl", ids[2]]) == 1  # a failed run, by name
    assert "did not finish" in capsys.readouterr().err


def test_finetune_export_leaves_out_truncated_runs_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _store_runs()
    with Store.open() as store:
        cut = make_result("Tell me a story.", "Once upon a time there", finish_reason="length")
        cut_ids = [store.runs.add(cut), store.runs.add(cut)]
        store.ratings.rate(cut_ids[0], thumbs=1)
    assert main(["export", "--format", "finetune-jsonl"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["messages"][-1]["content"] for line in out.splitlines()] == [
        "Paris.",
        "Lyon.",
        "Lima.",
    ]
    assert "left out 2 runs cut off at the token limit (finish reason 'length')" in err
    assert "--include-truncated" in err
    kept = _export(capsys, "--format", "finetune-jsonl", "--include-truncated")
    assert len(kept.splitlines()) == 5
    # Only truncated runs selected: nothing to write is an error that says why.
    assert main(["export", "--format", "finetune-jsonl", *cut_ids]) == 1
    assert "every selected run (2) was cut off at its token limit" in capsys.readouterr().err
    one = _export(capsys, "--format", "finetune-jsonl", "--thumbs-up", "--include-truncated")
    assert len(one.splitlines()) == 2


def test_dpo_export_from_ab_preferences(capsys: pytest.CaptureFixture[str]) -> None:
    _store_runs()
    [pair] = [json.loads(line) for line in _export(capsys, "--format", "dpo-jsonl").splitlines()]
    assert pair["preferred_output"] == [{"role": "assistant", "content": "Paris."}]
    assert pair["non_preferred_output"] == [{"role": "assistant", "content": "Lyon."}]
    assert pair["input"]["messages"][-1] == {"role": "user", "content": "Capital of France?"}


def test_unknown_format_is_a_known_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["export", "--format", "docx"]) == 1
    assert "no exporter for format 'docx'" in capsys.readouterr().err
    odd = tmp_path / "notes.txt"
    odd.write_text("hello", encoding="utf-8")
    assert main(["import", str(odd)]) == 1
    assert "cannot tell the format" in capsys.readouterr().err
    assert _export(capsys, "--format", "list").count("\n") >= 10


def test_export_into_a_missing_folder_is_a_clear_error_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--out typo/dir/x.json`` made every missing folder silently; now it names the first
    missing one. The --out folder of a one-file-per-template export is still made, and said."""
    with Store.open() as store:
        library = Library(store.db)
        library.save(make_template("alpha"), collection="team")
        library.save(make_template("beta"), collection="team")
    target = tmp_path / "no" / "such" / "team.json"
    assert main(["export", "--format", "bundle-json", "--out", str(target), "team"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"the folder {tmp_path / 'no'} does not exist" in err
    assert not (tmp_path / "no").exists()
    folder = tmp_path / "prompty"
    assert main(["export", "--format", "prompty", "--out", str(folder), "team"]) == 0
    assert f"created folder {folder}" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["alpha.prompty", "beta.prompty"]
    deep = tmp_path / "missing" / "prompty"
    assert main(["export", "--format", "prompty", "--out", str(deep), "team"]) == 1
    assert not (tmp_path / "missing").exists()
