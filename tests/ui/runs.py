"""Helpers shared by the UI tests: requests, scripted backends, a recorder of run signals,
and screenshots into test-artifacts/."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from tests.conftest import ARTIFACTS
from workbench.backends.base import Backend, CancelToken, ModelInfo, Started, StreamEvent, TextDelta
from workbench.backends.scripted import ScriptedBackend, ScriptedOptions, Step
from workbench.core.models import Params, RenderedMessage, RunRequest, SentRequest
from workbench.core.params import Capabilities
from workbench.ui.workers import ChunkBatch, RunWorker

REQUEST = RunRequest(
    backend="scripted",
    messages=[RenderedMessage(role="user", content="Say hello")],
    params=Params(temperature=0.3),
)


def scripted(*steps: Step, **options: object) -> ScriptedBackend:
    return ScriptedBackend(ScriptedOptions(script=list(steps), **options))  # type: ignore[arg-type]


def chunks(count: int, size: int = 4) -> list[Step]:
    """``count`` text steps of ``size`` characters each, no delay: a model at full speed."""
    return [Step(text=f"{i % 10}" * (size - 1) + " ") for i in range(count)]


class Recorder:
    """Everything a worker's signals delivered, and the thread each arrived in."""

    def __init__(self, worker: RunWorker) -> None:
        self.events: list[tuple[str, object]] = []
        self.threads: set[int] = set()
        signals = worker.signals
        for name in ("started", "chunk", "usage", "finished", "failed", "cancelled", "ended"):
            getattr(signals, name).connect(lambda payload, n=name: self._record(n, payload))

    def _record(self, name: str, payload: object) -> None:
        self.threads.add(threading.get_ident())
        self.events.append((name, payload))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def text(self) -> str:
        return "".join(p.text for n, p in self.events if n == "chunk" and isinstance(p, ChunkBatch))

    def terminals(self) -> list[str]:
        return [n for n in self.names() if n in ("finished", "failed", "cancelled")]


class Endless(Backend):
    """A backend that never looks at its cancel token (a badly written plugin): only the worker's
    own check between chunks can stop it."""

    id = "endless"
    display_name = "Endless"
    user_visible = False

    def __init__(self) -> None:
        super().__init__()
        self.closed = threading.Event()

    def capabilities(self) -> Capabilities:
        return Capabilities()

    def list_models(self) -> list[ModelInfo]:
        return []

    def stream(self, request: RunRequest, cancel: CancelToken) -> Iterator[StreamEvent]:
        sent = SentRequest(backend=self.id, model="endless", messages=request.messages)
        yield Started(request=sent)
        try:
            while True:
                yield TextDelta(text="x")
        finally:
            self.closed.set()


class Raising(Backend):
    """A backend with a bug: it raises instead of yielding ``Failed``."""

    id = "raising"
    display_name = "Raising"
    user_visible = False

    def capabilities(self) -> Capabilities:
        return Capabilities()

    def list_models(self) -> list[ModelInfo]:
        return []

    def stream(self, request: RunRequest, cancel: CancelToken) -> Iterator[StreamEvent]:
        yield TextDelta(text="part")
        raise ZeroDivisionError("division by zero")


def screenshot(widget: QWidget, name: str) -> Path:
    """Save ``widget`` as test-artifacts/<name>.png for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    QApplication.processEvents()  # pending layout requests, as the next event-loop turn would
    assert widget.grab().save(str(path)), f"could not write {path}"
    return path
