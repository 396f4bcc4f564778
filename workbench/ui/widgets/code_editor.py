"""The plain-text editor every prompt body is typed in.

A ``QPlainTextEdit`` (it lays out only what is visible, so a 100k-token body stays responsive)
with the prompt font, line numbers, and an inline error: the line tinted, the character at the
column underlined, a marker in the line-number gutter, the message in a strip at the bottom of the
editor and as a tooltip over the line. Undo and redo are the editor's own (Ctrl+Z,
Ctrl+Shift+Z), or a whole document's when ``route_undo`` hands them to it. Optionally it grows
with its text between a minimum and a maximum number of lines, so a list of short messages does
not waste space and a long one scrolls. Given an ``indent`` (code: a Python mock, a JSON schema)
Tab and Shift+Tab indent and dedent the line, Enter keeps its indentation (one level more after a
line ending with one of ``opens``), and Ctrl+Tab moves the focus on instead.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit, QTextEdit, QToolTip, QWidget

from workbench.ui.theming import monospace_font, status_color
from workbench.ui.widgets.jinja_highlighter import JinjaHighlighter
from workbench.ui.widgets.palette_colors import tint
from workbench.ui.widgets.text_edits import text_edit

GUTTER_PADDING = 8  # px, on the 4/8 grid
STRIP_PADDING = 4


class _Gutter(QWidget):
    """The line-number area; paints through its editor."""

    def __init__(self, editor: CodeEditor) -> None:
        super().__init__(editor)
        self._editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self._editor.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        self._editor.paint_gutter(event)


class CodeEditor(QPlainTextEdit):
    """A monospace editor with line numbers, Jinja highlighting and an inline error marker."""

    #: The error strip's link was clicked (the cursor has moved to the error).
    errorActivated = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        jinja: bool = True,
        line_numbers: bool = True,
        min_lines: int | None = None,
        max_lines: int | None = None,
        indent: str = "",
        opens: str = "",
    ) -> None:
        super().__init__(parent)
        self.setFont(monospace_font())
        # A form of prompt fields: Tab moves on, as everywhere else; code is indented with it.
        self.setTabChangesFocus(not indent)
        self._indent, self._opens = indent, opens
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.highlighter = JinjaHighlighter(self.document(), self.palette()) if jinja else None
        self._line_numbers = line_numbers
        self._gutter = _Gutter(self)
        self._gutter.setVisible(line_numbers)
        self._min_lines = min_lines
        self._max_lines = max_lines
        self._error: tuple[int | None, int | None, str] | None = None
        self._history: tuple[Callable[[], object], Callable[[], object]] | None = None
        self._strip_plain = ""
        self._strip = QLabel(self)
        self._strip.setFont(QApplication.font())  # messages in the UI font, code in monospace
        self._strip.setWordWrap(True)
        self._strip.setTextFormat(Qt.TextFormat.RichText)
        self._strip.setAccessibleName("Error in this text")
        self._strip.setAutoFillBackground(True)
        self._strip.setContentsMargins(GUTTER_PADDING, STRIP_PADDING, GUTTER_PADDING, STRIP_PADDING)
        self._strip.linkActivated.connect(self._go_to_error)
        self._strip.hide()
        self.blockCountChanged.connect(self._update_margins)
        self.updateRequest.connect(self._update_gutter)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._update_margins()
        if min_lines is not None:
            policy = self.sizePolicy()
            policy.setVerticalPolicy(policy.Policy.Fixed)
            self.setSizePolicy(policy)
            self._fit_height()

    # --- line numbers --------------------------------------------------------------------

    def gutter_width(self) -> int:
        if not self._line_numbers:
            return 0
        digits = max(2, len(str(max(1, self.blockCount()))))
        return GUTTER_PADDING * 2 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_margins(self, _count: int = 0) -> None:
        strip = self._strip_height() if self._error is not None else 0
        self.setViewportMargins(self.gutter_width(), 0, 0, strip)
        self._place_children()

    def _update_gutter(self, rect: QRect, dy: int) -> None:
        if not self._line_numbers:
            return
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())

    def paint_gutter(self, event: QPaintEvent) -> None:
        painter = QPainter(self._gutter)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.color(palette.ColorRole.Window))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        width = self._gutter.width() - GUTTER_PADDING
        error_line = self._error[0] - 1 if self._error is not None and self._error[0] else -1
        dim = palette.color(palette.ColorGroup.Disabled, palette.ColorRole.Text)
        while block.isValid() and top <= event.rect().bottom():
            bottom = top + round(self.blockBoundingRect(block).height())
            if block.isVisible() and bottom >= event.rect().top():
                if number == error_line:
                    color = status_color("error")
                    painter.fillRect(0, top, 3, bottom - top, color)  # the marker
                    font = painter.font()
                    font.setBold(True)
                    painter.setFont(font)
                    painter.setPen(color)
                else:
                    font = painter.font()
                    font.setBold(False)
                    painter.setFont(font)
                    painter.setPen(dim)
                painter.drawText(
                    0, top, width, height, Qt.AlignmentFlag.AlignRight, str(number + 1)
                )
            block = block.next()
            top = bottom
            number += 1

    # --- geometry -------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_children()
        if event.size().width() != event.oldSize().width():
            self._fit_height()  # other wrapping: the document's size may not say so
        if self._error is not None:
            self._update_margins()

    def _place_children(self) -> None:
        rect = self.contentsRect()
        self._gutter.setGeometry(QRect(rect.left(), rect.top(), self.gutter_width(), rect.height()))
        if self._error is not None:
            height = self._strip_height()
            self._strip.setGeometry(
                QRect(rect.left(), rect.bottom() - height + 1, rect.width(), height)
            )

    def _strip_height(self) -> int:
        width = max(80, self.contentsRect().width())
        return self._strip.heightForWidth(width)

    def _line_count(self) -> int:
        # QPlainTextDocumentLayout reports its size in lines (wrapped lines counted).
        return max(1, round(self.document().documentLayout().documentSize().height()))

    def _fit_height(self) -> None:
        if self._min_lines is None:
            return
        content = self._line_count()
        lines = max(self._min_lines, content)
        if self._max_lines is not None:
            lines = min(lines, self._max_lines)
        fits = self._max_lines is None or content <= self._max_lines
        self.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAlwaysOff if fits else Qt.ScrollBarPolicy.ScrollBarAsNeeded
        )
        margins = self.contentsMargins()
        doc_margin = 2 * round(self.document().documentMargin())
        strip = self._strip_height() if self._error is not None else 0
        height = (
            lines * self.fontMetrics().lineSpacing()
            + doc_margin
            + margins.top()
            + margins.bottom()
            + strip
        )
        if height != self.height():
            self.setFixedHeight(height)

    # --- the inline error -----------------------------------------------------------------

    @property
    def error(self) -> tuple[int | None, int | None, str] | None:
        """``(line, column, message)`` of the error shown, 1-based; None when there is none."""
        return self._error

    def error_text(self) -> str:
        """The error strip's text as a person reads it."""
        return self._strip_plain if self._error is not None else ""

    def set_error(self, line: int | None, column: int | None, message: str) -> None:
        """Mark ``line`` (and ``column``) as wrong and show ``message`` in the editor.

        Without a line, only the message is shown (a render error Jinja could not place).
        """
        if line is not None:
            line = max(1, min(line, self.blockCount()))
        self._error = (line, column, message)
        color = status_color("error")
        if line is None:
            self._strip_plain = message
            self._strip.setText(html.escape(message))
        else:
            where = f"line {line}" + (f", column {column}" if column is not None else "")
            self._strip_plain = f"{where}: {message}"
            self._strip.setText(
                f'<a href="#error" style="color:{color.name()}">{where}</a>: {html.escape(message)}'
            )
            self._strip.setToolTip("Click the position to move the cursor there.")
        palette = self._strip.palette()
        palette.setColor(palette.ColorRole.Window, tint(color, 38))
        self._strip.setPalette(palette)
        self._strip.show()
        self._update_margins()
        self._fit_height()
        self._paint_error()

    def clear_error(self) -> None:
        if self._error is None:
            return
        self._error = None
        self._strip.hide()
        self.setExtraSelections([])
        self._update_margins()
        self._fit_height()
        self._gutter.update()

    def _error_cursor(self) -> QTextCursor | None:
        if self._error is None:
            return None
        line, column, _ = self._error
        if line is None:
            return None
        block = self.document().findBlockByNumber(line - 1)
        if not block.isValid():
            return None
        cursor = QTextCursor(block)
        if column is not None:
            before = block.text()[: max(column - 1, 0)]  # Qt counts UTF-16 units
            offset = min(len(before.encode("utf-16-le")) // 2, max(block.length() - 1, 0))
            cursor.setPosition(block.position() + offset)
        return cursor

    def _paint_error(self) -> None:
        cursor = self._error_cursor()
        if cursor is None:
            self.setExtraSelections([])
            return
        color = status_color("error")
        line = QTextEdit.ExtraSelection()
        line.format.setBackground(tint(color, 40))
        line.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        line.cursor = QTextCursor(cursor)
        line.cursor.clearSelection()
        selections = [line]
        if self._error is not None and self._error[1] is not None:
            char = QTextEdit.ExtraSelection()
            char.format.setUnderlineStyle(char.format.UnderlineStyle.WaveUnderline)
            char.format.setUnderlineColor(color)
            char.format.setBackground(tint(color, 90))
            char.cursor = QTextCursor(cursor)
            if not char.cursor.atBlockEnd():
                char.cursor.movePosition(
                    QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor
                )
            selections.append(char)
        self.setExtraSelections(selections)
        self._gutter.update()

    def _go_to_error(self, _link: str = "") -> None:
        cursor = self._error_cursor()
        if cursor is not None:
            self.setTextCursor(cursor)
            self.ensureCursorVisible()
            self.setFocus(Qt.FocusReason.OtherFocusReason)
            self.errorActivated.emit()

    # --- the document's text and history ------------------------------------------------------

    def replace_text(self, text: str) -> None:
        """Show ``text`` by replacing only what changed, with the cursor after the change (where
        an undo or redo happened) and the rest of the text, its scroll and its focus kept."""
        edit = text_edit(self.toPlainText(), text)
        if edit is None:
            return
        cursor = QTextCursor(self.document())
        cursor.setPosition(edit.start)
        cursor.setPosition(edit.end, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(edit.text)
        self.setTextCursor(cursor)

    def route_undo(self, undo: Callable[[], object], redo: Callable[[], object]) -> None:
        """Send Ctrl+Z and Ctrl+Shift+Z to a document's history instead of this field's own, so
        one undo goes back through typing and structural changes alike, in order."""
        self.setUndoRedoEnabled(False)
        self._history = (undo, redo)

    def _history_key(self, event: QKeyEvent) -> int | None:
        """0 for undo, 1 for redo, None for any other key (or no routed history)."""
        if self._history is None:
            return None
        if event.matches(QKeySequence.StandardKey.Undo):
            return 0
        redo = QKeySequence(event.keyCombination()) == QKeySequence("Ctrl+Shift+Z")
        return 1 if redo or event.matches(QKeySequence.StandardKey.Redo) else None

    def keyPressEvent(self, event: QKeyEvent) -> None:
        which = self._history_key(event)
        if which is not None and self._history is not None:
            self._history[which]()
            event.accept()
            return
        if self._indent and self._indented(event):
            event.accept()
            return
        super().keyPressEvent(event)

    def _indented(self, event: QKeyEvent) -> bool:
        """Tab, Shift+Tab and Enter in code (True: handled here)."""
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and ctrl:
            # QPlainTextEdit's own override refuses while Tab is text: the widget's moves on
            QWidget.focusNextPrevChild(self, key == Qt.Key.Key_Tab and
                                       not mods & Qt.KeyboardModifier.ShiftModifier)
            return True
        cursor = self.textCursor()
        line = cursor.block().text()
        if key == Qt.Key.Key_Tab and not mods:
            cursor.insertText(self._indent)
        elif key == Qt.Key.Key_Backtab:  # the line's leading spaces, the cursor stays put
            drop = len(line) - len(line.lstrip(" "))
            edit = QTextCursor(cursor.block())
            edit.movePosition(QTextCursor.MoveOperation.Right, QTextCursor.MoveMode.KeepAnchor,
                              min(drop, len(self._indent)))
            edit.removeSelectedText()
            return True
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not ctrl:
            before = line[:cursor.positionInBlock()]
            leading = before[:len(before) - len(before.lstrip(" "))]
            opens = bool(self._opens) and before.rstrip().endswith(tuple(self._opens))
            cursor.insertText("\n" + leading + (self._indent if opens else ""))
        else:
            return False
        self.setTextCursor(cursor)
        return True

    # --- events -----------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        override = event.type() == QEvent.Type.ShortcutOverride
        if override and isinstance(event, QKeyEvent) and self._history_key(event) is not None:
            event.accept()  # the key comes here as a key press, not to a window's action
            return True
        if event.type() == QEvent.Type.ToolTip and self._error is not None:
            pos = self.viewport().mapFromGlobal(event.globalPos())  # type: ignore[attr-defined]
            line = self._error[0]
            if line is None or self.cursorForPosition(pos).blockNumber() == line - 1:
                QToolTip.showText(event.globalPos(), self._strip_plain, self)  # type: ignore[attr-defined]
                return True
        if event.type() == QEvent.Type.PaletteChange:
            if self.highlighter is not None:
                self.highlighter.set_palette(self.palette())
            if self._error is not None:
                self.set_error(*self._error)
        return super().event(event)
