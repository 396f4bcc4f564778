"""Submit as batch: a sweep's cells sent through the provider's batch API instead of run live.

Next to Run sweep. Enabled when every backend the sweep runs on has a batch API here
(``backends.batch``), its tooltip saying on what terms (the provider's discount on the list
price, its completion window); greyed otherwise, the tooltip saying which backend has none.
Submitting saves the sweep like Run does and hands its cells to ``services.batch``; the job is
then followed in the Batch jobs window, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QPushButton, QWidget

from workbench.backends.base import CancelToken
from workbench.backends.batch import BatchUnsupported, batch_provider
from workbench.core.errors import KnownError
from workbench.core.experiments import ExperimentSpec
from workbench.services.runner import Runner
from workbench.ui.background import Reporter, TaskRunner, TaskWorker

#: Saves the sweep and submits its cells; returns the jobs' ids (run on a pool thread).
Submit = Callable[[ExperimentSpec, CancelToken], list[str]]


@dataclass(frozen=True)
class BatchTerms:
    """Whether a sweep can go as a batch, and on what terms (one entry per provider)."""

    reason: str  # empty when it can
    terms: tuple[tuple[str, float, str], ...] = ()  # provider, discount, completion window

    @property
    def possible(self) -> bool:
        return not self.reason


def batch_terms(runner: Runner, spec: ExperimentSpec) -> BatchTerms:
    """Whether every backend of ``spec`` has a batch API (opening them, so off the GUI thread)."""
    terms: dict[str, tuple[str, float, str]] = {}
    for name in dict.fromkeys(v.backend for v in spec.variants):
        try:
            provider = batch_provider(runner.backend(name))
        except BatchUnsupported as err:
            return BatchTerms(f"{name}: {err.message}")
        except KnownError as err:
            return BatchTerms(f"{name}: {err}")
        terms[provider.name] = (provider.name, provider.discount, provider.completion_window)
    return BatchTerms("", tuple(terms.values()))


class BatchSubmit(QObject):
    """The Submit as batch button of a sweep view and what it asks in the background."""

    submitted = Signal(list)  # the jobs' ids
    failed = Signal(str)  # what went wrong, to show where the estimate is

    def __init__(self, runner: Runner, submit: Submit, parent: QWidget) -> None:
        super().__init__(parent)
        self.runner = runner
        self._submit = submit
        self.button = QPushButton("Submit as batch", parent)
        self.button.setEnabled(False)
        self.button.clicked.connect(self.submit)
        self.terms: BatchTerms | None = None
        self.spec: ExperimentSpec | None = None
        self._tasks = TaskRunner(self, max_threads=1)
        self._checking: TaskWorker[BatchTerms] | None = None
        self._sending = False
        self._say("Set the sweep first: the estimate says whether it can go as a batch")

    def check(self, spec: ExperimentSpec | None) -> None:
        """Find out (off the GUI thread) whether ``spec`` can go as a batch."""
        self.spec, self.terms = spec, None
        self.button.setEnabled(False)
        if self._checking is not None:
            self._checking.cancel()
            self._checking = None
        if spec is None:
            return
        runner = self.runner

        def work(_report: Reporter, _cancel: CancelToken) -> BatchTerms:
            return batch_terms(runner, spec)

        job: TaskWorker[BatchTerms] = TaskWorker(work)
        job.signals.finished.connect(lambda terms, j=job: self._checked(j, terms))
        self._checking = job
        self._tasks.start(job)

    def _checked(self, job: TaskWorker[BatchTerms], terms: BatchTerms) -> None:
        if job is not self._checking:
            return
        self._checking, self.terms = None, terms
        if not terms.possible:
            self._say(f"Not available: {terms.reason}")
        else:
            said = "; ".join(f"{p}: {d:.0%} of list price, within {w}"
                             for p, d, w in terms.terms)
            self._say(f"Send the cells not done through the provider's batch API ({said}); "
                      "follow the job in Tools ▸ Batch jobs")
        self.button.setEnabled(terms.possible and not self._sending)

    def submit(self) -> None:
        spec, send = self.spec, self._submit
        if spec is None or self._sending or not (self.terms and self.terms.possible):
            return
        self._sending = True
        self.button.setEnabled(False)
        job: TaskWorker[list[str]] = TaskWorker(lambda _report, cancel: send(spec, cancel))
        job.signals.finished.connect(self.submitted.emit)
        job.signals.failed.connect(lambda error: self.failed.emit(f"Not submitted: {error}"))
        job.signals.ended.connect(self._sent)
        self._tasks.start(job)

    def _sent(self) -> None:
        self._sending = False
        self.button.setEnabled(bool(self.terms and self.terms.possible))

    def _say(self, tip: str) -> None:
        self.button.setToolTip(tip)

    def shutdown(self, timeout_s: float) -> bool:
        return self._tasks.shutdown(timeout_s)
