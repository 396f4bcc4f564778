"""Streamed Markdown renders like the whole text rendered at once, whatever the chunk sizes, and
a long open block (a code fence, a list, a table) is appended to, not re-rendered."""

from __future__ import annotations

import re
from itertools import pairwise
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtGui import QColor, QTextCursor, QTextDocument, QTextTable
from PySide6.QtWidgets import QApplication

from tests.ui.markdown_structure import structure
from workbench.ui.widgets import markdown_blocks
from workbench.ui.widgets.markdown_blocks import TABLE_CHUNK, BlockCutter
from workbench.ui.widgets.markdown_stream import LIST_CHUNK, MarkdownStream
from workbench.ui.widgets.markdown_tables import TABLE_GOES_ON

#: Lines that exercise every kind of cut and every reason not to cut. An empty list item ("-")
#: is left out: Qt's reader then puts the heading before it into the list, in whatever context.
LINES = [
    "", "", "  ", "Plain words here", "more **bold** and `code` text", "lazy line", "text  ",
    "# Heading", "## Second *level*", "#nohash",
    "- item", "- **bold** item", "* star item", "+ plus", "1. first", "2. second",
    "3) paren", "10. ten", "  - nested", "    - deeper", "  continued", "   indented more",
    "```python", "```", "~~~", "````", "```x```", "  ```", "   ```bash", "x = 1", "    return x",
    "\tTabbed", "| a | b |", "|---|---|", "| 1 | 2 |", "> quoted", "> - quoted item", "---",
    "***", "- - -", "===", "<b>inline</b> html",
]  # HTML blocks are left out: Qt renders one as an empty paragraph or nothing, by context

#: Tables: headers and delimiters that match or not, rows of every width, rows that are something
#: else too; and lines that end a table, or may not (HTML blocks left out, as above).
HEADERS = ["| a | b |", "a | b", "| a | b | c |", "| `x|y` | b |", "|---|---|", "| \\| | e |"]
DELIMITERS = ["|---|---|", "|:--|--:|", "---|---", "| --- | :-: | --- |", "|---|", "a | b"]
ROWS = [
    "| 1 | **2** |", "| 3 |", "| 4 | 5 | 6 |", "7 | *8*", "| \\| | e |", "| `c|d` | x |",
    "| [l](http://x.org) | y |", "|   |   |", "|---|---|", "plain after", "", "- item | x",
    "# head | x", "> q | x", "```", "    | indented |", "<b>x</b> | y", "===", "| ``` |",
]
table_strategy = st.tuples(
    st.sampled_from(HEADERS), st.sampled_from(DELIMITERS),
    st.lists(st.sampled_from(ROWS[:9]), max_size=9), st.lists(st.sampled_from(ROWS), max_size=3),
).map(lambda t: "\n".join([t[0], t[1], *t[2], *t[3]]))

#: A code block with no text in it: Qt's reader pours the paragraph after it into its block, or
#: not, depending on what comes before; such texts are left out.
EMPTY_CODE = re.compile(r"^ {0,3}(?:`{3,}|~{3,}).*\n(?:[ \t]*\n)* {0,3}(?:`{3,}|~{3,})[ \t]*$",
                        re.MULTILINE)

text_strategy = (
    st.lists(st.sampled_from(LINES), min_size=1, max_size=40)
    .map("\n".join)
    .flatmap(lambda body: st.sampled_from([body, body + "\n", body + "\n\n"]))
    .filter(lambda text: not EMPTY_CODE.search(text))
)


def stream(text: str, cuts: list[int]) -> MarkdownStream:
    streamed = MarkdownStream(QTextDocument(), QColor("#eeeeee"))
    for end in sorted(cuts):
        streamed.update(text[:end])
    streamed.update(text)
    return streamed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), text=text_strategy)
def test_any_chunking_renders_like_the_whole_text_at_once(
    qapp: QApplication, data: st.DataObject, text: str
) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=25))
    streamed = stream(text, cuts)
    whole = QTextDocument()
    whole.setMarkdown(text)
    assert structure(streamed.document) == structure(whole)  # every block's text and kind
    at_once = MarkdownStream(QTextDocument(), QColor("#eeeeee"))
    at_once.update(text)
    assert streamed.document.toHtml() == at_once.document.toHtml()


