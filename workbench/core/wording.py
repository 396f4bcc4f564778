"""Counts in words: "1 experiment", "2 experiments", so a count of one never reads "1 runs"."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is one (``many`` for
    an irregular plural; default: ``noun`` + "s"). Counts are grouped: "1,200 runs"."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"
