"""The Backends dialog's "On this computer" panel: servers found by the local search, each with
an *Add* button (or "Added as NAME" once a configuration points at it, so it is not added twice), a
*Search* (then *Search again*) button, and the switch for the search at start."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.backends.config import BackendConfig, load_configs
from workbench.backends.discovery import Discovery, FoundServer
from workbench.core.errors import KnownError
from workbench.ui.local_servers import LocalServers, search_at_start, set_search_at_start


def describe(server: FoundServer) -> str:
    """One server as rich text: its name and address, then a line per model."""
    lines = [f"<b>{escape(server.label)}</b> · {escape(server.url)}"]
    for model in server.models[:8]:
        extra = [f"context {model.context_window:,}"] if model.context_window else []
        extra += list(model.capabilities)
        suffix = f" <span>({escape(', '.join(extra))})</span>" if extra else ""
        lines.append(f"&nbsp;&nbsp;{escape(model.id)}{suffix}")
    if len(server.models) > 8:
        lines.append(f"&nbsp;&nbsp;… and {len(server.models) - 8} more")
    if not server.models:
        lines.append("&nbsp;&nbsp;no models")
    return "<br>".join(lines)


class FoundServersPanel(QWidget):
    add_requested = Signal(object)  # FoundServer

    def __init__(
        self,
        servers: LocalServers,
        parent: QWidget | None = None,
        configs: Callable[[], Mapping[str, BackendConfig]] = load_configs,
    ) -> None:
        super().__init__(parent)
        self.servers = servers
        self.configs = configs
        title = QLabel("<b>On this computer</b>", self)
        self.status = QLabel(self)
        self.status.setAccessibleName("Local server search")
        self.status.setWordWrap(True)
        self.search_button = QPushButton("Search", self)
        self.search_button.setAccessibleName("Search for local servers")
        self.search_button.setToolTip(
            "Look for Ollama, LM Studio, llama.cpp, vLLM… on this computer (loopback only)"
        )
        self.at_start = QCheckBox("Look for local servers when the app starts", self)
        self.at_start.setChecked(search_at_start())
        self.at_start.toggled.connect(set_search_at_start)
        self.rows = QGridLayout()
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.setHorizontalSpacing(8)
        head = QHBoxLayout()
        head.addWidget(title, 1)
        head.addWidget(self.search_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addLayout(self.rows)
        layout.addWidget(self.status)
        layout.addWidget(self.at_start)
        self.add_buttons: list[QPushButton] = []
        self.search_button.clicked.connect(lambda: self.servers.search())
        servers.found.connect(self.show_result)
        servers.searching.connect(self._searching)
        if servers.latest is not None:
            self.show_result(servers.latest)
        else:
            self.status.setText("Not searched yet.")

    def _searching(self, busy: bool) -> None:
        self.search_button.setEnabled(not busy)
        if busy:
            self.status.setText("Searching…")

    def refresh(self) -> None:
        """Show the latest result again (after a configuration was added or removed)."""
        if self.servers.latest is not None:
            self.show_result(self.servers.latest)

    def _saved(self) -> Mapping[str, BackendConfig]:
        try:
            return self.configs()
        except KnownError:
            return {}

    def show_result(self, result: Discovery) -> None:
        while self.rows.count():
            item = self.rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.add_buttons = []
        self.search_button.setText("Search again")
        saved = self._saved()
        for row, server in enumerate(result.servers):
            label = QLabel(describe(server), self)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            name = server.configured_as(saved)
            button = QPushButton("Add" if name is None else f"Added as {name}", self)
            button.setAccessibleName(f"Add {server.label}")
            if name is None:
                button.setToolTip(
                    f"Save '{server.suggested_name}' ({server.backend}) for {server.url}"
                )
                button.clicked.connect(lambda _=False, s=server: self.add_requested.emit(s))
            else:
                button.setEnabled(False)
                button.setToolTip(f"The configuration '{name}' already points at {server.url}")
            self.rows.addWidget(label, row, 0)
            self.rows.addWidget(button, row, 1, Qt.AlignmentFlag.AlignTop)
            self.add_buttons.append(button)
        took = f"{result.elapsed_s * 1000:.0f} ms"
        if result.servers:
            self.status.setText(f"Found {len(result.servers)} ({took}).")
        else:
            self.status.setText(f"No model server is running on this computer ({took}).")
