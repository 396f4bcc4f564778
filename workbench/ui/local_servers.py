"""Model servers running on this computer, looked for at start and from the Backends dialog.

The search (``backends.discovery``: loopback only, parallel probes under one deadline) runs in a
``TaskRunner`` thread, never on the GUI thread, and starts only after the window is shown, so it
cannot delay it. One :class:`LocalServers` per main window keeps the latest result for the
Backends dialog, which shows it with an *Add* button per server. The start-up search can be
turned off (the ``discoverLocalServers`` preference, a checkbox in the dialog).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from workbench.backends.base import CancelToken
from workbench.backends.config import BackendConfig, load_configs
from workbench.backends.discovery import Discovery, FoundServer, discover
from workbench.core.errors import KnownError
from workbench.ui.background import Reporter, TaskRunner, TaskWorker
from workbench.ui.window_support import window_settings

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow

PREFERENCE = "discoverLocalServers"
#: At start a closed port answers in well under a millisecond; a live server's model list
#: (Ollama's /api/show per model) may take longer than this, and is then asked again on demand.
STARTUP_BUDGET_S = 0.5
ON_DEMAND_BUDGET_S = 2.0


def search_at_start() -> bool:
    return str(window_settings().value(PREFERENCE, "true")).lower() == "true"


def set_search_at_start(enabled: bool) -> None:
    window_settings().setValue(PREFERENCE, "true" if enabled else "false")


class LocalServers(QObject):
    """The latest search's result; ``found`` is emitted (on the GUI thread) after each search."""

    found = Signal(object)  # Discovery
    searching = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, ports: list[int] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("localServers")
        self.ports = ports  # None: the servers' default ports
        self.latest: Discovery | None = None
        self.tasks = TaskRunner(self, max_threads=1)

    def search(self, budget_s: float = ON_DEMAND_BUDGET_S) -> TaskWorker[Discovery]:
        def work(_report: Reporter, _cancel: CancelToken) -> Discovery:
            return discover(self.ports, budget_s=budget_s)

        worker: TaskWorker[Discovery] = TaskWorker(work)
        worker.signals.finished.connect(self._finished)
        worker.signals.ended.connect(lambda: self.searching.emit(False))
        self.searching.emit(True)
        return self.tasks.start(worker)

    def busy(self) -> bool:
        return bool(self.tasks.running())

    def _finished(self, result: Discovery) -> None:
        self.latest = result
        self.found.emit(result)


def local_servers(window: MainWindow) -> LocalServers:
    """The window's holder (made on first use; no search is started here)."""
    holder = window.findChild(LocalServers, "localServers")
    if holder is None:
        holder = LocalServers(window)
    return holder


def start_at_launch(window: MainWindow, ports: list[int] | None = None) -> LocalServers | None:
    """Search in the background once the window is up (unless turned off); servers found that
    no configuration points at yet are announced in the status bar."""
    if not search_at_start():
        return None
    holder = local_servers(window)
    holder.ports = ports

    def announce(result: Discovery) -> None:
        new = [s for s in result.servers if not configured(s)]
        if new:
            names = ", ".join(f"{s.label} ({s.url})" for s in new[:3])
            window.statusBar().showMessage(
                f"Found on this computer: {names}. Add it in Tools ▸ Backends.", 15_000
            )

    holder.found.connect(announce)
    holder.search(STARTUP_BUDGET_S)
    return holder


def configured(server: FoundServer, configs: dict[str, BackendConfig] | None = None) -> bool:
    """Whether a saved configuration already points at this server's base URL."""
    try:
        saved = load_configs() if configs is None else configs
    except KnownError:
        return False
    return server.configured_as(saved) is not None
