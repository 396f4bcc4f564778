"""What a rendered Markdown document shows, block by block, to compare two renders of it
(used by the Markdown streaming and output view tests)."""

from __future__ import annotations

from PySide6.QtGui import QTextBlock, QTextCursor, QTextDocument, QTextFormat

from workbench.ui.widgets.markdown_tables import TABLE_GOES_ON


def _formats(document: QTextDocument, block: QTextBlock) -> list[tuple[object, ...]]:
    """Runs of character formats in ``block``: what the text looks like, not how it is stored."""
    runs: list[tuple[object, ...]] = []
    cursor = QTextCursor(document)
    for offset in range(len(block.text())):
        cursor.setPosition(block.position() + offset + 1)
        fmt = cursor.charFormat()
        look = (fmt.fontWeight(), fmt.fontItalic(), fmt.fontFixedPitch(), fmt.fontStrikeOut(),
                fmt.fontUnderline(), fmt.anchorHref())
        if runs and runs[-1][1:] == look:
            runs[-1] = (f"{runs[-1][0]}{block.text()[offset]}", *look)
        else:
            runs.append((block.text()[offset], *look))
    return runs


def structure(document: QTextDocument) -> list[tuple[object, ...]]:
    """Each block's text, kind (heading, code, list style and item label, table cell, quote) and
    character formats; margins are left out (pieces get a gap between them on purpose). A table
    that goes on from the one above (a long table is drawn as several) counts as that table, its
    rows numbered on, and the empty paragraph between them is left out."""
    tables: dict[int, tuple[int, int]] = {}  # table object -> (table shown, its first row)
    shown = 0  # tables shown so far
    last: tuple[int, int, int] = (-1, 0, 0)  # the last table: shown as, first row, rows
    out: list[tuple[object, ...]] = []
    block = document.begin()
    while block.isValid():
        fmt = block.blockFormat()
        items = block.textList()
        listed: tuple[object, ...] = ()
        if items is not None:  # by what it shows: a long list is drawn as several lists
            listed = (items.format().style(), items.format().indent(), items.itemText(block))
        table = QTextCursor(block).currentTable()
        cell: tuple[object, ...] = ()
        if table is not None:
            if table.objectIndex() not in tables:
                if table.format().boolProperty(TABLE_GOES_ON) and last[0] >= 0:
                    tables[table.objectIndex()] = (last[0], last[1] + last[2])
                    if out and not out[-1][0] and not out[-1][7]:
                        out.pop()  # the paragraph Qt keeps between two tables
                else:
                    tables[table.objectIndex()] = (shown, 0)
                    shown += 1
                last = (*tables[table.objectIndex()], table.rows())
            place = table.cellAt(block.position())
            index, first = tables[table.objectIndex()]
            cell = (index, first + place.row(), place.column())
        out.append((
            block.text(), fmt.headingLevel(), fmt.nonBreakableLines(),
            fmt.stringProperty(QTextFormat.Property.BlockCodeLanguage),
            fmt.intProperty(QTextFormat.Property.BlockQuoteLevel), fmt.indent(), listed, cell,
            () if cell else tuple(_formats(document, block)),
        ))
        block = block.next()
    # When a code block comes just before a table, Qt's reader puts a stray empty paragraph in
    # the table's first cell and drops the header's bold; a table rendered as a piece of its own
    # has neither quirk. So that paragraph, and the character formats in cells, are left out.
    return [row for i, row in enumerate(out) if not (
        row[7] and not row[0] and i + 1 < len(out) and out[i + 1][7] == row[7])]
