"""The promptfoo corpus: every example config in tests/fixtures/promptfoo (copied from promptfoo's
repository) and ../shared/fixtures/promptfoo, imported and run on a fixed-answer backend. Each
gives promptfoo's cell count (prompts × providers × tests) and the verdict per cell written, with
the reason, in the ``expected.yaml`` beside it; what cannot be imported is reported on its line
and the rest still runs (a config with nothing left to run is refused, its lines said)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench.backends.config import BackendConfig
from workbench.core import safe_yaml
from workbench.services.evaluation import Evaluation
from workbench.services.promptfoo_backends import choose_backends
from workbench.services.runner import Runner
from workbench.services.suites import JudgeChoice, SuiteError, load_suite, suite_tools
from workbench.storage.formats import import_file
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

FIXTURES = Path(__file__).parent.parent / "fixtures" / "promptfoo"
OWN = sorted(p.parent.name for p in FIXTURES.glob("*/expected.yaml"))
SHARED = sorted(p.stem for p in (FIXTURES / "shared").glob("*.yaml"))


def expectation(name: str, fixtures_dir: Path | None) -> tuple[Path, dict[str, Any]]:
    if name.startswith("shared/"):
        assert fixtures_dir is not None
        data = safe_yaml.load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))
        return fixtures_dir / "promptfoo" / data["config"], data
    data = safe_yaml.load((FIXTURES / name / "expected.yaml").read_text(encoding="utf-8"))
    return FIXTURES / name / "promptfooconfig.yaml", data


@pytest.fixture
def shared(request: pytest.FixtureRequest) -> Path | None:
    name = request.node.callspec.params["name"]
    return request.getfixturevalue("fixtures_dir") if name.startswith("shared/") else None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "corpus.db") as store:
        yield store


def reported(config: Path) -> list[str]:
    """Every problem of the import, as ``file:line: message`` (no backend configured)."""
    result = import_file(config, "promptfoo")
    choose_backends(result, {})
    return [str(p) for p in result.problems]


@pytest.mark.parametrize("name", [*OWN, *(f"shared/{n}" for n in SHARED)])
def test_promptfoo_example_runs_with_promptfoos_cells_and_verdicts(
    name: str, shared: Path | None, store: Store
) -> None:
    config, expected = expectation(name, shared)
    problems = reported(config)
    for wanted in expected.get("problems", []):
        assert any(p.startswith(wanted) for p in problems), (wanted, problems)
    if expected.get("refused"):
        with pytest.raises(SuiteError, match="code or a program to run"):
            load_suite(config)
        return
    suite = load_suite(config)
    # Every prompt × provider cell on the fixed-answer backend, none merged (promptfoo's count).
    spec = suite.spec.model_copy(update={"variants": [
        v.model_copy(update={"backend": "fixed", "model": ""}) for v in suite.spec.variants]})
    assert len(spec.variants) * len(spec.tests) * spec.repeats == expected["cells"]
    configs = {"fixed": BackendConfig(name="fixed", backend="scripted",
                                      options={"script": [{"text": expected["answer"]}]})}
    judge = suite.judge
    if "grader" in expected:
        configs["judge"] = BackendConfig(name="judge", backend="scripted",
                                         options={"script": [{"text": expected["grader"]}]})
        judge = JudgeChoice(backend="judge")
    with StoreWriter(store) as writer:
        runner = Runner(writer=writer, configs=configs)
        tools = suite_tools(spec, runner, judge)
        try:
            card = Evaluation.create(store, spec, runner, **tools).run()  # type: ignore[arg-type]
        finally:
            for tool in tools.values():
                getattr(tool, "close", lambda: None)()
            runner.close()
    assert len(card.cells) == expected["cells"]
    got = [[card.cells[(v, t, 0)].status for v in range(len(spec.variants))]
           for t in range(len(spec.tests))]
    assert got == expected["verdicts"]
