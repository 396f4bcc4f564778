"""The variables form: one field per variable the template uses or declares.

Which variables a template uses is found by parsing every body (``discover``), off the GUI
thread (in the helper process for a big template). A row keeps its editor (and so its text,
cursor and undo history) while the template changes around it; a value typed for a variable
that disappears comes back if the variable does. An empty field means "no value": the
variable's default applies, shown as the placeholder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import KnownError
from workbench.core.models import PromptTemplate
from workbench.ui.background import LatestJob
from workbench.ui.theming import monospace_font, status_color
from workbench.ui.widgets.code_editor import CodeEditor
from workbench.ui.widgets.render_process import discover_variables

#: A value read from a file larger than this is refused (the renderer's output limit is 2M chars).
MAX_FILE_BYTES = 16 * 1024 * 1024
FILE_FILTER = "Text files (*.txt *.md *.csv *.json *.yaml);;All files (*)"
EMPTY_TEXT = "This template has no variables. Write {{ name }} in a message to add one."


@dataclass(frozen=True)
class RowSpec:
    """What a row shows for one variable."""

    name: str
    description: str = ""
    default: str | None = None
    multiline: bool = False
    used: bool = True
    declared: bool = True


def row_specs(template: PromptTemplate, skip_broken: bool = False) -> list[RowSpec]:
    """Declared variables in their order, then the ones used but not declared (by name).

    ``skip_broken``: a body with a syntax error is passed over (see ``templates.discover``).
    """
    found = discover_variables(template, skip_broken=skip_broken)
    used = set(found.used)
    specs = [
        RowSpec(v.name, v.description, v.default, v.multiline, v.name in used, True)
        for v in template.variables
    ]
    specs += [RowSpec(name, used=True, declared=False) for name in found.undeclared]
    return specs


class _Row:
    """The widgets of one variable's row."""

    def __init__(self, form: VariablesForm, spec: RowSpec) -> None:
        self.spec = spec
        self.label = QLabel(spec.name, form)
        self.label.setFont(monospace_font())
        self.label.setContentsMargins(0, 4, 0, 0)  # level with the first line of the field
        self.editor = CodeEditor(
            form, jinja=False, line_numbers=False, min_lines=3 if spec.multiline else 1,
            max_lines=12,
        )
        self.editor.setAccessibleName(f"Value of {spec.name}")
        self.label.setBuddy(self.editor)
        self.file_button = QToolButton(form)
        self.file_button.setText("File…")
        self.file_button.setAccessibleName(f"Load {spec.name} from a file")
        self.file_button.setToolTip(
            f"Load the value of {spec.name} from a text file (UTF-8); it is inserted verbatim."
        )
        self.note = QLabel(form)
        self.note.setWordWrap(True)
        self.note.setAccessibleName(f"Note on {spec.name}")
        self.note.hide()

    def apply(self, spec: RowSpec) -> None:
        self.spec = spec
        if not spec.declared:
            tip = ("Used by the template but not declared (shown in italics), so it has no "
                   "description or default yet; saving declares it.")
        else:
            tip = spec.description or "No description given in the template."
            if not spec.used:
                tip += " Declared, but nothing in the template uses it."
        if spec.default is not None:
            tip += " Leave it empty to use the default."
        self.label.setToolTip(tip)
        self.editor.setToolTip(tip)
        self.label.setEnabled(spec.used)
        # Italics, not a "*", for a variable not declared yet: a first-time user read the star
        # as "required" and wondered where it went once a save had declared the variable.
        self.label.setText(spec.name)
        font = self.label.font()
        font.setItalic(not spec.declared)
        self.label.setFont(font)
        default = spec.default
        if default is not None:
            first = default.splitlines()[0] if default else ""
            shown = first + ("…" if "\n" in default else "")
            self.editor.setPlaceholderText(f"default: {shown}" if shown else "default: (empty)")
        else:
            self.editor.setPlaceholderText("required" if spec.used else "")

    def widgets(self) -> list[QWidget]:
        return [self.label, self.editor, self.file_button, self.note]


