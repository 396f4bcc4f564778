"""LLM judges through the real runner: the scripted backend plays judges with known answers
(readable, messy, unreadable, biased, failing); the embedded local model runs one real rubric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.backends.config import BackendConfig
from workbench.core import judge_templates as jt
from workbench.core.evaluation import AssertionContext, Check, evaluate_one
from workbench.core.experiments import AssertionSpec, TestCase
from workbench.core.template_files import SUFFIX, dumps
from workbench.services.judges import (
    EMBEDDED_BACKEND,
    Judge,
    RatedOutput,
    Rubric,
    calibrate,
    reconcile,
)
from workbench.services.runner import Runner


def scripted_judge(*replies: str) -> tuple[Judge, Runner]:
    """A judge whose every answer is the concatenation of ``replies``."""
    configs = {"judge": BackendConfig(name="judge", backend="scripted",
                                      options={"script": [{"text": r} for r in replies]})}
    runner = Runner(configs=configs)
    return Judge(runner, backend="judge"), runner


def prompts(runner: Runner) -> list[str]:
    backend = runner.backend("judge")
    return [r.messages[-1].content for r in backend.requests]  # type: ignore[attr-defined]


def test_default_judge_is_the_embedded_local_model() -> None:
    assert Judge(Runner()).backend == EMBEDDED_BACKEND == "llamacpp"


def test_rubric_json_answer_score_and_rationale() -> None:
    judge, runner = scripted_judge('{"score": 4, "reason": "Accurate but terse."}')
    check = judge.score("Paris.", Rubric("Names the capital of France"), input="Capital?",
                        reference="Paris")
    assert check.score == pytest.approx(0.75) and check.passed is None
    assert "4/5" in check.reason and "Accurate but terse." in check.reason
    assert check.details["score"] == 4 and check.details["reason"] == "Accurate but terse."
    assert check.details["raw"] == '{"score": 4, "reason": "Accurate but terse."}'
    sent = prompts(runner)[0]
    assert "Names the capital of France" in sent and "OUTPUT:\nParis." in sent
    assert "REFERENCE answer:\nParis" in sent and "5: Fully meets the criteria." in sent


def test_rubric_custom_scale_reaches_the_prompt() -> None:
    judge, runner = scripted_judge('{"score": 2, "reason": "meh"}')
    scale = {1: "wrong", 2: "vague", 3: "ok", 4: "good", 5: "perfect"}
    judge.score("x", Rubric("Be specific", scale))
    assert "2: vague\n3: ok" in prompts(runner)[0]


@pytest.mark.parametrize(("reply", "score"), [
    ('Here is my verdict:\n```json\n{"score": 5, "reason": "All there."}\n```', 5),
    ("Score: 2 - the answer misses the date.", 2),
    ('{"score": "3", "reason": "half"}', 3),
    ("I would rate it 4 out of 5: clear, but it skips the date.", 4),
    ("Rating: 2/5. Mostly wrong.", 2),
])
def test_rubric_tolerates_fences_prose_and_plain_text(reply: str, score: int) -> None:
    judge, _ = scripted_judge(reply)
    check = judge.score("x", Rubric("c"))
    assert check.details["score"] == score and check.details["raw"] == reply


def test_unreadable_answer_is_an_error_keeping_the_raw_text() -> None:
    judge, _ = scripted_judge("I think it is rather good overall.")
    ctx = AssertionContext(output="x", judge=judge)
    outcome = evaluate_one(AssertionSpec(type="llm-rubric", value="Is good"), ctx)
    assert outcome.status == "error" and "no readable score" in outcome.reason
    assert outcome.details["raw"] == "I think it is rather good overall."
    judge, _ = scripted_judge('{"score": 9, "reason": "off the scale"}')
    outcome = evaluate_one(AssertionSpec(type="llm-rubric", value="Is good"),
                           AssertionContext(output="x", judge=judge))
    assert outcome.status == "error" and "outside the 1-5 scale" in outcome.reason


def test_llm_rubric_assertion_threshold_and_negation() -> None:
    judge, _ = scripted_judge('{"score": 3, "reason": "partly"}')
    ctx = AssertionContext(output="x", judge=judge, test=TestCase(expected="y"))
    passed = evaluate_one(AssertionSpec(type="llm-rubric", value="Is good"), ctx)
    assert passed.status == "pass" and passed.score == 0.5  # default: n >= 3
    assert passed.details["reason"] == "partly"  # the rationale is stored with the score
    strict = evaluate_one(AssertionSpec(type="llm-rubric", value="c", threshold=0.75), ctx)
    assert strict.status == "fail"
    assert evaluate_one(AssertionSpec(type="not-llm-rubric", value="c"), ctx).status == "fail"


def test_judge_assertions_without_a_judge_are_errors() -> None:
    ctx = AssertionContext(output="x", test=TestCase(expected="y"))
    for type_ in ("llm-rubric", "factuality", "model-graded-closedqa"):
        outcome = evaluate_one(AssertionSpec(type=type_, value="criterion"), ctx)
        assert outcome.status == "error" and "no judge model chosen" in outcome.reason


def test_judge_backend_failure_is_an_error() -> None:
    configs = {"judge": BackendConfig(name="judge", backend="scripted", options={
        "script": [{"error": "rate limited", "error_kind": "RateLimitError"}]})}
    judge = Judge(Runner(configs=configs), backend="judge")
    outcome = evaluate_one(AssertionSpec(type="llm-rubric", value="c"),
                           AssertionContext(output="x", judge=judge))
    assert outcome.status == "error" and "rate limited" in outcome.reason


@pytest.mark.parametrize(("reply", "category", "status"), [
    ('{"category": "B", "reason": "adds detail, consistent"}', "B", "pass"),
    ('{"category": "E", "reason": "minor wording"}', "E", "pass"),
    ("(D) The submitted answer says Lyon; the expert says Paris.", "D", "fail"),
])
def test_factuality(reply: str, category: str, status: str) -> None:
    judge, runner = scripted_judge(reply)
    ctx = AssertionContext(output="Lyon", judge=judge, prompt="Capital of France?",
                           test=TestCase(expected="Paris"))
    outcome = evaluate_one(AssertionSpec(type="factuality"), ctx)
    assert outcome.status == status and outcome.details["category"] == category
    assert f"({category})" in outcome.reason
    sent = prompts(runner)[0]
    assert "EXPERT answer:\nParis" in sent and "SUBMITTED answer:\nLyon" in sent
    assert "QUESTION:\nCapital of France?" in sent


def test_closedqa() -> None:
    judge, _ = scripted_judge('{"answer": "Y", "reason": "It names a city."}')
    ctx = AssertionContext(output="Paris", judge=judge)
    outcome = evaluate_one(AssertionSpec(type="model-graded-closedqa", value="names a city"), ctx)
    assert outcome.status == "pass" and outcome.details["reason"] == "It names a city."
    judge, _ = scripted_judge("Answer: N. It does not.")
    outcome = evaluate_one(AssertionSpec(type="model-graded-closedqa", value="names a city"),
                           AssertionContext(output="blue", judge=judge))
    assert outcome.status == "fail"


def test_position_bias_swap_turns_a_first_position_preference_into_a_tie() -> None:
    # A biased judge: whatever it is shown, it prefers the response in position 1.
    judge, runner = scripted_judge('{"winner": "1", "reason": "Response 1 is better."}')
    result = judge.compare("Paris.", "Lyon.", criteria="Names the capital of France")
    assert (result.first_order, result.second_order) == ("A", "B")
    assert result.winner == "tie" and result.position_bias and not result.consistent
    assert result.reasons == ("Response 1 is better.", "Response 1 is better.")
    first, second = prompts(runner)
    assert first.index("Paris.") < first.index("Lyon.")  # A shown first, then B first
    assert second.index("Lyon.") < second.index("Paris.")


def test_consistent_verdicts_and_ties() -> None:
    assert reconcile("A", "A").winner == "A" and reconcile("A", "A").consistent
    assert reconcile("B", "B").winner == "B"
    split = reconcile("A", "tie")
    assert split.winner == "tie" and not split.consistent and not split.position_bias
    judge, _ = scripted_judge('{"winner": "tie", "reason": "equal"}')
    result = judge.compare("a", "b", criteria="c")
    assert result.winner == "tie" and result.consistent and not result.position_bias


def test_unreadable_pairwise_answer_raises_with_raw_text() -> None:
    judge, _ = scripted_judge("Both are fine, I suppose.")
    with pytest.raises(Exception, match="winner") as info:
        judge.compare("a", "b", criteria="c")
    assert info.value.details["raw"] == "Both are fine, I suppose."  # type: ignore[attr-defined]


def test_judge_template_files_are_canonical_and_generated(tmp_path: Path) -> None:
    for template in jt.judge_templates():
        path = jt.judges_dir() / f"{template.name}{SUFFIX}"
        assert path.read_bytes().decode("utf-8") == dumps(template)
        assert jt.load(template.name) == template
    written = jt.write_judge_templates(tmp_path)
    assert sorted(p.name for p in written) == sorted(
        p.name for p in jt.judges_dir().glob(f"*{SUFFIX}"))


#: (question, answer, reference, criterion): right, wrong and off-topic answers.
CASES = [
    ("What is the capital of France?", "The capital of France is Paris.", "Paris",
     "Names the correct capital."),
    ("What is the capital of France?", "Lyon is the capital.", "Paris",
     "Names the correct capital."),
    ("How many legs does a spider have?", "Spiders have eight legs.", "Eight",
     "Gives a number."),
    ("Who wrote Hamlet?", "I like turtles.", "William Shakespeare", "Names a person."),
]


@pytest.mark.slow
def test_embedded_model_verdicts_parse_for_rubric_factuality_and_closedqa() -> None:
    """Before the judges sent their verdict schema as a response format, every one of these
    failed on the embedded model ("the judge's answer has no readable score": SmolLM2 wrote
    prose, or JSON-RPC-JSON-RPC... up to max_tokens). The grammar makes each verdict parse."""
    runner = Runner()
    try:
        judge = Judge(runner)
        for question, output, reference, criterion in CASES:
            score = judge.score(output, Rubric(criterion), input=question, reference=reference)
            assert score.details["score"] in {1, 2, 3, 4, 5}
            assert score.score == (score.details["score"] - 1) / 4
            fact = judge.factuality(output, reference, question=question)
            assert fact.details["category"] in jt.FACTUALITY_CATEGORIES
            closed = judge.closedqa(output, criterion, question=question)
            assert closed.details["answer"] in {"Y", "N"}
            for check in (score, fact, closed):
                assert json.loads(check.details["raw"])["reason"].strip() == check.details["reason"]
    finally:
        runner.close()


def test_judge_templates_send_their_verdict_schema_as_the_response_format() -> None:
    judge, runner = scripted_judge('{"score": 4, "reason": "ok"}')
    judge.score("x", Rubric("c"))
    sent = runner.backend("judge").requests[0]  # type: ignore[attr-defined]
    assert sent.response_format.type == "json_schema"
    assert sent.response_format.json_schema == jt.verdict_schema("score", [1, 2, 3, 4, 5])
    for template in jt.judge_templates():
        assert template.response_format == "json_schema" and template.output_schema


def test_judge_is_a_grader() -> None:
    judge, _ = scripted_judge('{"score": 5, "reason": "x"}')
    check: Check = judge.rubric("o", "r", input="", reference=None)
    assert check.score == 1.0


def test_calibration_against_a_persons_stars() -> None:
    judge, _ = scripted_judge('{"score": 4, "reason": "fine"}')
    rated = [RatedOutput("a", 4), RatedOutput("b", 4), RatedOutput("c", 5), RatedOutput("d", 2)]
    result = calibrate(judge, Rubric("Is helpful"), rated)
    assert result.pairs == [(4, 4), (4, 4), (4, 5), (4, 2)] and result.unreadable == []
    figures = result.agreement
    assert figures.n == 4 and figures.exact == 0.5
    assert figures.kappa == 0.0  # a judge that always says 4 agrees only by chance
    assert figures.spearman is None  # a constant judge has no ranking at all
    judge, _ = scripted_judge("no idea")
    unreadable = calibrate(judge, Rubric("Is helpful"), rated[:2])
    assert unreadable.pairs == [] and len(unreadable.unreadable) == 2
    assert unreadable.agreement.verdict == "not enough data"
