"""``workbench datagen``: rows for a template's variables, on the embedded model and on a
scripted one, de-duplicated, written or appended to a dataset; remote backends ask first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.backends.config import add_config
from workbench.cli import main
from workbench.core.models import Message, PromptTemplate, Variable
from workbench.core.template_files import dumps
from workbench.services.datasets import load_dataset
from workbench.storage.repositories import Store

ANSWER = {
    "rows": [
        {"city": "Paris", "country": "France"},
        {"city": "Lyon", "country": "France"},
        {"city": "  paris ", "country": "France"},  # a repeat of the first
        {"city": "Kyoto", "country": "Japan"},
    ]
}


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "capital.prompt.yaml"
    path.write_text(dumps(PromptTemplate(
        name="capital",
        messages=[Message(role="user", content="Which country is {{ city }} in? ({{ country }})")],
        variables=[Variable(name="city"), Variable(name="country")],
    )), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def backends(workbench_home: Path) -> None:
    add_config("cities", "scripted", {"script": [{"text": "```json\n" + json.dumps(ANSWER)
                                                   + "\n```"}]})
    add_config("cloud", "openai_compat", {"base_url": "https://api.example.com/v1"})


def _jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_rows_print_as_jsonl_with_duplicates_counted(
    template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["datagen", str(template), "--describe", "cities and their countries",
                 "-n", "4", "--backend", "cities"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [r["vars"] for r in _jsonl(out)] == [
        {"city": "Paris", "country": "France"},
        {"city": "Lyon", "country": "France"},
        {"city": "Kyoto", "country": "Japan"},
    ]
    # The script answers the same every time: the missing row is asked for twice more, in vain.
    assert "dropped 9 duplicates" in err and "3 rows of 4 asked for in 3 rounds (runs " in err


def test_rows_are_appended_to_a_dataset_without_the_ones_it_has(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "cities.csv"
    dataset.write_text("city,country,expected\nLyon,France,yes\n", encoding="utf-8")
    out_file = tmp_path / "new.jsonl"
    code = main(["datagen", str(template), "--describe", "cities", "-n", "4", "--backend",
                 "cities", "--append-to", str(dataset), "--out", str(out_file)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "dropped 10 duplicates (3 already in cities.csv)" in err  # 3 rounds of the same answer
    rows = load_dataset(dataset).rows
    assert [(r.vars["city"], r.expected) for r in rows] == [
        ("Lyon", "yes"), ("Paris", ""), ("Kyoto", "")
    ]
    assert [r.vars["city"] for r in load_dataset(out_file).rows] == ["Paris", "Kyoto"]


def test_the_generation_prompt_is_shown_and_an_edited_one_is_sent_as_written(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["datagen", str(template), "--describe", "European capitals", "-n", "3",
                 "--expected", "--show-prompt"]) == 0
    shown = capsys.readouterr().out
    assert "Write 3 varied test cases" in shown and "European capitals" in shown
    assert '"city", "country", "expected"' in shown
    edited = tmp_path / "prompt.txt"
    edited.write_text(shown.replace("varied", "very short") + 'Like {"city": "{{x}}"}',
                      encoding="utf-8")
    assert main(["datagen", str(template), "--describe", "European capitals", "-n", "3",
                 "--backend", "cities", "--prompt-file", str(edited)]) == 0
    with Store.open() as store:
        (run_id,) = store.runs.ids()
        sent = store.runs.get(run_id).result.request.messages[0].content
    assert sent == edited.read_text(encoding="utf-8")


def test_a_remote_backend_is_not_called_without_a_yes(
    template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["datagen", str(template), "--describe", "cities", "--backend", "cloud"])
    err = capsys.readouterr().err
    assert code == 1
    assert "nothing sent" in err and "api.example.com" in err and "--yes" in err
    with Store.open() as store:
        assert store.runs.count() == 0


def test_a_template_without_variables_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plain.prompt.yaml"
    path.write_text(dumps(PromptTemplate(name="plain", messages=[
        Message(role="user", content="Say hi")])), encoding="utf-8")
    assert main(["datagen", str(path), "--describe", "x"]) == 1
    assert "has no variables" in capsys.readouterr().err


@pytest.mark.slow
def test_the_embedded_model_gives_the_rows_asked_for(
    template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On the 135M local model, the schema (a llama.cpp grammar) makes every answer parse:
    exactly N rows with the template's keys, less the duplicates it is told about."""
    code = main(["datagen", str(template), "--describe", "cities of the world and the "
                 "country each is in", "-n", "4", "--param", "seed=7"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = _jsonl(out)
    dropped = int(err.split("dropped ")[1].split()[0]) if "dropped " in err else 0
    assert len(rows) + dropped == 4 and "warning" not in err
    for row in rows:
        assert set(row["vars"]) == {"city", "country"}  # type: ignore[arg-type]
