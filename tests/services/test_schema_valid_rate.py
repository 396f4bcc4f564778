"""The schema-valid rate: every output of a template with an ``output_schema`` is checked against
it in an evaluation (a scorecard row beside the assertions), on the real embedded model."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.assertions.structured import SCHEMA_VALID, schema_valid
from workbench.core.evaluation import EvaluationError
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate
from workbench.services.evaluation import Evaluation
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 30},
                   "country": {"type": "string", "maxLength": 30},
                   "population_millions": {"type": "string", "pattern": "^[0-9]{1,4}$"}},
    "required": ["city", "country", "population_millions"],
    "additionalProperties": False,
}


def test_schema_valid_names_each_violation_at_its_json_path() -> None:
    ok = schema_valid('{"city": "Oslo", "country": "Norway", "population_millions": "1"}', SCHEMA)
    assert ok.passed
    bad = schema_valid('{"city": 3, "country": "Norway"}', SCHEMA)
    assert bad.passed is False
    assert "$.city: 3 is not of type 'string'" in bad.details["problems"]
    assert any("population_millions" in p for p in bad.details["problems"])
    assert schema_valid("Oslo is in Norway.", SCHEMA).passed is False
    with pytest.raises(EvaluationError):
        schema_valid("{}", {"type": "no-such-type"})


@pytest.mark.slow
def test_the_grammar_variant_is_schema_valid_every_time_and_the_prompt_only_one_is_not(
    tmp_path: Path,
) -> None:
    template = PromptTemplate(
        name="city", output_schema=SCHEMA,
        messages=[Message(role="user", content="Tell me about {{ city }} as JSON with the keys "
                                               "city, country and population_millions.")])
    params = Params(max_tokens=80, temperature=0.7, seed=3)
    spec = ExperimentSpec(
        name="schema-valid",
        variants=[
            Variant(label="prompt only", template=template, params=params),
            Variant(label="grammar", params=params,
                    template=template.model_copy(update={"response_format": "json_schema"})),
        ],
        tests=[TestCase(vars={"city": c}) for c in ("Oslo", "Lima", "Cairo")],
        default_assertions=[AssertionSpec(type="icontains", value="o")],
    )
    with Store.open(tmp_path / "eval.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer)
        try:
            card = Evaluation.create(store, spec, runner).run()
        finally:
            runner.close()
    prompt_only, grammar = (v.assertions[SCHEMA_VALID].cases for v in card.variants)
    assert grammar.total == 3 and grammar.rate == 1.0
    assert prompt_only.total == 3 and prompt_only.rate is not None and prompt_only.rate < 1.0
    # The check is a figure beside the assertions: it does not decide a case.
    assert all(v.overall.cases.total == 3 for v in card.variants)
    assert card.assertion_labels() == ["icontains", SCHEMA_VALID]
