"""A real tokenizer of another kind than tiktoken, for the tokenizer hook's tests."""

from __future__ import annotations

from workbench.core.tokens import TokenSpan, spans_from_token_bytes


class ByteTokenizer:
    """One token per UTF-8 byte: exact for a byte-level model, and with no known boundaries."""

    def __init__(self, name: str = "bytes", exact: bool = True) -> None:
        self.name = name
        self.exact = exact
        self.note = f"{name}: one token per byte"
        self.calls = 0

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def count(self, text: str) -> int:
        self.calls += 1
        return len(text.encode("utf-8"))

    def spans(self, text: str) -> list[TokenSpan]:
        data = text.encode("utf-8")
        return spans_from_token_bytes(text, list(data), [bytes([b]) for b in data])