class VariablesForm(QWidget):
    """Fields generated from a template's variables; emits ``valuesChanged(dict)``."""

    valuesChanged = Signal(dict)
    #: The rows were rebuilt for a template (tests and the window wait on it).
    rowsChanged = Signal()
    #: The person left a required field empty (focus moved on): now it may be called missing.
    leftEmpty = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: dict[str, _Row] = {}
        self._order: list[str] = []
        self._values: dict[str, str] = {}  # every value typed, also for variables gone for now
        # No rows shown yet for the open document: a syntax error must not keep another's rows.
        self._fresh = True
        self._job = LatestJob(self._show_specs, self._discovery_failed, self)
        self.empty = QLabel(EMPTY_TEXT, self)
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)
        self.empty.setAccessibleName("No variables")
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(8)
        self._grid.setVerticalSpacing(4)
        self._grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.empty)
        layout.addLayout(self._grid)
        layout.addStretch(1)

    # --- the template ---------------------------------------------------------------------

    def new_document(self) -> None:
        """Another document comes next: until its rows are shown, a syntax error in it shows
        the variables of the bodies that parse, never the rows of the document before."""
        self._fresh = True

    def set_template(self, template: PromptTemplate) -> None:
        """Find the template's variables (off the GUI thread) and show a row for each."""
        self._job.submit(row_specs, template, self._fresh)

    def _discovery_failed(self, _error: KnownError) -> None:
        """A body does not parse while it is being edited: keep the rows as they are (the
        editor marks the error); a document just opened has none of its own to keep."""
        if self._fresh:
            self._show_specs([])

    def _show_specs(self, specs: list[RowSpec]) -> None:
        self._fresh = False
        before = self.values()
        names = [s.name for s in specs]
        for name in [n for n in self._rows if n not in names]:
            gone = self._rows.pop(name)
            for widget in gone.widgets():
                self._grid.removeWidget(widget)
                widget.deleteLater()
        for spec in specs:
            row = self._rows.get(spec.name)
            if row is None:
                row = self._rows[spec.name] = self._new_row(spec)
            row.apply(spec)
        if names != self._order:
            self._lay_out(names)
        self.empty.setVisible(not specs)
        self.rowsChanged.emit()
        if self.values() != before:
            self.valuesChanged.emit(self.values())

    def _new_row(self, spec: RowSpec) -> _Row:
        row = _Row(self, spec)
        if spec.name in self._values:
            row.editor.setPlainText(self._values[spec.name])
        row.editor.textChanged.connect(lambda n=spec.name: self._edited(n))
        row.editor.installEventFilter(self)
        row.file_button.clicked.connect(lambda _=False, n=spec.name: self.choose_file(n))
        return row

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusOut:
            for name, row in self._rows.items():
                required = row.spec.used and row.spec.default is None
                if row.editor is watched and required and not row.editor.toPlainText():
                    self.leftEmpty.emit(name)
        return super().eventFilter(watched, event)

    def _lay_out(self, names: list[str]) -> None:
        for row in self._rows.values():
            for widget in row.widgets():
                self._grid.removeWidget(widget)
        previous: QWidget | None = None
        for i, name in enumerate(names):
            row = self._rows[name]
            top = Qt.AlignmentFlag.AlignTop
            self._grid.addWidget(row.label, 2 * i, 0, top)
            self._grid.addWidget(row.editor, 2 * i, 1)
            self._grid.addWidget(row.file_button, 2 * i, 2, top)
            self._grid.addWidget(row.note, 2 * i + 1, 1, 1, 2)
            for widget in (row.label, row.editor, row.file_button):
                widget.show()  # at once: a layout shows new children only on the next loop turn
            for widget in (row.editor, row.file_button):
                if previous is not None:
                    QWidget.setTabOrder(previous, widget)
                previous = widget
        self._order = names

    # --- values -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The variables shown, in order."""
        return list(self._order)

    def editor(self, name: str) -> CodeEditor:
        return self._rows[name].editor

    def note(self, name: str) -> str:
        row = self._rows[name]
        return row.note.text() if not row.note.isHidden() else ""

    def values(self) -> dict[str, str]:
        """Values of the variables shown; an empty field is left out (its default applies)."""
        return {n: self._values[n] for n in self._order if self._values.get(n)}

    def set_values(self, values: dict[str, str]) -> None:
        """Fill fields (e.g. when a past run is restored); values for absent variables are kept."""
        self._values.update(values)
        for name, value in values.items():
            row = self._rows.get(name)
            if row is not None and row.editor.toPlainText() != value:
                row.editor.setPlainText(value)
        self.valuesChanged.emit(self.values())

    def _edited(self, name: str) -> None:
        row = self._rows.get(name)
        if row is None:
            return
        self._values[name] = row.editor.toPlainText()
        if not self._values[name]:
            self._set_note(row, "", error=False)
        self.valuesChanged.emit(self.values())

    # --- files -------------------------------------------------------------------------------

    def choose_file(self, name: str) -> None:
        """Ask for a file and load it as the value of ``name``."""
        path, _ = QFileDialog.getOpenFileName(
            self, f"Load the value of {name}", "", FILE_FILTER
        )
        if path:
            self.load_file(name, Path(path))

    def load_file(self, name: str, path: Path) -> bool:
        """Read ``path`` as UTF-8 into the field of ``name``; a problem is shown in the row."""
        row = self._rows[name]
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ValueError(
                    f"{path.name} is {size / 1_048_576:.1f} MB; a value can be at most "
                    f"{MAX_FILE_BYTES // 1_048_576} MB"
                )
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            self._set_note(row, f"{path.name} is not UTF-8 text; nothing was loaded.", error=True)
            return False
        except (OSError, ValueError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            self._set_note(row, f"Cannot load {path.name}: {reason}.", error=True)
            return False
        cursor = QTextCursor(row.editor.document())  # one edit Ctrl+Z takes back
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)  # emits valuesChanged through _edited
        self._set_note(row, f"Loaded from {path.name} · {len(text):,} characters", error=False)
        return True

    def _set_note(self, row: _Row, text: str, *, error: bool) -> None:
        row.note.setText(text)
        row.note.setVisible(bool(text))
        palette = row.note.palette()
        color = status_color("error") if error else self.palette().placeholderText().color()
        palette.setColor(palette.ColorRole.WindowText, color)
        row.note.setPalette(palette)

