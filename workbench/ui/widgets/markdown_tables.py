"""How ``MarkdownStream`` draws a long Markdown table while it streams.

Qt lays a whole ``QTextTable`` out again on every change to it, and inserting or removing a
table makes the document scan all of its text again for frames. So a long table is drawn as
consecutive tables of ``TABLE_CHUNK`` rows (``table_rows``: the same columns, joined with no
seam), and the open one grows in place (``OpenTable``) instead of being rendered again.
"""

from __future__ import annotations

from PySide6.QtGui import (
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
    QTextLength,
    QTextTable,
    QTextTableCell,
)

#: Set on a table that goes on from the one drawn just above it (a "rows" piece, whose header
#: row is dropped): both show one Markdown table.
TABLE_GOES_ON = QTextFormat.Property.UserProperty + 1


def first_table(document: QTextDocument) -> QTextTable:
    return next(f for f in document.rootFrame().childFrames() if isinstance(f, QTextTable))


def column_widths(document: QTextDocument, markdown: str) -> list[QTextLength]:
    """The widths of the columns of the table ``markdown`` starts with, laid out on its own as
    in ``document`` (so they do not depend on how the text arrived)."""
    laid = QTextDocument()
    laid.setDefaultFont(document.defaultFont())
    laid.setDocumentMargin(document.documentMargin())
    laid.setTextWidth(document.textWidth())
    laid.setMarkdown(markdown)
    table = first_table(laid)
    layout = laid.documentLayout()
    look = table.format()
    around = 2 * look.cellPadding() + look.border()  # what a column has beside its text
    return [
        QTextLength(
            QTextLength.Type.FixedLength,
            layout.blockBoundingRect(table.cellAt(0, column).firstCursorPosition().block()).width()
            + around,
        )
        for column in range(table.columns())
    ]


def table_rows(markdown: str, columns: list[QTextLength]) -> QTextDocumentFragment:
    """``markdown`` (a paragraph, then a table) rendered with its table's header row dropped
    and the given column widths (``insertMarkdown`` renders through such a document too; in
    the edit block of an update a new table is not reachable as one)."""
    rendered = QTextDocument()
    rendered.setMarkdown(markdown)
    table = first_table(rendered)
    table.removeRows(0, 1)
    look = table.format()
    look.setProperty(TABLE_GOES_ON, True)
    look.setColumnWidthConstraints(columns)
    look.setTopMargin(-look.cellPadding())  # Qt leaves that much between two tables
    table.setFormat(look)
    return QTextDocumentFragment(rendered)


class OpenTable:
    """The table the open tail of a ``MarkdownStream`` is, grown by the rows that arrive.

    ``head`` holds the table's header and delimiter lines, ``start`` is where the tail starts
    in the text, ``rendered`` where the rows drawn from complete lines end; ``partial`` says
    whether the last row drawn is an unfinished line (it is drawn again as it grows)."""

    def __init__(self, head: str, start: int, rendered: int, partial: bool) -> None:
        self.head, self.start = head, start
        self.rendered, self.partial = rendered, partial

    def grow(self, table: QTextTable, rows: str, rendered: int) -> bool:
        """Draw ``rows`` (complete lines, then maybe an unfinished one) after the rows already
        drawn, as md4c reads them below the table's head; False, changing nothing, when the
        table would first lose its only row."""
        if self.partial and table.rows() == 1:  # Qt deletes a table left with no row
            return False
        if self.partial:
            table.removeRows(table.rows() - 1, 1)
        if rows.strip():
            source = QTextDocument()
            source.setMarkdown(self.head + rows)
            new = first_table(source)
            first = table.rows()
            table.appendRows(new.rows() - 1)
            for row in range(1, new.rows()):
                for column in range(new.columns()):
                    cell = new.cellAt(row, column)
                    if cell.column() == column:  # not inside a cell spanning columns
                        _copy_cell(cell, table, first + row - 1)
        self.rendered = rendered
        self.partial = not rows.endswith("\n") and bool(rows.rpartition("\n")[2].strip())
        return True


def _copy_cell(cell: QTextTableCell, table: QTextTable, row: int) -> None:
    """Make the new, empty cell at ``row`` of ``table`` what ``cell`` is (a row missing cells
    has its last one span the columns left)."""
    if cell.columnSpan() > 1:
        table.mergeCells(row, cell.column(), 1, cell.columnSpan())
    into = table.cellAt(row, cell.column())
    into.setFormat(cell.format())
    cursor = into.firstCursorPosition()
    block = cell.firstCursorPosition().block()
    cursor.setBlockFormat(block.blockFormat())
    cursor.setBlockCharFormat(block.charFormat())
    text = cell.firstCursorPosition()
    text.setPosition(cell.lastCursorPosition().position(), QTextCursor.MoveMode.KeepAnchor)
    if text.hasSelection():
        cursor.insertFragment(QTextDocumentFragment(text))
