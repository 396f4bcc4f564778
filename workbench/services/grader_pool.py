"""The judges of one evaluation: its own, and one per grader an assertion names.

promptfoo lets ``options.provider`` (a test's or defaultTest's) and an assertion's ``provider``
choose who grades; the import maps those to a workbench backend (``AssertionSpec.provider``,
``NAME[:MODEL]``, see ``services.promptfoo_backends``) and this pool opens a ``Judge`` on it the
first time it is asked, sharing the runner (limits, pricing, storage). Without an evaluation
judge, an assertion that names none gets the usual "no judge chosen" error: nothing defaults
to some cloud service.
"""

from __future__ import annotations

import threading

from workbench.core.assertions.delegated import NO_JUDGE
from workbench.core.evaluation import Check, EvaluationError
from workbench.services.judges import Judge
from workbench.services.runner import Runner


class JudgePool:
    """A ``core.evaluation.Grader`` (the default judge) that is also a ``GraderChoice``."""

    def __init__(self, runner: Runner, default: Judge | None = None) -> None:
        self.runner = runner
        self.default = default
        self._judges: dict[str, Judge] = {}
        self._lock = threading.Lock()

    def choose(self, provider: str) -> Judge:
        """The judge on ``provider`` (``NAME`` or ``NAME:MODEL``), opened once."""
        with self._lock:
            judge = self._judges.get(provider)
            if judge is None:
                backend, _, model = provider.partition(":")
                params = self.default.params if self.default is not None else None
                judge = Judge(self.runner, backend=backend, model=model, params=params)
                self._judges[provider] = judge
            return judge

    def _judge(self) -> Judge:
        if self.default is None:
            raise EvaluationError(NO_JUDGE, hint="choose a judge backend")
        return self.default

    def rubric(self, output: str, rubric: str, *, input: str, reference: str | None) -> Check:
        return self._judge().rubric(output, rubric, input=input, reference=reference)

    def factuality(self, output: str, reference: str, *, question: str) -> Check:
        return self._judge().factuality(output, reference, question=question)

    def closedqa(self, output: str, criteria: str, *, question: str) -> Check:
        return self._judge().closedqa(output, criteria, question=question)
