"""A sweep cell read for quality: answers collapsed, agreement over repeats, assertion score;
failed runs and unjudgeable assertions are counted apart, never as wrong answers."""

from __future__ import annotations

from tests.storage.factories import make_result
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.core.sweep_cells import ScoredRun, summarize_cell


def test_answers_agreement_and_score() -> None:
    case = TestCase(vars={"q": "river"}, assertions=[AssertionSpec(type="icontains",
                                                                   value="danube")])
    runs = [ScoredRun(make_result("q", text), case)
            for text in ("The Danube.\nIt flows east.", "The  Danube.\nIt flows east.", "Rhine")]
    summary = summarize_cell(runs)
    assert summary.first_line == "The Danube."
    assert [g.count for g in summary.groups] == [2, 1]
    assert summary.agreement == 2 / 3
    assert (summary.passed, summary.judged) == (2, 3) and summary.score == 2 / 3
    assert summary.label() == "agree 67% · pass 2/3"
    assert summary.reasons == ("icontains: did not find 'danube'",)


def test_failed_runs_and_unjudged_assertions_are_apart() -> None:
    failed = make_result("q", "").model_copy(update={"finish_reason": "error", "error": "x"})
    rubric = [AssertionSpec(type="llm-rubric", value="is polite")]  # no judge given
    summary = summarize_cell([ScoredRun(make_result("q", "Hello")), ScoredRun(failed)], rubric)
    assert (summary.ended, summary.failed) == (2, 1)
    assert summary.agreement is None  # one answer agrees with nothing
    assert summary.judged == 0 and summary.score is None
    assert summary.label() == "1 failed"
