"""Why an evaluation's cells errored, as the scorecard reports it: each distinct reason with the
number of cells it stopped, most frequent first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.backends.config import BackendConfig
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, PromptTemplate
from workbench.services.eval_reports import error_reasons
from workbench.services.evaluation import Evaluation
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

TRANSLATE = PromptTemplate(
    name="translate", messages=[Message(role="user", content="Translate {{ text }}")]
)
CONFIGS = {
    "up": BackendConfig(name="up", backend="scripted", options={"script": [{"text": "hola"}]}),
    "down": BackendConfig(
        name="down",
        backend="scripted",
        options={"script": [{"error": "connection refused", "error_kind": "ConnectError"}]},
    ),
}


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[Store, Runner]]:
    with Store.open(tmp_path / "eval.db") as store, StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=CONFIGS)
        yield store, runner
        runner.close()


def test_error_reasons_count_each_distinct_reason(runner: tuple[Store, Runner]) -> None:
    store, run = runner
    spec = ExperimentSpec(
        name="mixed",
        variants=[
            Variant(label="up", template=TRANSLATE, backend="up"),
            Variant(label="down", template=TRANSLATE, backend="down"),
        ],
        # the third row lacks 'text': the template cannot render it on either backend
        tests=[TestCase(vars={"text": "a"}), TestCase(vars={"text": "b"}), TestCase(vars={})],
        default_assertions=[AssertionSpec(type="icontains", value="hola")],
    )
    evaluation = Evaluation.create(store, spec, run)
    card = evaluation.run()
    reasons = error_reasons(evaluation, card)
    assert sum(count for _reason, count in reasons) == 4  # 2 refused + 2 unrenderable
    assert [count for _reason, count in reasons] == [2, 2]
    refused = [reason for reason, _count in reasons if "connection refused" in reason]
    assert len(refused) == 1
    assert any("text" in reason for reason, _count in reasons if reason not in refused)