def test_an_open_code_block_and_list_are_cut_line_by_line() -> None:
    """Each finished line of a long fence is a code piece and each list item joins the list, so
    a refresh renders the new lines only, however long the block already is."""
    code = "```python\n" + "".join(f"x = {i}\n" for i in range(300))
    cutter = BlockCutter()
    pieces = [p for end in [*range(0, len(code), 7), len(code)] for p in cutter.feed(code[:end])]
    assert [p.attach for p in pieces] == ["gap"] + ["code"] * 299
    assert code[pieces[0].start:pieces[0].end] == "```python\nx = 0\n"
    assert [code[p.start:p.end] for p in pieces[1:3]] == ["x = 1", "x = 2"]
    assert cutter.in_code and code[cutter.cut:] == ""

    items = "Steps:\n" + "".join(f"{i + 1}. step **{i}**\n" for i in range(200)) + "\nDone."
    cutter = BlockCutter()
    pieces = cutter.feed(items)
    assert [p.attach for p in pieces] == ["gap", "gap"] + ["join"] * 198
    # "Done." is not a finished line yet, so the last item is still the open tail
    assert items[cutter.cut:] == "200. step **199**\n\nDone." and cutter.attach == "join"


def test_a_streamed_long_code_block_keeps_every_line_and_format(qapp: QApplication) -> None:
    code = "Intro\n```python\n" + "".join(f"\tvalue = {i}  # note\n" for i in range(400)) + "```\n"
    streamed = stream(code, list(range(0, len(code), 5)))
    whole = QTextDocument()
    whole.setMarkdown(code)
    assert structure(streamed.document) == structure(whole)
    assert streamed.document.blockCount() == 401


def test_a_long_list_goes_on_in_bounded_lists_with_its_numbers(qapp: QApplication) -> None:
    text = "Steps:\n" + "".join(f"{i + 1}. step {i}\n" for i in range(200)) + "\nDone.\n"
    streamed = stream(text, list(range(0, len(text), 9)))
    whole = QTextDocument()
    whole.setMarkdown(text)
    assert structure(streamed.document) == structure(whole)
    labels, sizes = [], set()
    block = streamed.document.begin()
    while block.isValid():
        if (items := block.textList()) is not None:
            labels.append(items.itemText(block))
            sizes.add(items.count())
        block = block.next()
    assert labels == [f"{i}." for i in range(1, 201)]
    assert max(sizes) == LIST_CHUNK  # Qt lays a whole list out for each item added


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    text=st.lists(st.one_of(table_strategy, st.sampled_from(LINES)), min_size=1, max_size=12)
    .map("\n".join).filter(lambda text: not EMPTY_CODE.search(text)),
)
def test_tables_cut_into_rows_render_like_the_whole_text_at_once(
    qapp: QApplication, data: st.DataObject, text: str
) -> None:
    """With tables drawn two rows a piece, so that every kind of line meets a cut."""
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=25))
    with patch.object(markdown_blocks, "TABLE_CHUNK", 2):
        streamed = stream(text, cuts)
        at_once = MarkdownStream(QTextDocument(), QColor("#eeeeee"))
        at_once.update(text)
    whole = QTextDocument()
    whole.setMarkdown(text)
    assert structure(streamed.document) == structure(whole)
    assert streamed.document.toHtml() == at_once.document.toHtml()


TABLE = "Results:\n\n| n | what | code |\n|---|:-:|--:|\n" + "".join(
    f"| {i:03} | **check** {'the value ' * (i % 4)}| `x{i}` |\n" for i in range(200)
) + "\nDone."


def tables(document: QTextDocument) -> list[QTextTable]:
    found, block = [], document.begin()
    while block.isValid():
        table = QTextCursor(block).currentTable()
        if table is not None and (not found or found[-1] != table):
            found.append(table)
        block = block.next()
    return found


