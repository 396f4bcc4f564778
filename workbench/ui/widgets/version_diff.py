"""Two versions of a library template compared word by word, in a window beside the main one.

The comparison is the project's one word diff (``core.diff`` drawn by ``compare.diff_view``) of
each version's outline (``core.template_outline``): every message body under its role, then the
settings, so a changed parameter, variable or technique shows up as well as a changed word. A line
above names what changed. Either version can be picked again in the view's own lists. The window
is not modal: the library and the editor stay usable while it is open.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.core.errors import KnownError
from workbench.core.models import PromptTemplate
from workbench.core.template_outline import changes, outline
from workbench.storage.library_records import TemplateVersion
from workbench.ui.compare.diff_view import DiffView
from workbench.ui.widgets.history_panel import format_time
from workbench.ui.widgets.window_keys import add_close_keys


def version_name(version: TemplateVersion, labels: list[str]) -> str:
    """``v3 [production]``: how a version is listed in the diff's pickers."""
    marks = "".join(f" [{label}]" for label in labels)
    return f"v{version.number}{marks}"


class VersionDiff(QWidget):
    """The word diff of two versions of one template, with a summary of what changed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)
        self.setAccessibleName("Version diff")
        self.title = QLabel(self)
        self.title.setAccessibleName("Versions compared")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("What changed")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view = DiffView(self)
        for combo, side in ((self.view.left, "older"), (self.view.right, "newer")):
            combo.setAccessibleName(f"Version diff: {side} version")
            combo.setToolTip(
                f"The {side} version: its words missing from the other are struck through in red"
                if side == "older"
                else f"The {side} version: its words missing from the other are marked in green"
            )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        add_close_keys(self)
        self.view.sourcesChanged.connect(lambda _left, _right: self._describe())
        self.key = ""
        self.versions: list[TemplateVersion] = []
        self._outlines: dict[str, tuple[str, PromptTemplate | None]] = {}  # by version id

    def compare(
        self,
        key: str,
        versions: list[TemplateVersion],
        labels: dict[int, list[str]],
        old: int,
        new: int,
    ) -> None:
        """Show versions ``old`` and ``new`` (numbers) of ``key``; ``versions`` oldest first."""
        if key != self.key:
            self._outlines.clear()  # kept for one template's versions at a time
        self.key, self.versions = key, versions
        numbers = [v.number for v in versions]
        self.view.set_sources(
            [version_name(v, labels.get(v.number, [])) for v in versions],
            [self._outline(v)[0] for v in versions],
        )
        for combo in (self.view.left, self.view.right):
            for index, version in enumerate(versions):
                combo.setItemData(index, _version_tip(version), Qt.ItemDataRole.ToolTipRole)
        for combo in (self.view.left, self.view.right):  # one diff for the pair, not one per pick
            combo.blockSignals(True)
        self.view.pick(numbers.index(old), numbers.index(new))
        for combo in (self.view.left, self.view.right):
            combo.blockSignals(False)
        self.view.redraw()
        self._describe()

    def picked(self) -> tuple[int, int] | None:
        """The version numbers on the left and on the right."""
        left, right = self.view.left.currentIndex(), self.view.right.currentIndex()
        if not (0 <= left < len(self.versions) and 0 <= right < len(self.versions)):
            return None
        return self.versions[left].number, self.versions[right].number

    def _outline(self, version: TemplateVersion) -> tuple[str, PromptTemplate | None]:
        """The version's outline (versions never change, so each is parsed once); a version this
        app cannot read any more is compared as its file text."""
        found = self._outlines.get(version.id)
        if found is None:
            try:
                template = version.template()
                found = (outline(template), template)
            except KnownError:
                found = (version.text, None)
            self._outlines[version.id] = found
        return found

    def _describe(self) -> None:
        pair = self.picked()
        if pair is None:
            return
        by_number = {v.number: v for v in self.versions}
        old, new = by_number[pair[0]], by_number[pair[1]]
        self.title.setText(f"{self.key}: v{old.number} → v{new.number}")
        self.setWindowTitle(f"Versions of {self.key} — v{old.number} → v{new.number}")
        (old_outline, old_template), (new_outline, new_template) = (
            self._outline(old),
            self._outline(new),
        )
        if old.number == new.number:
            text = "The same version on both sides: pick another one to compare."
        elif old_template is None or new_template is None:
            text = "One of these versions cannot be read by this app; comparing the file texts."
        elif old_outline == new_outline:
            text = (
                "Same content."
                if old.text == new.text
                else "Same content: the files differ only in layout or comments."
            )
        else:
            text = "Changed: " + " · ".join(changes(old_template, new_template))
        self.summary.setText(text)


def _version_tip(version: TemplateVersion) -> str:
    message = f" · {version.message}" if version.message else ""
    return f"v{version.number} · {format_time(version.created_at)} · {version.origin}{message}"
