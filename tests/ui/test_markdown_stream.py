"""Streamed Markdown renders like the whole text rendered at once, whatever the chunk sizes, and
a long open block (a code fence, a list) is appended to, not re-rendered."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtGui import QColor, QTextDocument
from PySide6.QtWidgets import QApplication

from tests.ui.markdown_structure import structure
from workbench.ui.widgets.markdown_blocks import BlockCutter
from workbench.ui.widgets.markdown_stream import LIST_CHUNK, MarkdownStream

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
