"""Tools ▸ Backends: add and edit model backends, store their API keys, test them.

Settings go to ``backends.yaml`` through ``backends.config`` (the same code as ``workbench
backends add``); API keys go to the OS keyring through ``backends.credentials`` and never into a
file. Where no keyring exists the dialog says so and names the environment variable to set.
"Test connection" and "List models" run off the GUI thread. Plugins that failed to import are
listed with their error; they never take the dialog down.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.backends import credentials
from workbench.backends.base import Backend, CancelToken, ModelInfo
from workbench.backends.config import BackendConfig, add_config, load_configs, remove_config
from workbench.backends.discovery import FoundServer
from workbench.backends.registry import Registry, default_registry
from workbench.core.errors import KnownError
from workbench.ui import theming
from workbench.ui.background import Reporter, TaskRunner, TaskWorker
from workbench.ui.dialogs.found_servers import FoundServersPanel
from workbench.ui.dialogs.option_fields import OptionsForm
from workbench.ui.local_servers import LocalServers
from workbench.ui.run_text import format_duration, what_to_do


@dataclass
class _Entry:
    name: str
    backend: str
    configured: bool
    saved: bool = True


def _accepts_key(cls: type[Backend]) -> bool:
    return "api_key" in inspect.signature(cls.__init__).parameters


class BackendsDialog(QDialog):
    """A real dialog (settings are edited apart from the work, then saved)."""

    saved = Signal(str)  # a configuration was saved: reopen that backend
    removed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, registry: Registry | None = None,
                 config_file: Path | None = None, servers: LocalServers | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Backends")
        self.registry = registry or default_registry()
        self.config_file = config_file
        self.local_servers = servers if servers is not None else LocalServers(self)
        self.tasks = TaskRunner(self)
        self.entries: list[_Entry] = []
        self.form: OptionsForm | None = None
        self.models: list[ModelInfo] = []
        self._dirty = False
        self._close_armed = False
        self._current = -1
        self._build()
        self._load_entries()
        self.entry_list.setCurrentRow(0)

    # --- construction -----------------------------------------------------------------------

    def _build(self) -> None:
        self.entry_list = QListWidget(self)
        self.entry_list.setAccessibleName("Backends")
        self.entry_list.setToolTip("Installed backends and the instances you configured")
        self.add_button = QToolButton(self)
        self.add_button.setAccessibleName("Add a backend")
        self.add_button.setToolTip("Add a configured backend (another server, another key…)")
        self.remove_button = QToolButton(self)
        self.remove_button.setAccessibleName("Remove the backend")
        self.remove_button.setToolTip(
            "Forget this configuration (a built-in backend goes back to its defaults)"
        )
        self.broken_label = QLabel(self)
        self.broken_label.setAccessibleName("Plugins that failed to load")
        self.broken_label.setWordWrap(True)
        self.broken_label.setTextFormat(Qt.TextFormat.RichText)
        self.broken_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        list_buttons = QHBoxLayout()
        list_buttons.setSpacing(4)
        list_buttons.addWidget(self.add_button)
        list_buttons.addWidget(self.remove_button)
        list_buttons.addStretch(1)
        left = QVBoxLayout()
        left.setSpacing(4)
        left.addWidget(self.entry_list, 1)
        left.addLayout(list_buttons)
        left.addWidget(self.broken_label)
        self.found_panel = FoundServersPanel(self.local_servers, self, self._configs)
        self.found_panel.add_requested.connect(self.add_found)
        left.addWidget(self.found_panel)

        self.title = QLabel(self)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.title.setFont(font)
        self.title.setAccessibleName("Selected backend")
        self.name_edit = QLineEdit(self)
        self.name_edit.setAccessibleName("Name")
        self.name_edit.setToolTip("The name runs and templates use for this backend")
        self.type_combo = QComboBox(self)
        self.type_combo.setAccessibleName("Type")
        self.type_combo.setToolTip("Which kind of backend this is")
        for info in self.registry.infos():
            if info.ok:
                self.type_combo.addItem(info.display_name or info.id, info.id)
        head = QFormLayout()
        head.setHorizontalSpacing(8)
        head.setVerticalSpacing(4)
        head.addRow("Name", self.name_edit)
        head.addRow("Type", self.type_combo)

        self.form_holder = QVBoxLayout()
        self.form_holder.setContentsMargins(0, 0, 0, 0)
        self.key_edit = QLineEdit(self)
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setAccessibleName("API key")
        self.forget_key = QPushButton("Forget key", self)
        self.forget_key.setAccessibleName("Forget the stored API key")
        self.forget_key.setToolTip("Delete the key from the OS keyring")
        self.key_status = QLabel(self)
        self.key_status.setAccessibleName("Where the API key comes from")
        self.key_status.setWordWrap(True)
        key_row = QHBoxLayout()
        key_row.setSpacing(4)
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.forget_key)
        self.key_box = QWidget(self)
        key_layout = QFormLayout(self.key_box)
        key_layout.setContentsMargins(0, 0, 0, 0)
        key_layout.setHorizontalSpacing(8)
        key_layout.addRow("API key", key_row)
        key_layout.addRow("", self.key_status)

        self.test_button = QPushButton("Test connection", self)
        self.test_button.setAccessibleName("Test connection")
        self.test_button.setToolTip("Ask the backend for its models with these settings")
        self.list_button = QPushButton("List models", self)
        self.list_button.setAccessibleName("List models")
        self.list_button.setToolTip("Show the models this backend offers")
        self.result_label = QLabel(self)
        self.result_label.setAccessibleName("Connection test result")
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_list = QListWidget(self)
        self.model_list.setAccessibleName("Models")
        self.model_list.setFont(theming.monospace_font())
        self.model_list.setMaximumHeight(self.model_list.fontMetrics().height() * 6)
        self.model_list.hide()
        probe = QHBoxLayout()
        probe.setSpacing(8)
        probe.addWidget(self.test_button)
        probe.addWidget(self.list_button)
        probe.addStretch(1)

        self.message = QLabel(self)
        self.message.setAccessibleName("Backend settings message")
        self.message.setWordWrap(True)
        self.save_button = QPushButton("Save", self)
        self.save_button.setAccessibleName("Save")
        self.save_button.setToolTip("Save these settings (Ctrl+S)")
        self.save_button.setShortcut("Ctrl+S")
        self.save_button.setDefault(True)
        self.close_button = QPushButton("Close", self)
        self.close_button.setAccessibleName("Close")
        self.close_button.setToolTip("Close the dialog (Esc)")
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.close_button)

        body = QWidget(self)
        right = QVBoxLayout(body)
        right.setContentsMargins(0, 0, 8, 0)
        right.setSpacing(8)
        right.addWidget(self.title)
        right.addLayout(head)
        right.addLayout(self.form_holder)
        right.addWidget(self.key_box)
        right.addLayout(probe)
        right.addWidget(self.result_label)
        right.addWidget(self.model_list)
        right.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)

        columns = QHBoxLayout()
        columns.setSpacing(16)
        columns.addLayout(left, 2)
        columns.addWidget(scroll, 5)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(8)
        layout.addLayout(columns, 1)
        layout.addLayout(bottom)

        self.entry_list.currentRowChanged.connect(self._entry_changed)
        self.add_button.clicked.connect(self.add_entry)
        self.remove_button.clicked.connect(self.remove_entry)
        self.type_combo.currentIndexChanged.connect(self._type_changed)
        self.name_edit.textEdited.connect(self._renamed)
        self.key_edit.textEdited.connect(lambda _t: self._mark_dirty())
        self.forget_key.clicked.connect(self._forget_key)
        self.test_button.clicked.connect(lambda: self._probe(test=True))
        self.list_button.clicked.connect(lambda: self._probe(test=False))
        self.save_button.clicked.connect(self.save)
        self.close_button.clicked.connect(self.reject)
        self.add_button.setIcon(theming.icon("add"))
        self.remove_button.setIcon(theming.icon("remove"))
        self.resize(880, 620)

    # --- entries ------------------------------------------------------------------------------

    def _configs(self) -> dict[str, BackendConfig]:
        return load_configs(self.config_file)

    def _load_entries(self, select: str | None = None) -> None:
        try:
            configs = self._configs()
        except KnownError as err:
            configs = {}
            self._say(str(err), "error")
        self.entries = []
        broken: list[str] = []
        for info in self.registry.infos():
            if info.ok:
                self.entries.append(_Entry(info.id, info.id, info.id in configs))
            else:
                broken.append(f"<b>{escape(info.id)}</b> ({escape(info.target)}): "
                              f"{escape(info.status.removeprefix('broken: '))}")
        for name, config in configs.items():
            if name not in self.registry:
                self.entries.append(_Entry(name, config.backend, True))
        self._fill_list(select)
        if broken:
            color = theming.status_color("error").name()
            self.broken_label.setText(
                f"<b>Plugins that failed to load</b><br><span style='color:{color}'>"
                + "<br>".join(broken) + "</span>"
            )
        self.broken_label.setVisible(bool(broken))

    def _fill_list(self, select: str | None) -> None:
        self.entry_list.blockSignals(True)
        self.entry_list.clear()
        for entry in self.entries:
            item = QListWidgetItem(self._entry_text(entry, entry.name))
            item.setData(Qt.ItemDataRole.UserRole, entry.name)
            item.setToolTip(f"{entry.name} ({entry.backend})")
            self.entry_list.addItem(item)
        self.entry_list.blockSignals(False)
        names = [e.name for e in self.entries]
        self._current = -1
        self.entry_list.setCurrentRow(names.index(select) if select in names else 0)

    def _entry_text(self, entry: _Entry, name: str) -> str:
        display = self.registry.info(entry.backend).display_name or entry.backend
        if name == entry.backend:
            text = display + (" · customised" if entry.configured else "")
        else:
            text = f"{name} · {display}"
        return text if entry.saved else f"{text} · not saved"

    def _renamed(self, name: str) -> None:
        entry, item = self.entry(), self.entry_list.currentItem()
        if entry is not None and item is not None:
            item.setText(self._entry_text(entry, name.strip() or entry.name))
        self._mark_dirty()

    def entry(self) -> _Entry | None:
        return self.entries[self._current] if 0 <= self._current < len(self.entries) else None

    def select(self, name: str) -> None:
        names = [e.name for e in self.entries]
        self.entry_list.setCurrentRow(names.index(name))

    def add_entry(self) -> None:
        if self._dirty and not self.save():
            return
        base, number = "my-server", 1
        names = {e.name for e in self.entries}
        name = base
        while name in names or name in self.registry:
            number += 1
            name = f"{base}-{number}"
        self.entries.append(_Entry(name, "openai_compat", configured=False, saved=False))
        self._fill_list(name)
        self._dirty = True
        self.save_button.setEnabled(True)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def add_found(self, server: FoundServer) -> None:
        """Save a server found on this computer as a configuration, under a free name."""
        if self._dirty and not self.save():
            return
        names = {e.name for e in self.entries}
        name, number = server.suggested_name, 1
        while name in names or name in self.registry:
            number += 1
            name = f"{server.suggested_name}-{number}"
        try:
            add_config(name, server.backend, server.options, registry=self.registry,
                       path=self.config_file)
        except KnownError as err:
            self._say(str(err), "error")
            return
        self._load_entries(name)
        self.found_panel.refresh()
        self.saved.emit(name)
        self._say(f"Added '{name}' for {server.label} at {server.url}.", "ok")

    def remove_entry(self) -> None:
        entry = self.entry()
        if entry is None:
            return
        if entry.configured:
            try:
                remove_config(entry.name, self.config_file)
            except KnownError as err:
                self._say(str(err), "error")
                return
            self.removed.emit(entry.name)
        self._dirty = False
        self._load_entries(entry.name if entry.name in self.registry else None)
        self.found_panel.refresh()
        self._say(f"Removed '{entry.name}'." if entry.name not in self.registry
                  else f"'{entry.name}' is back to its defaults.", "ok")

    def _entry_changed(self, row: int) -> None:
        if row == self._current:
            return
        if self._dirty and 0 <= self._current < len(self.entries) and not self.save():
            self.entry_list.blockSignals(True)
            self.entry_list.setCurrentRow(self._current)
            self.entry_list.blockSignals(False)
            return
        self._current = row
        self._show_entry()

    def _show_entry(self) -> None:
        entry = self.entry()
        if entry is None:
            return
        try:
            config = self._configs().get(entry.name)
        except KnownError:
            config = None
        builtin = entry.name in self.registry
        self.name_edit.setText(entry.name)
        self.name_edit.setReadOnly(builtin)
        self.type_combo.blockSignals(True)
        self.type_combo.setCurrentIndex(max(0, self.type_combo.findData(entry.backend)))
        self.type_combo.blockSignals(False)
        self.type_combo.setEnabled(not builtin)
        self._build_form(entry.backend, config.options if config else {})
        self.result_label.clear()
        self.model_list.clear()
        self.model_list.hide()
        self.remove_button.setEnabled(entry.configured or not entry.saved)
        self._dirty = not entry.saved
        self._close_armed = False
        self.save_button.setEnabled(self._dirty)

    def _type_changed(self) -> None:
        entry = self.entry()
        if entry is None:
            return
        entry.backend = self.type_combo.currentData()
        self._build_form(entry.backend, {})
        self._mark_dirty()

    def _build_form(self, backend_id: str, values: dict[str, Any]) -> None:
        if self.form is not None:
            self.form.setParent(None)
            self.form.deleteLater()
        cls = self.registry.load(backend_id)
        self.title.setText(cls.display_name)
        self.form = OptionsForm(cls.Options, values, self)
        self.form.changed.connect(self._mark_dirty)
        self.form_holder.addWidget(self.form)
        self._show_key_state()

    # --- API key ------------------------------------------------------------------------------

    def _key_ref(self) -> credentials.KeyRef | None:
        if self.form is None or "api_key_name" not in self.form.options_cls.model_fields:
            return None
        values = self.form.values()
        fields = self.form.options_cls.model_fields
        name = values.get("api_key_name") or fields["api_key_name"].get_default()
        env = values.get("api_key_env") or (fields["api_key_env"].get_default()
                                            if "api_key_env" in fields else "")
        return credentials.KeyRef(str(name), str(env))

    def _show_key_state(self) -> None:
        ref = self._key_ref()
        self.key_box.setVisible(ref is not None)
        if ref is None:
            return
        status = credentials.keyring_status()
        self.key_edit.clear()
        self.key_edit.setEnabled(status.available)
        self.key_edit.setToolTip(
            f"Paste a key: Save stores it in the OS keyring as '{credentials.SERVICE}/{ref.name}'"
            if status.available else status.message
        )
        self.key_edit.setPlaceholderText(
            "paste a key to store it in the OS keyring" if status.available
            else "no OS keyring here: use the environment variable"
        )
        found = credentials.resolve(ref)
        self.forget_key.setEnabled(status.available and found is not None
                                   and found.source.startswith("the keyring"))
        if not status.available:
            text = (f"{status.message[:1].upper()}{status.message[1:]}. Set {ref.env} in the "
                    "environment before starting the app." if ref.env else status.message)
            kind: theming.StatusKind = "warning"
        elif found is not None:
            text, kind = f"A key is set: it comes from {found.source}.", "ok"
        else:
            text, kind = f"No key yet: paste one here, or {ref.how_to_set()}.", "muted"
        self.key_status.setText(text)
        color = theming.status_color(kind)
        self.key_status.setStyleSheet(f"color: {color.name()};")

    def _forget_key(self) -> None:
        ref = self._key_ref()
        if ref is None:
            return
        try:
            credentials.delete(ref.name)
        except KnownError as err:
            self._say(str(err), "error")
            return
        self._show_key_state()

    # --- save ---------------------------------------------------------------------------------

    def _mark_dirty(self) -> None:
        self._dirty = True
        self._close_armed = False
        self.save_button.setEnabled(True)

    @property
    def dirty(self) -> bool:
        return self._dirty

    def save(self) -> bool:
        """Validate and save the selected entry (and its key); False, with the reason shown,
        when that is not possible."""
        entry = self.entry()
        if entry is None or self.form is None:
            return False
        name = self.name_edit.text().strip()
        backend_id = self.type_combo.currentData()
        key = self.key_edit.text().strip()
        try:
            config = add_config(name, backend_id, self.form.values(), registry=self.registry,
                                path=self.config_file)
            ref = self._key_ref()
            key_name = str(config.options.get("api_key_name") or (ref.name if ref else ""))
            if key and key_name:
                credentials.store(key_name, key)
            if entry.configured and entry.name != name and entry.name not in self.registry:
                remove_config(entry.name, self.config_file)
        except KnownError as err:
            self._say(str(err), "error")
            return False
        self._dirty = False
        self._load_entries(name)
        self.found_panel.refresh()
        self._say(f"Saved '{name}'. Settings are in backends.yaml; keys never are.", "ok")
        self.saved.emit(name)
        return True

    def reject(self) -> None:
        if self._dirty and not self._close_armed:
            self._close_armed = True
            self._say("Unsaved changes: press Save to keep them, or Close again to discard.",
                      "warning")
            return
        self.tasks.shutdown(2)
        if self.local_servers.parent() is self:  # a search of the dialog's own, not the window's
            self.local_servers.tasks.shutdown(2)
        super().reject()

    # --- test connection / list models --------------------------------------------------------

    def _make_backend(self, backend_id: str, values: dict[str, Any], key: str) -> Backend:
        cls = self.registry.load(backend_id)
        options = self.registry.options(backend_id, values)
        if key and _accepts_key(cls):
            return cls(options, api_key=key)  # type: ignore[call-arg]
        return cls(options)

    def _probe(self, *, test: bool) -> None:
        entry = self.entry()
        if entry is None or self.form is None:
            return
        backend_id = self.type_combo.currentData()
        values, key = self.form.values(), self.key_edit.text().strip()

        def work(report: Reporter, cancel: CancelToken) -> tuple[list[ModelInfo], float]:
            start = time.perf_counter()
            backend = self._make_backend(backend_id, values, key)
            try:
                return backend.list_models(), time.perf_counter() - start
            finally:
                backend.close()

        worker: TaskWorker[tuple[list[ModelInfo], float]] = TaskWorker(work)
        worker.signals.finished.connect(lambda found: self._probed(found, test))
        worker.signals.failed.connect(self._probe_failed)
        self.test_button.setEnabled(False)
        self.list_button.setEnabled(False)
        self.result_label.setText("Contacting the backend…")
        self.tasks.start(worker)

    def _probed(self, found: tuple[list[ModelInfo], float], test: bool) -> None:
        models, seconds = found
        self.models = models
        self._probe_done()
        color = theming.status_color("ok").name()
        count = f"{len(models)} model{'s' if len(models) != 1 else ''}"
        head = "✓ Connected —" if test else "✓"
        self.result_label.setText(
            f"<span style='color:{color}'><b>{head}</b></span> {count} "
            f"in {format_duration(seconds)}"
        )
        self.model_list.clear()
        for model in models:
            window = f"  {model.context_window:,} tokens" if model.context_window else ""
            item = QListWidgetItem(f"{model.id}{window}")
            item.setToolTip(model.description or model.id)
            self.model_list.addItem(item)
        self.model_list.setVisible(bool(models))

    def _probe_failed(self, error: KnownError) -> None:
        self.models = []
        self._probe_done()
        color = theming.status_color("error").name()
        # One fix: the backend's own hint (its settings are right here), else the app's advice.
        fix = error.hint or what_to_do(error.code)
        self.result_label.setText(
            f"<span style='color:{color}'><b>✗ {escape(error.message)}</b></span>"
            f"<br><b>What to do:</b> {escape(fix)}"
        )
        self.result_label.setToolTip(f"Error type: {error.code}")
        self.model_list.hide()

    def _probe_done(self) -> None:
        self.test_button.setEnabled(True)
        self.list_button.setEnabled(True)

    @property
    def probing(self) -> bool:
        return bool(self.tasks.running())

    def _say(self, text: str, kind: theming.StatusKind) -> None:
        self.message.setText(text)
        color = theming.status_color(kind)
        self.message.setStyleSheet(f"color: {color.name()};")
