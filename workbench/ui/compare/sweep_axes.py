"""One axis of a sweep as a person sets it: a parameter and its values, several models of the
configured backends, versions of the current template, or sets of variable values.

Models come from each backend's ``list_models()``, which may ask a server over the network, so a
``ModelCatalog`` lists them off the GUI thread once per backend and both axes share it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.backends.base import CancelToken, ModelInfo
from workbench.core.errors import KnownError
from workbench.core.experiments import TestCase, Variant
from workbench.core.grid import ModelChoice, TemplateChoice
from workbench.core.params import DESCRIPTIONS
from workbench.core.wording import plural
from workbench.services.datasets import load_dataset
from workbench.services.runner import Runner
from workbench.ui.background import Reporter, TaskRunner, TaskWorker
from workbench.ui.compare.sweep_layout import (
    KINDS,
    MODEL,
    PARAMETER,
    SWEEPABLE,
    TEMPLATE,
    VARIABLES,
    Axis,
    model_labels,
)
from workbench.ui.compare.variants import format_value, version_label
from workbench.ui.evaluation.generate_rows import GenerateRowsDialog

NONE = "(none)"
_CHOICE = Qt.ItemDataRole.UserRole
#: Rows a checklist shows before it scrolls.
LIST_ROWS = 4
TIPS = {
    NONE: "Leave a single row or column",
    MODEL: "Run every cell on each checked model",
    TEMPLATE: "Run every cell with each checked version of the template (from the library)",
    VARIABLES: "Run every cell once per set of variable values (a row of values each)",
}


def parse_values(text: str) -> list[Any]:
    """"0, 0.4, 0.8" → [0, 0.4, 0.8]: numbers where they read as numbers."""
    values: list[Any] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        for kind in (int, float):
            try:
                values.append(kind(part))
                break
            except ValueError:
                continue
        else:
            values.append(part)
    return values


class ModelCatalog(QObject):
    """The models of each backend, listed once off the GUI thread; ``updated`` fires as each
    backend answers (with its models, or why it could not list them)."""

    updated = Signal()

    def __init__(self, runner: Runner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.names: list[str] = []
        self.models: dict[str, list[ModelInfo]] = {}
        self.problems: dict[str, str] = {}
        self._asked: set[str] = set()
        self._tasks = TaskRunner(self, max_threads=2)

    def set_backends(self, names: list[str]) -> None:
        self.names = list(dict.fromkeys(names))
        self.updated.emit()

    def pending(self) -> bool:
        return any(n not in self.models and n not in self.problems for n in self.names)

    def list_all(self) -> None:
        """Ask every backend not asked yet for its models."""
        for name in self.names:
            if name in self._asked:
                continue
            self._asked.add(name)
            job: TaskWorker[list[ModelInfo]] = TaskWorker(self._lister(name))
            job.signals.finished.connect(lambda models, n=name: self._listed(n, models))
            job.signals.failed.connect(lambda error, n=name: self._failed(n, error))
            self._tasks.start(job)

    def _lister(self, name: str) -> Callable[[Reporter, CancelToken], list[ModelInfo]]:
        runner = self.runner

        def work(_report: Reporter, _cancel: CancelToken) -> list[ModelInfo]:
            return runner.backend(name).list_models()  # opening it may load a plugin

        return work

    def _listed(self, name: str, models: list[ModelInfo]) -> None:
        self.models[name] = models
        self.updated.emit()

    def _failed(self, name: str, error: KnownError) -> None:
        self.problems[name] = str(error)
        self.updated.emit()

    def shutdown(self, timeout_s: float) -> bool:
        return self._tasks.shutdown(timeout_s)


class _Checklist(QListWidget):
    """Checkable items, each carrying its choice; ``toggled`` when a check changes."""

    toggled = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(name)
        self._fit(1)
        self.itemChanged.connect(lambda _item: self.toggled.emit())

    def _fit(self, count: int) -> None:
        """As tall as its items, up to ``LIST_ROWS`` (then it scrolls)."""
        rows = max(1, min(count, LIST_ROWS))
        row = self.sizeHintForRow(0) if self.count() else self.fontMetrics().height() + 6
        self.setFixedHeight(rows * row + 2 * self.frameWidth() + 2)

    def sizeHint(self) -> QSize:
        # a stacked widget sizes itself from its pages' hints, not their fixed heights
        return QSize(super().sizeHint().width(), self.maximumHeight())

    def fill(self, entries: list[tuple[str, Any, str]]) -> None:
        """``(text, choice, tooltip)`` per item, keeping what was checked (by text)."""
        checked = set(self.checked_texts())
        self.blockSignals(True)
        self.clear()
        for text, choice, tip in entries:
            item = QListWidgetItem(text, self)
            item.setData(_CHOICE, choice)
            item.setToolTip(tip)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if text in checked
                               else Qt.CheckState.Unchecked)
        self.blockSignals(False)
        self._fit(len(entries))

    def set_checked(self, texts: list[str]) -> None:
        for i in range(self.count()):
            item = self.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in texts
                               else Qt.CheckState.Unchecked)

    def checked_texts(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())
                if self.item(i).checkState() == Qt.CheckState.Checked]

    def checked(self) -> list[Any]:
        return [self.item(i).data(_CHOICE) for i in range(self.count())
                if self.item(i).checkState() == Qt.CheckState.Checked]


class VariableSets(QWidget):
    """Sets of variable values, one table row each (a column per template variable); an empty
    cell keeps the base's value."""

    changed = Signal()

    def __init__(self, title: str, parent: QWidget | None = None, *,
                 runner: Runner | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.base_values: dict[str, str] = {}
        self.table = QTableWidget(0, 0, self)
        self.table.setAccessibleName(f"{title} variable sets")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setFixedHeight((self.fontMetrics().height() + 8) * (LIST_ROWS + 1))
        self.table.itemChanged.connect(lambda _item: self.changed.emit())
        self.add_button = QPushButton("Add set", self)
        self.add_button.setToolTip("A new row of values, starting from the editor's")
        self.add_button.clicked.connect(lambda: self.add_set())
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip("Remove the selected sets")
        self.remove_button.clicked.connect(self.remove_selected)
        self.load_button = QPushButton("Load…", self)
        self.load_button.setToolTip("Add the rows of a dataset file (CSV, JSONL, JSON or YAML): "
                                    "their values of these variables")
        self.load_button.clicked.connect(self._choose_file)
        self.generate_button = QPushButton("Generate…", self)
        self.generate_button.setToolTip("Have a model propose sets for these variables (the "
                                        "local model by default); review them before they are "
                                        "added")
        self.generate_button.clicked.connect(self.open_generator)
        self.generate_button.setVisible(runner is not None)
        self.generator: GenerateRowsDialog | None = None
        self.note = QLabel(self)
        self.note.setAccessibleName(f"{title} variable sets note")
        self.note.setWordWrap(True)
        self.note.hide()
        buttons = QVBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.add_button, self.remove_button, self.load_button,
                       self.generate_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.table, 1)
        row.addLayout(buttons)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addLayout(row)
        column.addWidget(self.note)

    def set_variables(self, names: list[str], values: dict[str, str]) -> None:
        """The template's variables as columns (sets typed so far keep their values)."""
        self.base_values = dict(values)
        if names == self.names():
            return
        kept = [{**s.vars} for s in self.sets()]
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        self.table.setColumnCount(len(names))
        self.table.setHorizontalHeaderLabels(names)
        self.table.blockSignals(False)
        for row in kept:
            self.add_set(row)

    def show_sets(self, sets: Sequence[TestCase]) -> None:
        """Show a saved sweep's sets, in place of any typed."""
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        self.table.blockSignals(False)
        for test in sets:
            self.add_set(test.vars)

    def names(self) -> list[str]:
        items = (self.table.horizontalHeaderItem(c) for c in range(self.table.columnCount()))
        return [item.text() if item is not None else "" for item in items]

    def add_set(self, values: dict[str, str] | None = None) -> int:
        """Append a row (the base's values unless given); returns its index."""
        values = self.base_values if values is None else values
        self.table.blockSignals(True)
        row = self.table.rowCount()
        self.table.insertRow(row)
        for c, name in enumerate(self.names()):
            self.table.setItem(row, c, QTableWidgetItem(values.get(name, "")))
        self.table.blockSignals(False)
        self.changed.emit()
        return row

    def load_file(self, path: str | Path) -> None:
        """Append a set per row of the dataset at ``path`` (its values of these variables) and
        say what was read and what was not."""
        try:
            found = load_dataset(path)
        except KnownError as err:
            self._say(str(err))
            return
        names = self.names()
        for test in found.rows:
            self.add_set({k: v for k, v in test.vars.items() if k in names})
        unused = sorted({k for t in found.rows for k in t.vars} - set(names))
        parts = [f"{plural(len(found.rows), 'set')} from {Path(path).name}"]
        if unused:
            parts.append(f"not variables of this template: {', '.join(unused)}")
        if found.problems:
            parts.append(f"{plural(len(found.problems), 'row')} unread ({found.problems[0]})")
        self._say("; ".join(parts))

    def open_generator(self) -> GenerateRowsDialog | None:
        """Generate rows… for these variables; the rows kept are added as sets."""
        if self.runner is None or not self.names():
            return None
        dialog = GenerateRowsDialog(self.runner, self.names(), self.sets(), parent=self)
        dialog.accepted.connect(lambda: self._add_generated(dialog.kept))
        self.generator = dialog
        dialog.open()
        return dialog

    def _add_generated(self, rows: list[TestCase]) -> None:
        for row in rows:
            self.add_set(row.vars)
        self._say(f"{plural(len(rows), 'set')} generated")

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load variable sets", "", "Datasets (*.csv *.jsonl *.json *.yaml *.yml)")
        if path:
            self.load_file(path)

    def _say(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for row in rows:
            self.table.removeRow(row)
        if rows:
            self.changed.emit()

    def sets(self) -> list[TestCase]:
        out = []
        names = self.names()
        for row in range(self.table.rowCount()):
            values = {}
            for c, name in enumerate(names):
                item = self.table.item(row, c)
                if item is not None and item.text():
                    values[name] = item.text()
            out.append(TestCase(vars=values))
        return out


class AxisEditor(QWidget):
    """What one axis sweeps (a parameter, models, template versions or variable sets) and its
    values."""

    changed = Signal()

    def __init__(self, title: str, name: str, values: str, catalog: ModelCatalog,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.versions: list[TemplateChoice] = []
        self.base: Variant | None = None
        # a reopened sweep's models and versions: listed first, in its order, even when the
        # backends or the library no longer offer them (the order of the checked is the sweep's)
        self.saved_models: list[ModelChoice] = []
        self.saved_versions: list[TemplateChoice] = []
        self.param = QComboBox(self)
        self.param.addItems([NONE, *KINDS])
        self.param.insertSeparator(len(KINDS) + 1)
        self.param.addItems(list(SWEEPABLE))
        self.param.setAccessibleName(f"{title} setting")
        self.values = QLineEdit(values, self)
        self.values.setAccessibleName(f"{title} values")
        self.values.setPlaceholderText("values, comma-separated: 0, 0.4, 0.8")
        self.models = _Checklist(f"{title} models", self)
        self.model_note = QLabel(self)
        self.model_note.setWordWrap(True)
        self.template_list = _Checklist(f"{title} template versions", self)
        self.sets = VariableSets(title, self, runner=catalog.runner)
        model_page = QWidget(self)
        model_column = QVBoxLayout(model_page)
        model_column.setContentsMargins(0, 0, 0, 0)
        model_column.setSpacing(2)
        model_column.addWidget(self.models)
        model_column.addWidget(self.model_note)
        self.pages = QStackedWidget(self)
        for page in (self.values, model_page, self.template_list, self.sets):
            self.pages.addWidget(page)
        self._policies = [page.sizePolicy() for page in
                          (self.values, model_page, self.template_list, self.sets)]
        self.param.currentTextChanged.connect(self._kind_changed)
        self.values.textChanged.connect(self.changed)
        self.models.toggled.connect(self.changed)
        self.template_list.toggled.connect(self.changed)
        self.sets.changed.connect(self.changed)
        catalog.updated.connect(self._fill_models)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        label = QLabel(title, self)
        label.setMinimumWidth(label.fontMetrics().horizontalAdvance("Columns") + 8)
        row.addWidget(label, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.param, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.pages, 1)
        self.param.setCurrentText(name)
        self._kind_changed(name)

    @property
    def kind(self) -> str:
        name = self.param.currentText()
        return name if name in (NONE, *KINDS) else PARAMETER

    def set_base(self, base: Variant) -> None:
        """The variant swept: its variables name the set columns, its template may be an edit
        not saved as a version."""
        self.base = base
        names = [v.name for v in base.template.variables] or sorted(base.variables)
        self.sets.set_variables(names, base.variables)
        self._fill_versions()

    def set_template_versions(self, versions: list[TemplateChoice]) -> None:
        """The library's versions of the template (key, number and message each)."""
        self.versions = list(versions)
        self._fill_versions()

    def axis(self) -> Axis | None:
        """The axis as set (``ValueError`` when a parameter's values are missing)."""
        kind = self.kind
        if kind == NONE:
            return None
        if kind == MODEL:
            choices: list[ModelChoice] = self.models.checked()
            labels = model_labels(choices)
            return Axis(MODEL, tuple(c.model_copy(update={"label": label})
                                     for c, label in zip(choices, labels, strict=True)))
        if kind == TEMPLATE:
            return Axis(TEMPLATE, tuple(self.template_list.checked()))
        if kind == VARIABLES:
            return Axis(VARIABLES, tuple(self.sets.sets()))
        return Axis(PARAMETER, tuple(parse_values(self.values.text())), self.param.currentText())

    def show_axis(self, axis: Axis | None) -> None:
        """Show a saved sweep's axis (``sweep_layout.reopen``): its parameter and values, its
        models or versions ticked, or its variable sets."""
        if axis is None or (axis.kind == PARAMETER and axis.name not in SWEEPABLE):
            self.param.setCurrentText(NONE)  # (a setting no axis sweeps: the note says so)
        elif axis.kind == MODEL:
            self.saved_models = list(axis.values)
            self.param.setCurrentText(MODEL)
            self._fill_models()
            self.models.set_checked([_model_text(c) for c in axis.values])
        elif axis.kind == TEMPLATE:
            self.saved_versions = list(axis.values)
            self.param.setCurrentText(TEMPLATE)
            self._fill_versions()
            self.template_list.set_checked(
                [text for text, choice, _tip in self._version_entries()
                 if any(_same_version(choice, c) for c in axis.values)])
        elif axis.kind == VARIABLES:
            self.param.setCurrentText(VARIABLES)
            self.sets.show_sets(axis.values)
        else:
            self.param.setCurrentText(axis.name)
            self.values.setText(", ".join(format_value(v) for v in axis.values))

    def _kind_changed(self, name: str) -> None:
        page = {MODEL: 1, TEMPLATE: 2, VARIABLES: 3}.get(self.kind, 0)
        self.pages.setCurrentIndex(page)
        ignored = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        for i, policy in enumerate(self._policies):  # only the shown page asks for room
            widget = self.pages.widget(i)
            if widget is not None:
                widget.setSizePolicy(policy if i == page else ignored)
        self.pages.adjustSize()
        self.values.setEnabled(self.kind == PARAMETER)  # (none) takes no values
        self.param.setToolTip(DESCRIPTIONS.get(name, TIPS.get(name, "")))
        if self.kind == MODEL:
            self.catalog.list_all()
            self._fill_models()
        self.changed.emit()

    def _fill_models(self) -> None:
        entries: list[tuple[str, Any, str]] = []
        for name in self.catalog.names:
            problem = self.catalog.problems.get(name)
            models = self.catalog.models.get(name, [])
            for info in models:
                choice = ModelChoice(backend=name, model=info.id)
                entries.append((_model_text(choice), choice, info.description))
            if (problem is not None or name in self.catalog.models) and not models:
                tip = f"Cannot list its models: {problem}" if problem else "It lists no models"
                choice = ModelChoice(backend=name)
                entries.append((_model_text(choice), choice, tip))
        self.models.fill(_saved_first(
            [(_model_text(c), c, "In the sweep as saved") for c in self.saved_models], entries))
        self.model_note.setText("Listing models…" if self.catalog.pending() else "")
        self.model_note.setVisible(self.catalog.pending())

    def _fill_versions(self) -> None:
        self.template_list.fill(self._version_entries())

    def _version_entries(self) -> list[tuple[str, Any, str]]:
        entries: list[tuple[str, Any, str]] = []
        for choice in self.versions:
            label = version_label(choice.version or 0, choice.message)
            entries.append((label, choice.model_copy(update={"label": label}),
                            f"{choice.template.name} {label} from the library"))
        base = self.base
        if base is not None and all(c.template != base.template for c in self.versions):
            entries.insert(0, ("edited template", TemplateChoice(
                template=base.template, label="edited template"),
                "The template as it is in the editor, saved or not"))
        saved = []
        for choice in self.saved_versions:  # as the library names it, where it still has it
            entry = next((e for e in entries if _same_version(e[1], choice)), None)
            if entry is None:
                label = ("edited template" if choice.version is None
                         else version_label(choice.version))
                entry = (label, choice.model_copy(update={"label": label}),
                         f"{choice.template.name} {label}, as the sweep ran it")
            saved.append(entry)
        return _saved_first(saved, entries)


def _model_text(choice: ModelChoice) -> str:
    """A model as its checklist item reads: "backend · model"."""
    return f"{choice.backend} · {choice.model or 'default model'}"


def _same_version(a: TemplateChoice, b: TemplateChoice) -> bool:
    return (a.template, a.key, a.version) == (b.template, b.key, b.version)


def _saved_first(saved: list[tuple[str, Any, str]],
                 offered: list[tuple[str, Any, str]]) -> list[tuple[str, Any, str]]:
    """A reopened sweep's entries first (in its order, as offered where they are), then those
    offered besides."""
    by_text = {entry[0]: entry for entry in offered}
    texts = {text for text, _choice, _tip in saved}
    return ([by_text.get(entry[0], entry) for entry in saved]
            + [entry for entry in offered if entry[0] not in texts])
