"""Where a growing Markdown text can be cut into pieces that render on their own.

``MarkdownStream`` renders each finished piece once and re-renders only the open tail, so a
refresh costs what changed, not the size of the answer or of its open block. A cut is made only
where CommonMark (as Qt's reader, md4c, applies it) lets the text before it and after it render
independently, so the pieces put together render like the whole text at once:

* before a line at column 0 that follows a blank line (and not inside a fence or HTML block);
* before a line at column 0 that starts a block by itself: an ATX heading, a code fence, a list
  item of the list being written (it then *joins* that list) or a new bullet / ``1.`` list;
* after an ATX heading;
* never before an HTML block, nor within what may be a front matter (``---`` lines at the
  start, which Qt's reader hides);
* inside a code fence opened at column 0: each finished line is a *code* piece, appended to
  the code block as text, never parsed as Markdown (a long code block costs one line per line);
* inside a table whose header starts a piece: before every ``TABLE_CHUNK``-th body row. Such a
  *rows* piece renders with the table's header and delimiter lines put before it (md4c reads a
  body row by those two lines alone) and is drawn as the same table going on.

Cuts are decided on complete lines only, so they depend on the text alone: a streamed answer and
the same answer shown at once are cut, and rendered, identically. Anything uncertain (a table
not starting a piece, a line in a table that might start a block, an HTML block, whether lazy
text ended a list) only means fewer cuts;
where md4c's reading is not known (an indented fence where the list around it is unsure, a list
item's fence ended by a line at column 0) nothing more is cut, and the rest is re-rendered whole.
Not handled: a link reference definition (``[x]: url``) applies only within its own piece.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: How a piece attaches to what is before it: a new block after a gap, the next items of the
#: list before it, one more line of the open code block, or the next rows of the table before it.
Attach = Literal["gap", "join", "code", "rows"]
#: Body rows per table piece. Qt lays a whole table out again on every change to it (0.2 ms per
#: row here: 128 ms at 780 rows), so a long table is drawn as consecutive tables of this many
#: rows, and a refresh lays out the last one only.
TABLE_CHUNK = 16

_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
_ATX = re.compile(r"#{1,6}(?:[ \t]|$)")
_RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
_ITEM = re.compile(r"(?:([-+*])|(\d{1,9})([.)]))([ \t]+|$)(.*)")
#: A table's delimiter row ("|---|:--:|"); cells are counted by its pipes.
_DELIMITER = re.compile(r"\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
#: HTML blocks that may hold blank lines (CommonMark kinds 1-5), with what ends them.
_HTML_LONG = re.compile(
    r" {0,3}(?:<(script|pre|style|textarea)(?:[ \t>]|$)|(<!--)|(<\?)|(<!\[CDATA\[)|(<![A-Za-z]))",
    re.IGNORECASE,
)
_HTML_ENDS = ("", "-->", "?>", "]]>", ">")
#: Any other HTML block ends at a blank line: a block-level tag (kind 6) or a line holding one
#: whole tag only (kind 7).
_HTML = re.compile(
    r" {0,3}(?:</?(?:address|article|aside|base|basefont|blockquote|body|caption|center|col"
    r"|colgroup|dd|details|dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame"
    r"|frameset|h[1-6]|head|header|hr|html|iframe|legend|li|link|main|menu|menuitem|nav"
    r"|noframes|ol|optgroup|option|p|param|search|section|summary|table|tbody|td|tfoot|th"
    r"|thead|title|tr|track|ul)(?:[ \t>]|/>|$)|</?[A-Za-z][A-Za-z0-9-]*(?:[ \t][^>]*)?/?>[ \t]*$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Piece:
    """``text[start:end]`` renders on its own and is attached as ``attach`` says."""

    start: int
    end: int
    attach: Attach
    prefix: str = ""  # rendered before the piece and dropped: a "rows" piece's table header


@dataclass
class _Fence:
    marker: str  # the opening run of backticks or tildes
    opener: str  # the whole opening line
    fast: bool  # opened at column 0 at a cut: its lines become code pieces
    item: bool  # inside a list item: a line at column 0 ends the item and the fence
    started: bool = False  # its first non-blank line has been given out (with the opener)

    def closed_by(self, line: str) -> bool:
        match = _FENCE.fullmatch(line)
        return bool(
            match
            and match.group(2)[0] == self.marker[0]
            and len(match.group(2)) >= len(self.marker)
            and not match.group(3).strip(" \t")
        )


class BlockCutter:
    """Scans a growing text line by line and gives out its finished pieces."""

    def __init__(self) -> None:
        self.scanned = 0  # offset of the first line not scanned yet
        self.cut = 0  # where the open piece (the tail) starts
        self.attach: Attach = "gap"  # how the open piece attaches
        self._fence: _Fence | None = None
        self._html_end: str | None = None  # in an HTML block: its end marker ("" = blank line)
        self._list: str | None = None  # marker of the top-level list being written; "?" unsure
        self._item_indent = 0  # content indent of that list's last item (0: not in a list)
        self._blank = True  # the previous line was blank (the text's start counts as one)
        self._stuck = False  # a fence whose container is not known: no more cuts at all
        self._front = False  # in what may be a front matter (the text began with "---")
        self._boundary = False  # cut before the next non-blank line (after a heading)
        self._pipe = False  # a line since the last blank one may be a table row
        self.prefix = ""  # the open piece's prefix (see ``Piece``)
        self._header: str | None = None  # a line starting a piece that may be a table header
        self._table: str | None = None  # in a table that started a piece: its first two lines
        self._rows = 0  # body rows of that table so far

    @property
    def in_code(self) -> bool:
        """The open piece is the unfinished line of a fast code fence."""
        return self.attach == "code"

    def closes_fence(self, line: str) -> bool:
        return self._fence is not None and self._fence.closed_by(line)

    def growing_table(self, text: str) -> str | None:
        """The header and delimiter lines of the table the open piece is, while every complete
        line of that piece is the table's and its unfinished line (of ``text``, as fed) is
        nothing yet or one more row: more of ``text`` only adds rows to it."""
        line = text[self.scanned:]
        if self._table is None or self._stuck or (line.strip() and not (
                "|" in line and _plain_row(line))):
            return None
        return self._table

    def feed(self, text: str) -> list[Piece]:
        """The pieces finished by the complete lines of ``text`` not scanned yet."""
        pieces: list[Piece] = []
        while (end := text.find("\n", self.scanned)) >= 0:
            start, self.scanned = self.scanned, end + 1
            self._line(text, start, end, pieces)
        return pieces

    def _close(
        self, pieces: list[Piece], text: str, at: int, then: int, attach: Attach, prefix: str = ""
    ) -> None:
        """End the open piece at ``at``; the next one starts at ``then``."""
        if self._stuck:
            return
        if text[self.cut:at].strip():
            pieces.append(Piece(self.cut, at, self.attach, self.prefix))
        elif then == at:  # only blank lines so far: they stay with what follows (a blank line
            self.attach, self.prefix = attach, prefix  # at the text's start keeps "---" from
            return  # being a front matter)
        self.cut, self.attach, self.prefix = then, attach, prefix

    def _line(self, text: str, start: int, end: int, pieces: list[Piece]) -> None:
        line = text[start:end]
        blank = not line.strip(" \t")
        if self._front or (start == 0 and line == "---"):  # Qt hides a YAML front matter
            self._front = start == 0 or line != "---"
            self._boundary = not self._front
            self._blank = False
            return
        fence = self._fence
        if fence is not None:
            if fence.closed_by(line):
                self._fence = None
                if fence.fast and fence.started:  # the fence line itself renders as nothing
                    self._close(pieces, text, start, end + 1, "gap")
            elif fence.fast and fence.started:
                self._close(pieces, text, start, end + 1, "code")
                pieces.append(Piece(start, end, "code"))
            elif fence.fast and not blank and self.cut == start - len(fence.opener) - 1:
                fence.started = True  # the opener and the first line, as Markdown
                self._close(pieces, text, end + 1, end + 1, "code")
            elif fence.fast:  # Qt keeps or drops leading blank code lines as it pleases
                fence.fast = False
            elif fence.item and not blank and line[0] not in " \t":
                # the list item ends, and its fence with it; what md4c makes of this line is
                # not sure (a fence line here stays text), so nothing is cut from here on
                self._fence = None
                self._stuck = True
                self._after(line, start, text, pieces, blank)
                return
            self._blank = blank
            return
        if self._html_end is not None:
            if self._html_end in line.lower() if self._html_end else blank:
                self._html_end = None
            self._blank = blank
            return
        if self._table_line(line, start, text, pieces, blank):
            return
        self._after(line, start, text, pieces, blank)

    def _table_line(
        self, line: str, start: int, text: str, pieces: list[Piece], blank: bool
    ) -> bool:
        """Follow a table that starts a piece: True when ``line`` is its delimiter or a body
        row (cut before every ``TABLE_CHUNK``-th one)."""
        header, self._header = self._header, None
        if header is not None:
            if _DELIMITER.fullmatch(line) and "|" in line and _cells(line) == _cells(header):
                self._table, self._rows = f"{header}\n{line}\n", 0
                self._blank, self._pipe = False, True
                return True
        elif self._table is not None:
            if not blank and "|" in line and _plain_row(line):
                if self._rows and not self._rows % TABLE_CHUNK:
                    self._close(pieces, text, start, start, "rows", self._table)
                self._rows += 1
                return True
            self._table = None  # the table ends, or md4c's reading of this line is not known
        return False

    def _after(self, line: str, start: int, text: str, pieces: list[Piece], blank: bool) -> None:
        """A line outside fences and HTML blocks."""
        if blank:
            self._blank = True
            self._pipe = False
            return
        column0 = line[0] not in " \t"
        rule = bool(_RULE.fullmatch(line))
        item = _ITEM.match(line) if column0 and not rule else None
        key = (item.group(1) or item.group(3)) if item else None
        filled = bool(item and item.group(5).strip(" \t"))
        fence = _FENCE.fullmatch(line)
        if fence and fence.group(2)[0] == "`" and "`" in fence.group(3):
            fence = None  # ```x``` is inline code, not a fence
        heading = column0 and bool(_ATX.match(line))
        starts = column0 and not self._pipe and (
            heading
            or fence is not None
            or (filled and (key == self._list or key in ("-", "+", "*")
                            or bool(item and item.group(2) == "1")))
        )
        html = _HTML.match(line) or _HTML_LONG.match(line)
        cut = self._boundary or (column0 and self._blank) or starts
        if cut and ((item and self._list == "?") or html):
            # whether it continues the list above is not known; an HTML block on its own
            # would leave an empty paragraph where the whole text has none
            cut = False
        if cut:
            join = item is not None and key == self._list
            self._close(pieces, text, start, start, "join" if join else "gap")
        # what this line leaves open
        if item is not None:
            if cut:
                self._list = key
                spaces = len(item.group(4))
                marker = len(line) - len(item.group(4)) - len(item.group(5))
                self._item_indent = marker + (spaces if 0 < spaces <= 4 else 1)
            else:
                self._list = "?"
                self._item_indent = max(self._item_indent, 2)
        elif column0 and self._list is not None:
            ends = self._blank or starts or rule or line.startswith(">")
            self._list = None if ends else "?"  # else lazy text, or HTML: unsure
        elif not column0 and not rule and _ITEM.match(stripped := line.lstrip(" ")):
            indent = len(line) - len(stripped)
            if indent <= 3 and (self._list is None or indent < self._item_indent):
                self._list = "?"  # an indented item of a top-level list, maybe this one
        if self._list is None:
            self._item_indent = 0
        self._boundary = cut and heading
        if cut and column0 and "|" in line and _plain_row(line) and not self._stuck and not (
            "`" in line or "\\" in line  # pipes that may not split cells: not counted
        ):
            self._header = line  # a table's header if the next line is its delimiter row
        self._pipe = self._pipe or "|" in line  # md4c's tables run on to a blank line
        self._blank = False
        if fence is not None:
            indent = len(fence.group(1))
            inside = bool(self._item_indent) and indent >= self._item_indent
            self._stuck = self._stuck or (indent > 0 and self._list == "?")
            self._fence = _Fence(fence.group(2), line, fast=cut and indent == 0 and not self._stuck,
                                 item=inside)
            if not inside:
                self._list, self._item_indent = None, 0
            return
        long = _HTML_LONG.match(line)
        if long:
            kind = next(i for i, g in enumerate(long.groups()) if g)
            self._html_end = f"</{long.group(1).lower()}>" if kind == 0 else _HTML_ENDS[kind]
            if self._html_end in line[long.end():].lower():
                self._html_end = None
        elif _HTML.match(line):
            self._html_end = ""


def only_rows(text: str) -> bool:
    """``text`` (complete lines after a table's rows) holds more rows of it, then blank lines
    at most: all of it draws rows of that table, or nothing."""
    lines = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    rows = len(lines)
    while rows and not lines[rows - 1].strip(" \t"):
        rows -= 1
    return all("|" in line and _plain_row(line) for line in lines[:rows])


def _plain_row(line: str) -> bool:
    """``line`` can only be a table row: it starts no other block."""
    stripped = line.lstrip(" ")
    return not (
        len(line) - len(stripped) > 3 or stripped.startswith((">", "\t"))
        or _ATX.match(stripped) or _FENCE.match(stripped) or _ITEM.match(stripped)
        or _RULE.fullmatch(line) or _HTML.match(line) or _HTML_LONG.match(line)
    )


def _cells(row: str) -> int:
    """How many cells a table row has (outer pipes are optional)."""
    inner = row.strip(" \t")
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return inner.count("|") + 1
