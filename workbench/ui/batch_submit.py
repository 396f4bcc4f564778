"""Submit as batch: a sweep's or evaluation's cells sent through the provider's batch API
instead of run live.

Next to Run sweep and the suite window's Run again. Enabled when every backend the cells run on
has a batch API here
(``backends.batch``), its tooltip saying on what terms (the provider's discount on the list
price, its completion window); greyed otherwise, the tooltip saying which backend has none.
Submitting saves the experiment like a run does and hands its cells to ``services.batch``; the
job is then followed in the Batch jobs window.
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
from workbench.ui.batch_rows import said

#: Saves the experiment and submits its cells; returns the jobs' ids (run on a pool thread).
Submit = Callable[[ExperimentSpec, CancelToken], list[str]]
#: The experiment as it would be sent now (may read files: called on a pool thread).
SpecSource = Callable[[], ExperimentSpec]


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
            return BatchTerms(f"{name}: {err.message} — {err.hint}")
        except KnownError as err:
            return BatchTerms(f"{name}: {err}")
        terms[provider.name] = (provider.name, provider.discount, provider.completion_window)
    return BatchTerms("", tuple(terms.values()))


class BatchSubmit(QObject):
    """A Submit as batch button and what it asks in the background."""

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
        self._checking: TaskWorker[tuple[ExperimentSpec, BatchTerms]] | None = None
        self._sending = False
        self._say("Not known yet whether these cells can go as a batch")

    def check(self, source: SpecSource | None) -> None:
        """Find out (off the GUI thread) whether the experiment ``source`` makes can go as a
        batch; Submit then sends that experiment."""
        self.spec, self.terms = None, None
        self.button.setEnabled(False)
        if self._checking is not None:
            self._checking.cancel()
            self._checking = None
        if source is None:
            return
        runner = self.runner

        def work(_report: Reporter, _cancel: CancelToken) -> tuple[ExperimentSpec, BatchTerms]:
            spec = source()
            return spec, batch_terms(runner, spec)

        job: TaskWorker[tuple[ExperimentSpec, BatchTerms]] = TaskWorker(work)
        job.signals.finished.connect(lambda found, j=job: self._checked(j, *found))
        job.signals.failed.connect(
            lambda error, j=job: self._checked(j, None, BatchTerms(str(error))))
        self._checking = job
        self._tasks.start(job)

    def _checked(self, job: TaskWorker[tuple[ExperimentSpec, BatchTerms]],
                 spec: ExperimentSpec | None, terms: BatchTerms) -> None:
        if job is not self._checking:
            return
        self._checking, self.spec, self.terms = None, spec, terms
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
        job.signals.failed.connect(
            lambda error: self.failed.emit(f"Not submitted: {said(error)}"))
        job.signals.ended.connect(self._sent)
        self._tasks.start(job)

    def _sent(self) -> None:
        self._sending = False
        self.button.setEnabled(bool(self.terms and self.terms.possible))

    def _say(self, tip: str) -> None:
        self.button.setToolTip(tip)

    def shutdown(self, timeout_s: float) -> bool:
        return self._tasks.shutdown(timeout_s)