def test_a_long_table_is_cut_every_table_chunk_rows() -> None:
    """Each ``TABLE_CHUNK`` body rows are a piece of their own, so a refresh renders the open
    rows only, however long the table already is."""
    cutter = BlockCutter()
    pieces = [p for end in [*range(0, len(TABLE), 7), len(TABLE)] for p in cutter.feed(TABLE[:end])]
    parts = -(-200 // TABLE_CHUNK)  # the first with the header, the open one is the tail
    assert [p.attach for p in pieces] == ["gap", "gap"] + ["rows"] * (parts - 2)
    head = "| n | what | code |\n|---|:-:|--:|\n"
    assert TABLE[pieces[1].start:pieces[1].end].startswith(head)
    assert {p.prefix for p in pieces[2:]} == {head}
    assert TABLE[pieces[2].start:].startswith(f"| {TABLE_CHUNK:03} | **check**")
    assert TABLE[cutter.cut:] == "".join(
        f"| {i:03} | **check** {'the value ' * (i % 4)}| `x{i}` |\n"
        for i in range((parts - 1) * TABLE_CHUNK, 200)
    ) + "\nDone."


def test_a_streamed_long_table_is_one_table_drawn_in_aligned_parts(qapp: QApplication) -> None:
    streamed = stream(TABLE, list(range(0, len(TABLE), 6)))
    whole = QTextDocument()
    whole.setMarkdown(TABLE)
    assert structure(streamed.document) == structure(whole)
    parts = tables(streamed.document)
    assert len(parts) == -(-200 // TABLE_CHUNK)
    assert [t.rows() for t in parts[:-1]] == [TABLE_CHUNK + 1] + [TABLE_CHUNK] * (len(parts) - 2)
    assert [t.format().boolProperty(TABLE_GOES_ON) for t in parts] == [False] + [True] * (
        len(parts) - 1)
    layout = streamed.document.documentLayout()

    def columns(table: QTextTable) -> list[tuple[float, float]]:
        rects = [layout.blockBoundingRect(table.cellAt(0, c).firstCursorPosition().block())
                 for c in range(table.columns())]
        return [(r.x(), r.width()) for r in rects]

    # drawn as one table (here every row fits the widths of the first part's columns), its rows
    # at one pitch across the parts as within them
    assert all(columns(t) == columns(parts[0]) for t in parts)
    tops = [layout.blockBoundingRect(t.cellAt(row, 0).firstCursorPosition().block()).top()
            for t in parts for row in range(t.rows())]
    assert {b - a for a, b in pairwise(tops)} == {tops[1] - tops[0]}


def test_a_table_cut_anywhere_mid_row_renders_like_that_text_at_once(qapp: QApplication) -> None:
    """The open part grows by the rows that arrive, its unfinished row drawn again each time;
    it ends as the same text rendered at once would be."""
    text = TABLE[:TABLE.index("| 070 |")]
    for end in [len(text) - 1, *(len(text) - 3 - k * 11 for k in range(1, 60, 7))]:
        part = text[:end]
        streamed = stream(part, list(range(0, len(part), 13)))
        whole = QTextDocument()
        whole.setMarkdown(part)
        assert structure(streamed.document) == structure(whole), part[-20:]
        at_once = MarkdownStream(QTextDocument(), QColor("#eeeeee"))
        at_once.update(part)
        assert streamed.document.toHtml() == at_once.document.toHtml(), part[-20:]


def test_a_streamed_table_is_grown_in_place_never_drawn_again(qapp: QApplication) -> None:
    """Each part of a long table is one table from its first row to its last: rows are added
    to it (drawing it again would insert a new table, which makes Qt scan the whole document
    and lay the table out from scratch on every refresh)."""
    streamed = MarkdownStream(QTextDocument(), QColor("#eeeeee"))
    seen: list[int] = []
    for end in range(TABLE.index("| 000 |") + 9, TABLE.index("| 100 |"), 6):
        streamed.update(TABLE[:end])
        now = [t.objectIndex() for t in tables(streamed.document)]
        assert now[:len(seen)] == seen[:len(now)]  # none drawn again
        seen = now if len(now) > len(seen) else seen
    assert len(seen) == -(-100 // TABLE_CHUNK)
