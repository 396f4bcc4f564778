"""A word diff of two texts, side by side or inline, in colours readable in both palettes.

The diff itself comes from ``core.diff`` (the one engine for output vs output, output vs expected
and version vs version); this widget only paints its spans: deletions struck through on a red
tint, insertions on a green tint, each with a text colour chosen for that tint so the contrast
holds in the light and the dark theme.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.diff import Span, WordDiff, diff_words
from workbench.ui import theming

#: (background, text) per span kind and theme; contrast ≥ 7:1 in both.
COLOURS = {
    False: {"insert": ("#ccf2d9", "#0b4a26"), "delete": ("#fdd8d8", "#7a1414")},
    True: {"insert": ("#1d4d33", "#d4f7e0"), "delete": ("#5c2626", "#ffdcdc")},
}


def span_html(spans: tuple[Span, ...], dark: bool) -> str:
    """The spans as HTML: equal text plain, changes tinted (deletions also struck through)."""
    parts = []
    for span in spans:
        text = escape(span.text).replace("\n", "<br>")
        if span.kind == "equal":
            parts.append(text)
            continue
        background, colour = COLOURS[dark][span.kind]
        strike = "text-decoration: line-through;" if span.kind == "delete" else ""
        parts.append(
            f"<span style='background-color:{background}; color:{colour}; {strike}'>{text}</span>"
        )
    return "".join(parts)


def _page(body: str) -> str:
    return f"<div style='white-space: pre-wrap;'>{body}</div>"


class DiffView(QWidget):
    """Pick two sources (columns), see their word diff. ``set_sources`` names what can be
    compared; ``texts`` supplies the text of a source by its index when the diff is drawn."""

    sourcesChanged = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.left = QComboBox(self)
        self.left.setAccessibleName("Diff: left text")
        self.right = QComboBox(self)
        self.right.setAccessibleName("Diff: right text")
        for combo in (self.left, self.right):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setToolTip("The two answers to compare word by word")
            combo.currentIndexChanged.connect(self._picked)
        self.side_button = QToolButton(self)
        self.side_button.setText("Side by side")
        self.inline_button = QToolButton(self)
        self.inline_button.setText("Inline")
        self.mode_group = QButtonGroup(self)
        for button, tip in ((self.side_button, "Left and right texts next to each other"),
                            (self.inline_button, "One text: deletions then insertions in place")):
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setToolTip(f"{tip} (Ctrl+Shift+I toggles)")
            self.mode_group.addButton(button)
            button.clicked.connect(self.redraw)
        self.side_button.setChecked(True)
        toggle = QShortcut(QKeySequence("Ctrl+Shift+I"), self)
        toggle.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        toggle.activated.connect(self.toggle_mode)
        self.stats = QLabel(self)
        self.stats.setAccessibleName("Diff summary")
        self.stats.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.left_text = self._browser("Left text with deletions marked")
        self.right_text = self._browser("Right text with insertions marked")
        self.inline_text = self._browser("Inline diff")
        sides = QSplitter(Qt.Orientation.Horizontal, self)
        sides.addWidget(self.left_text)
        sides.addWidget(self.right_text)
        sides.setChildrenCollapsible(False)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(sides)
        self.stack.addWidget(self.inline_text)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(8)
        bar.addWidget(QLabel("Diff", self))
        bar.addWidget(self.left)
        bar.addWidget(QLabel("→", self))
        bar.addWidget(self.right)
        bar.addSpacing(8)
        bar.addWidget(self.side_button)
        bar.addWidget(self.inline_button)
        bar.addWidget(self.stats, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        self._texts: list[str] = []
        self.diff: WordDiff | None = None

    def _browser(self, name: str) -> QTextBrowser:
        browser = QTextBrowser(self)
        browser.setAccessibleName(name)
        browser.setFont(theming.monospace_font())
        browser.setFrameShape(QAbstractScrollArea.Shape.NoFrame)
        browser.setOpenLinks(False)
        return browser

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.redraw()
        super().changeEvent(event)

    @property
    def mode(self) -> str:
        return "inline" if self.inline_button.isChecked() else "side"

    def toggle_mode(self) -> None:
        (self.side_button if self.mode == "inline" else self.inline_button).setChecked(True)
        self.redraw()

    def set_sources(self, names: list[str], texts: list[str]) -> None:
        """What can be compared (display names and their current texts), keeping the picks."""
        left, right = self.left.currentIndex(), self.right.currentIndex()
        self._texts = list(texts)
        for combo in (self.left, self.right):
            combo.blockSignals(True)
            if [combo.itemText(i) for i in range(combo.count())] != names:
                combo.clear()
                combo.addItems(names)
            combo.blockSignals(False)
        count = len(names)
        self.left.blockSignals(True)
        self.right.blockSignals(True)
        self.left.setCurrentIndex(left if 0 <= left < count else 0)
        self.right.setCurrentIndex(right if 0 <= right < count else min(1, count - 1))
        self.left.blockSignals(False)
        self.right.blockSignals(False)
        self.redraw()

    def pick(self, left: int, right: int) -> None:
        self.left.setCurrentIndex(left)
        self.right.setCurrentIndex(right)

    def _picked(self) -> None:
        self.redraw()
        self.sourcesChanged.emit(self.left.currentIndex(), self.right.currentIndex())

    def show_texts(self, a: str, b: str) -> None:
        """Diff two given texts (outside the column picker, e.g. output vs expected)."""
        self._draw(diff_words(a, b))

    def redraw(self) -> None:
        left, right = self.left.currentIndex(), self.right.currentIndex()
        if not (0 <= left < len(self._texts) and 0 <= right < len(self._texts)):
            self.diff = None
            for browser in (self.left_text, self.right_text, self.inline_text):
                browser.clear()
            self.stats.setText("Run at least two columns to compare their answers")
            return
        self._draw(diff_words(self._texts[left], self._texts[right]))

    def _draw(self, diff: WordDiff) -> None:
        self.diff = diff
        dark = theming.is_dark(self.palette())
        if self.mode == "inline":
            self.stack.setCurrentIndex(1)
            self.inline_text.setHtml(_page(span_html(diff.inline, dark)))
        else:
            self.stack.setCurrentIndex(0)
            left, right = diff.side_by_side
            self.left_text.setHtml(_page(span_html(left, dark)))
            self.right_text.setHtml(_page(span_html(right, dark)))
        if diff.identical:
            self.stats.setText("identical")
        else:
            self.stats.setText(
                f"−{_words(diff.words_removed)}  +{_words(diff.words_added)}  "
                f"similarity {diff.ratio:.0%}"
            )


def _words(count: int) -> str:
    return f"{count:,} word{'' if count == 1 else 's'}"
