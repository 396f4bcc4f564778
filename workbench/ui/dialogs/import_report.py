"""What an import did: where each template, experiment and preset went, and every problem with
its file and line.

It is shown beside the main window, not over it (a report, not a question): the user can keep
it open while fixing the file, and open any imported template from it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.services.importing import StoredImport
from workbench.storage.formats import ImportProblem, ImportResult
from workbench.ui.theming import status_color

_KEY = Qt.ItemDataRole.UserRole


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def headline(file: Path, result: ImportResult, stored: StoredImport | None) -> str:
    """"Imported 3 templates and 1 experiment from x.yaml" / "Nothing imported from x.json"."""
    parts = []
    if result.templates:
        parts.append(_plural(len(result.templates), "template"))
    if stored is not None and stored.experiment is not None:
        parts.append("1 experiment")
    elif result.tests:
        parts.append(_plural(len(result.tests), "test"))
    if result.presets:
        parts.append(_plural(len(result.presets), "preset"))
    if not parts:
        return f"Nothing imported from {file.name}"
    listed = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return f"Imported {listed} from {file.name}"


def details(result: ImportResult, stored: StoredImport | None) -> list[str]:
    """Where things went, and what the problems mean for the library."""
    lines = []
    if stored is not None and stored.templates:
        collections = sorted({(t.key or "").rpartition("/")[0] for t in stored.templates})
        lines.append("Into the library: " + ", ".join(c or "(top level)" for c in collections))
        same = sum(1 for t in stored.templates if t.changed is False)
        if same:
            lines.append(f"{_plural(same, 'template')} already in the library unchanged")
    if stored is not None and stored.experiment is not None:
        e = stored.experiment
        lines.append(
            f"Experiment “{e.name}”: {_plural(e.variants, 'variant')} × {_plural(e.tests, 'test')}"
        )
    for name, path in stored.presets if stored is not None else []:
        lines.append(f"Preset “{name}” → {path}")
    if result.errors:
        were = "was" if len(result.errors) == 1 else "were"
        lines.append(
            f"{_plural(len(result.errors), 'part')} could not be read and {were} left out; "
            "nothing already in the library was changed by them."
        )
    return lines


class ImportReport(QDialog):
    """The report of one import; double-clicking a template asks to open it. When the file's
    format could not be told, ``formats`` (name, description) offers to read it as one of them."""

    templateChosen = Signal(str)  # library key
    formatChosen = Signal(str)  # a format name to read the file as

    def __init__(
        self,
        file: Path,
        result: ImportResult,
        stored: StoredImport | None,
        parent: QWidget | None = None,
        *,
        formats: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import — {file.name}")
        self.setAccessibleName("Import report")
        self.headline = QLabel(headline(file, result, stored), self)
        font = QFont(self.headline.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.headline.setFont(font)
        lines = details(result, stored)
        if formats:
            lines.append("Its format could not be told from its name and content: choose it.")
        self.details = QLabel("\n".join(lines), self)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.problems = QTreeWidget(self)
        self.problems.setAccessibleName("Import problems")
        self.problems.setHeaderLabels(["", "Where", "Problem"])
        self.problems.setRootIsDecorated(False)
        self.problems.setWordWrap(True)
        self.problems.setTextElideMode(Qt.TextElideMode.ElideNone)
        header = self.problems.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        for problem in result.problems:
            self._add_problem(problem, file.name)
        self.problems_title = QLabel(f"Problems ({len(result.problems)})", self)
        self.problems_title.setBuddy(self.problems)
        shown = bool(result.problems)
        self.problems.setVisible(shown)
        self.problems_title.setVisible(shown)

        self.templates = QListWidget(self)
        self.templates.setAccessibleName("Imported templates")
        self.templates.setToolTip("Double-click a template to open it in the editor")
        for entry in stored.templates if stored is not None else []:
            same = "  (unchanged)" if entry.changed is False else ""
            item = QListWidgetItem(f"{entry.name}  ·  v{entry.version}{same}")
            item.setData(_KEY, entry.key)
            item.setToolTip(f"{entry.key} v{entry.version}")
            self.templates.addItem(item)
        self.templates.itemActivated.connect(
            lambda item: self.templateChosen.emit(item.data(_KEY))
        )
        self.templates_title = QLabel("Templates", self)
        self.templates_title.setBuddy(self.templates)
        listed = self.templates.count() > 0
        self.templates.setVisible(listed)
        self.templates_title.setVisible(listed)

        self.read_as = QComboBox(self)
        self.read_as.setAccessibleName("Read the file as")
        for name, description in formats or []:
            self.read_as.addItem(description, name)
        self.read_again = QPushButton("Import", self)
        self.read_again.setToolTip("Read the file again as the chosen format")
        self.read_again.clicked.connect(
            lambda: self.formatChosen.emit(self.read_as.currentData())
        )
        read_as_label = QLabel("Read it as", self)
        read_as_label.setBuddy(self.read_as)
        read_as_row = QHBoxLayout()
        read_as_row.addWidget(read_as_label)
        read_as_row.addWidget(self.read_as, 1)
        read_as_row.addWidget(self.read_again)
        for widget in (read_as_label, self.read_as, self.read_again):
            widget.setVisible(bool(formats))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(self.headline)
        layout.addWidget(self.details)
        layout.addLayout(read_as_row)
        layout.addWidget(self.problems_title)
        layout.addWidget(self.problems, 1)
        layout.addWidget(self.templates_title)
        layout.addWidget(self.templates, 2)
        layout.addWidget(buttons)

    def _add_problem(self, problem: ImportProblem, file_name: str) -> None:
        """A row per problem; "line 12" in the imported file itself, "other.txt:3" elsewhere."""
        where = "" if problem.source == file_name else problem.source
        if problem.line is not None:
            where = f"{where}:{problem.line}" if where else f"line {problem.line}"
        item = QTreeWidgetItem(self.problems, [problem.severity, where, problem.message])
        item.setForeground(0, status_color("error" if problem.severity == "error" else "warning"))
        item.setToolTip(2, str(problem))
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)

    def problem_rows(self) -> list[tuple[str, str, str]]:
        """(severity, where, message) per problem, in the file's order."""
        items = (self.problems.topLevelItem(i) for i in range(self.problems.topLevelItemCount()))
        return [(item.text(0), item.text(1), item.text(2)) for item in items if item is not None]
