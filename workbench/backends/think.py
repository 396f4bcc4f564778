"""Split a local reasoning model's ``<think>…</think>`` block from its answer as it streams.

Open reasoning models (DeepSeek-R1 distills, Qwen3, QwQ, SmolLM3…) write their thinking into the
answer text inside a think block at its start. Servers that do not split it themselves, and
llama.cpp in process, hand us one text stream; this splitter turns it into reasoning pieces and
answer pieces, chunk by chunk, whatever the chunking: a tag cut across two chunks is held back
until it can be told apart from text. Only a block at the very start (after white space) is
thinking; a ``<think>`` later in an answer is the answer's text. A chat template that opens the
tag in the prompt makes the output start inside the block (``starts_inside``); a block never
closed (the model ran out of tokens while thinking) is all reasoning.
"""

from __future__ import annotations

from typing import Literal

OPEN = "<think>"
CLOSE = "</think>"

Piece = tuple[Literal["reasoning", "text"], str]

_State = Literal["start", "thinking", "answer"]


class ThinkSplitter:
    """Feed it the stream's text; it returns ``("reasoning" | "text", piece)`` pairs."""

    __slots__ = ("_held", "_state", "_trim")

    def __init__(self, *, starts_inside: bool = False) -> None:
        self._state: _State = "thinking" if starts_inside else "start"
        self._held = ""
        #: Drop the line breaks that follow a tag, wherever the chunks were cut.
        self._trim = starts_inside

    def _emit(self, pieces: list[Piece], kind: Literal["reasoning", "text"], text: str) -> None:
        if self._trim:
            text = text.lstrip("\n")
            self._trim = not text
        if text:
            pieces.append((kind, text))

    def _enter(self, state: _State) -> None:
        self._state = state
        self._trim = True

    @property
    def answering(self) -> bool:
        """Everything fed from here on is answer text as it is (past the think block, or there
        is none, and no line break after the tag left to drop): callers may skip ``feed``."""
        return self._state == "answer" and not self._trim

    @property
    def thinking(self) -> bool:
        """Inside the think block."""
        return self._state == "thinking"

    def feed(self, chunk: str) -> list[Piece]:
        pieces: list[Piece] = []
        if self._state == "answer":
            self._emit(pieces, "text", chunk)
            return pieces
        buffer = self._held + chunk
        self._held = ""
        if self._state == "start":
            stripped = buffer.lstrip()
            if stripped.startswith(OPEN):
                self._enter("thinking")
                buffer = stripped[len(OPEN):]
            elif OPEN.startswith(stripped):  # white space or a cut-off "<thi": wait for more
                self._held = buffer
                return pieces
            else:
                self._state = "answer"
                self._emit(pieces, "text", buffer)
                return pieces
        end = buffer.find(CLOSE)
        if end >= 0:
            self._emit(pieces, "reasoning", buffer[:end])
            self._enter("answer")
            self._emit(pieces, "text", buffer[end + len(CLOSE):])
            return pieces
        keep = _partial_suffix(buffer, CLOSE)
        self._emit(pieces, "reasoning", buffer[: len(buffer) - keep])
        self._held = buffer[len(buffer) - keep:]
        return pieces

    def flush(self) -> list[Piece]:
        """The end of the stream: what was held back, as what it turned out to be."""
        held, self._held = self._held, ""
        pieces: list[Piece] = []
        self._emit(pieces, "reasoning" if self._state == "thinking" else "text", held)
        return pieces


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a start of ``tag`` (a tag cut in two)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


def split_think(text: str, *, starts_inside: bool = False) -> tuple[str, str]:
    """``(reasoning, answer)`` of a whole text (a non-streamed answer)."""
    splitter = ThinkSplitter(starts_inside=starts_inside)
    pieces = splitter.feed(text) + splitter.flush()
    reasoning = "".join(p for kind, p in pieces if kind == "reasoning")
    return reasoning, "".join(p for kind, p in pieces if kind == "text")
