"""``select-best`` across a row's cells: the judge's pick passes, the others fail, on scripted
backends (one per provider, and one judging), through ``workbench eval`` on a promptfoo config."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench.backends.config import add_config
from workbench.cli import main
from workbench.core.assertions.select_best import judge_prompt, judge_values, verdict
from workbench.core.evaluation import EvaluationError
from workbench.core.templates import render
from workbench.services.select_best import judge_of
from workbench.services.suites import load_suite
from workbench.storage.repositories import Store


def config(tmp_path: Path, providers: str, judge: str) -> Path:
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(textwrap.dedent(f"""\
        prompts: ['Capital of {{{{country}}}}?']
        providers: {providers}
        tests:
          - vars: {{country: France}}
            assert:
              - type: select-best
                value: the most complete answer
                provider: {judge}
              - type: icontains
                value: paris
        """), encoding="utf-8")
    return path


def records(run_id: str) -> list[tuple[str, str]]:
    with Store.open() as store:
        return [(r.outcome, r.reason) for r in store.evaluations.for_run(run_id)]


@pytest.fixture
def backends() -> None:
    add_config("terse", "scripted", {"script": [{"text": "Paris."}]})
    add_config("wordy", "scripted", {"script": [{"text": "Paris, on the Seine, since 987."}]})
    add_config("picks-1", "scripted", {"script": [{"text": "1"}]})
    add_config("picks-9", "scripted", {"script": [{"text": "The best is 9"}]})


def test_the_judges_pick_passes_and_the_other_fails(
    tmp_path: Path, backends: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eval", str(config(tmp_path, "[terse, wordy]", "picks-1")), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1  # the terse cell lost the comparison
    assert [c["status"] for c in data["cells"]] == ["fail", "pass"]
    terse, wordy = (records(c["run_id"]) for c in data["cells"])
    assert terse[0] == ("fail", "output not selected: the most complete answer")
    assert wordy[0] == ("pass", "output selected as the best: the most complete answer")
    assert terse[1][0] == wordy[1][0] == "pass"  # the row's other assertion, per cell
    with Store.open() as store:  # the judge saw both outputs, in variant order
        requests = [store.runs.get(r.id).result.request for r in store.runs.recent(10)]
        [asked] = [r for r in requests if len(r.messages) == 2]  # system + the outputs
        prompt = asked.messages[-1].content
        assert prompt.index("Paris.") < prompt.index("Paris, on the Seine")


def test_an_unreadable_pick_and_a_lone_output_are_errors_not_fails(
    tmp_path: Path, backends: None, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["eval", str(config(tmp_path, "[terse, wordy]", "picks-9")), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in data["cells"]] == ["error", "error"]
    assert "no index from 0 to 1: 'The best is 9'" in records(data["cells"][0]["run_id"])[0][1]
    main(["eval", str(config(tmp_path, "[terse]", "picks-1")), "--json"])
    data = json.loads(capsys.readouterr().out)
    [cell] = data["cells"]
    assert cell["status"] == "error"
    assert "needs at least two outputs" in records(cell["run_id"])[0][1]


def test_a_rerun_decides_the_whole_row_again(
    tmp_path: Path, backends: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Resuming re-evaluates from the store: no placeholder is left behind."""
    path = config(tmp_path, "[terse, wordy]", "picks-1")
    main(["eval", str(path), "--json"])
    first = json.loads(capsys.readouterr().out)
    main(["eval", str(path), "--json", "--resume", first["experiment_id"]])
    again = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in again["cells"]] == ["fail", "pass"]


def test_the_judge_is_the_local_model_unless_a_provider_says_otherwise(tmp_path: Path) -> None:
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text("prompts: [a, b]\nproviders: [llamacpp]\ntests:\n  - assert:\n"
                    "      - {type: select-best, value: shortest}\n", encoding="utf-8")
    suite = load_suite(path)
    assert suite.judge is not None and suite.judge.backend == "llamacpp"
    assert any("graded by the local embedded model" in p for p in suite.problems)
    [spec] = suite.spec.default_assertions or suite.spec.tests[0].assertions

    bare = SimpleNamespace(judge=None)  # an evaluation without a judge of its own
    assert judge_of(bare, spec) == ("llamacpp", "")  # type: ignore[arg-type]
    named = spec.model_copy(update={"provider": "my-openai:gpt-4o"})
    assert judge_of(bare, named) == ("my-openai", "gpt-4o")  # type: ignore[arg-type]


def test_the_judge_prompt_keeps_outputs_as_text() -> None:
    template = judge_prompt(2)
    [_, user] = render(template, judge_values("be brief", ["{{ x }}", "b"]))
    assert '<Text index="0">\n{{ x }}\n</Text>' in user.content and "be brief" in user.content
    assert verdict(" 1\n", 2) == 1
    with pytest.raises(EvaluationError):
        verdict("none", 2)
