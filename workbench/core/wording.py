"""Counts and durations in words: "1 experiment", "2 experiments" (a count of one never reads
"1 runs"), "840 ms", "2.41 s" — one wording for the app and the command line."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is one (``many`` for
    an irregular plural; default: ``noun`` + "s"). Counts are grouped: "1,200 runs"."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def format_duration(seconds: float | None) -> str:
    """"840 ms", "2.41 s", "12.3 s", "3 min 05 s"; "–" when unknown."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def one_line(text: str, width: int) -> str:
    """``text`` on one line (its whitespace runs made single spaces), cut to at most ``width``
    characters with "…"."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
