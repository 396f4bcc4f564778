"""What a change will do to a template, shown as a word diff before it is made.

Applying a technique edits the person's own message, so the editor first shows the change: the
project's word diff (``core.diff``, painted by ``compare.diff_view.span_html``) of the template's
readable outline (``core.template_outline``) before and after, cut down to the changed lines and
a little context, with a line that names what changes. Apply makes it; Cancel or Esc drops it.
An inline panel, not a dialog: the messages stay in view beneath it.
"""

from __future__ import annotations

import difflib

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.core.diff import Span, diff_words
from workbench.core.models import PromptTemplate
from workbench.core.template_outline import changes, outline
from workbench.ui import theming
from workbench.ui.compare.diff_view import span_html

#: Unchanged lines kept on each side of a change.
CONTEXT_LINES = 2
#: A changed stretch longer than this (characters) is shown as whole lines, not word by word:
#: the word diff is quadratic in the worst case, and the GUI thread waits for it.
WORD_DIFF_LIMIT = 20_000
#: The diff's height, in lines, before it scrolls; where the window is short it gives way to
#: the messages below down to ``MIN_LINES``.
MAX_LINES = 14
MIN_LINES = 5


def line_then_word_diff(a: str, b: str) -> tuple[Span, ...]:
    """Spans turning ``a`` into ``b``: lines matched first (fast on a 100k-token template), then
    each changed stretch word by word with the project's diff engine."""
    lines_a, lines_b = a.splitlines(keepends=True), b.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, lines_a, lines_b)  # popular lines may not anchor
    spans: list[Span] = []
    offset = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = "".join(lines_a[i1:i2]), "".join(lines_b[j1:j2])
        if tag == "equal":
            spans.append(Span("equal", old, offset, offset + len(old)))
        elif len(old) + len(new) > WORD_DIFF_LIMIT:
            spans += [Span("delete", old, offset, offset + len(old))] if old else []
            spans += [Span("insert", new, offset, offset + len(new))] if new else []
        else:
            spans += [
                Span(span.kind, span.text, offset + span.start, offset + span.end)
                for span in diff_words(old, new).inline
            ]
        offset += len(old)
    return tuple(spans)


def trimmed(spans: tuple[Span, ...], context: int = CONTEXT_LINES) -> tuple[Span, ...]:
    """The spans with long unchanged stretches cut to ``context`` lines next to each change."""
    out: list[Span] = []
    for index, span in enumerate(spans):
        lines = span.text.split("\n")
        if span.kind != "equal" or len(lines) <= 2 * context + 2:
            out.append(span)
            continue
        after_change, before_change = index > 0, index < len(spans) - 1
        kept = []
        if after_change:
            kept.append("\n".join(lines[: context + 1]))
        kept.append("…")
        if before_change:
            kept.append("\n".join(lines[-(context + 1):]))
        out.append(Span("equal", "\n".join(kept), span.start, span.end))
    return tuple(out)


class ChangePreview(QFrame):
    """A proposed change: a title, what it changes, its word diff, Apply and Cancel."""

    accepted = Signal()
    rejected = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Proposed change")
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setAccessibleName("Proposed change title")
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("What the change does")
        self.diff = QTextBrowser(self)
        self.diff.setFont(theming.monospace_font())
        self.diff.setAccessibleName("Word diff of the change")
        self.diff.setToolTip(
            "Your template before and after: added words on green, removed words struck "
            "through on red. Unchanged lines far from a change are cut to …"
        )
        self.apply_button = QPushButton("Apply", self)
        self.apply_button.setAccessibleName("Apply the proposed change")
        self.apply_button.setToolTip("Make this change (Enter). You can undo it with Ctrl+Z.")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setAccessibleName("Cancel the proposed change")
        self.cancel_button.setToolTip("Leave the template as it is (Esc).")
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.diff)
        layout.addLayout(buttons)
        self.apply_button.clicked.connect(self.accepted)
        self.cancel_button.clicked.connect(self.rejected)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.rejected)
        self.before: PromptTemplate | None = None
        self.after: PromptTemplate | None = None
        self.hide()

    def propose(self, title: str, before: PromptTemplate, after: PromptTemplate) -> None:
        """Show the change from ``before`` to ``after`` and wait for Apply or Cancel."""
        self.before, self.after = before, after
        self.title.setText(title)
        self.summary.setText("Changes: " + " · ".join(changes(before, after)) + ".")
        spans = trimmed(line_then_word_diff(outline(before), outline(after)))
        dark = theming.is_dark(self.palette())
        self.diff.setHtml(f"<div style='white-space: pre-wrap;'>{span_html(spans, dark)}</div>")
        lines = sum(span.text.count("\n") for span in spans) + 1
        line = self.diff.fontMetrics().lineSpacing()
        frame = 2 * self.diff.frameWidth() + 2 * int(self.diff.document().documentMargin())
        self.diff.setMaximumHeight(min(lines, MAX_LINES) * line + frame + 2)
        self.diff.setMinimumHeight(min(lines, MIN_LINES) * line + frame + 2)
        self.show()
        self.apply_button.setDefault(True)
        self.apply_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def clear(self) -> None:
        self.before = self.after = None
        self.hide()
