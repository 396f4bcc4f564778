"""Reading answers out of model output: extraction, majority vote, JSON parsing and validation.

Chain-of-thought answers end with the final answer somewhere in free text; self-consistency samples
several of them and votes; structured-output templates expect JSON that matches a schema. These
helpers are pure functions so the runner, the evaluator and the CLI all read answers the same way.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from workbench.core.errors import KnownError

#: Matches "Answer: X", "The answer is X", "**Answer:** X"; the rest of that line is the answer.
DEFAULT_ANSWER_PATTERN = r"(?i)\banswer\**\s*(?:is\s*:?|:)\s*(.+)"
#: The same, but only a number ("$1,200.50" gives "1,200.50"): math answers.
NUMBER_ANSWER_PATTERN = r"(?i)\banswer\**\s*(?:is\s*:?|:)[\s*$€£]*(-?\d[\d,]*(?:\.\d+)?)"

# Stripped from both ends of an answer: whitespace, sentence punctuation, quotes, markdown marks.
_EDGE = " \t\r\n.,;:!?'\"`*_()[]«»“”‘’"
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


class AnswerPatternError(KnownError):
    """An answer-extraction pattern that is not a valid regular expression."""


class JSONOutputError(KnownError):
    """Model output that is not JSON, or JSON that does not match the schema.

    ``path`` is where in the document the first schema violation is ("$.items[2].price");
    ``problems`` lists every violation found, each as "path: message".
    """

    def __init__(self, message: str, *, path: str = "", problems: list[str] | None = None,
                 hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.problems = problems or []


class SchemaDefinitionError(KnownError):
    """A template's output schema that is not itself a valid JSON schema."""


class Vote(NamedTuple):
    """The majority answer, how many samples gave it, and their share of all samples."""

    answer: str | None
    votes: int
    share: float


@lru_cache(maxsize=128)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile an answer pattern, as a ``KnownError`` naming the problem if it is invalid."""
    try:
        return re.compile(pattern)
    except re.error as err:
        raise AnswerPatternError(
            f"answer pattern is not a valid regular expression: {err.msg} "
            f"at character {(err.pos or 0) + 1}",
            hint="fix the pattern in the template's answer pattern field",
        ) from None


def normalize_answer(answer: str, *, casefold: bool = False) -> str:
    """One canonical spelling of an answer, so equal answers vote together.

    Surrounding punctuation, quotes and markdown emphasis go; inner whitespace collapses to one
    space; a plain number loses its thousands separators and trailing fractional zeros
    ("1,200.50" -> "1200.5", "18.0" -> "18").
    """
    text = " ".join(answer.split()).strip(_EDGE)
    if _NUMBER.fullmatch(text):
        plain = text.replace(",", "")
        if "." in plain:
            plain = format(Decimal(plain).normalize(), "f")
        text = plain
    return text.casefold() if casefold else text


def extract_answer(text: str, pattern: str = "", *, casefold: bool = False) -> str | None:
    """The final answer in ``text``, normalised; ``None`` if the pattern does not match.

    The *last* match wins: reasoning often mentions intermediate "answers" before the final one.
    The answer is the group named ``answer`` if the pattern has one, else its first group, else
    the whole match. An empty pattern takes the whole text as the answer.
    """
    if not pattern:
        answer = normalize_answer(text, casefold=casefold)
        return answer or None
    regex = compile_pattern(pattern)
    last: re.Match[str] | None = None
    for last in regex.finditer(text):  # noqa: B007 - the loop keeps the last match
        pass
    if last is None:
        return None
    if "answer" in regex.groupindex:
        raw = last.group("answer")
    elif regex.groups:
        raw = last.group(1)
    else:
        raw = last.group(0)
    if raw is None:
        return None
    answer = normalize_answer(raw, casefold=casefold)
    return answer or None


def majority_vote(answers: Iterable[str | None]) -> Vote:
    """The most frequent answer among samples; ``None`` answers (nothing extracted) never win.

    Ties go to the answer that appeared first, so the result depends only on the samples and
    their order. ``share`` is the count over *all* samples, failed extractions included, so it
    says honestly how much the samples agree.
    """
    samples = list(answers)
    counts = Counter(a for a in samples if a is not None)
    if not counts:
        return Vote(None, 0, 0.0)
    first_seen = {a: i for i, a in reversed(list(enumerate(samples))) if a is not None}
    answer = min(counts, key=lambda a: (-counts[a], first_seen[a]))
    return Vote(answer, counts[answer], counts[answer] / len(samples))


def vote_on_outputs(outputs: Iterable[str], pattern: str = "", *, casefold: bool = False) -> Vote:
    """Self-consistency: extract the answer from every sampled output, then take the majority."""
    return majority_vote(extract_answer(text, pattern, casefold=casefold) for text in outputs)


# --- structured (JSON) output -------------------------------------------------------------------

_MAX_STARTS = 64  # brackets tried as the start of the JSON value
# A fenced block; an answer cut off by max_tokens may lack the closing fence.
_FENCE = re.compile(r"```[ \t]*(?:json5?|JSON)?[ \t]*\r?\n(.*?)(?:\r?\n[ \t]*```|\Z)", re.DOTALL)


def _json_path(parts: Iterable[Any]) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _json_text(text: str) -> str:
    """The JSON part of an answer: inside the first ```json fence, if there is one."""
    fence = _FENCE.search(text)
    return fence.group(1) if fence else text


def _decode(candidate: str) -> Any:
    """Decode JSON, skipping prose before the value and ignoring anything after it.

    Each ``{`` or ``[`` is tried in turn, since prose may contain brackets too, but never one
    inside a value that already failed to parse (a truncated object is an error, not its first
    complete inner list). If none starts a valid value, the first error is reported.
    """
    stripped = candidate.strip()
    if not stripped:
        raise JSONOutputError("the answer is empty; expected JSON")
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    starts = [i for i, ch in enumerate(stripped) if ch in "{["][:_MAX_STARTS]
    if not starts:
        raise JSONOutputError(
            "the answer contains no JSON object or array",
            hint="ask for JSON only, or lower the temperature",
        )
    first_error: json.JSONDecodeError | None = None
    failed_until = -1
    decoder = json.JSONDecoder()
    for start in starts:
        if start < failed_until:
            continue  # inside a value that already failed: a nested bracket is not the answer
        try:
            return decoder.raw_decode(stripped, start)[0]
        except json.JSONDecodeError as err:
            first_error = first_error or err
            failed_until = max(failed_until, err.pos)
    assert first_error is not None
    # JSON strings cannot span lines, so an unterminated one also ran into the end of the text.
    if first_error.pos >= len(stripped) or first_error.msg.startswith("Unterminated string"):
        raise JSONOutputError(
            "the answer's JSON is cut off before it ends",
            hint="raise max_tokens, or ask for a shorter answer",
        )
    raise JSONOutputError(
        f"the answer is not valid JSON: {first_error.msg} "
        f"(line {first_error.lineno}, column {first_error.colno})",
        hint="ask for JSON only, or lower the temperature",
    )


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ``SchemaDefinitionError`` if ``schema`` is not a valid JSON schema."""
    import jsonschema  # 80 ms: only when a schema is actually checked, not at app start
    from jsonschema.exceptions import SchemaError

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except SchemaError as err:
        where = _json_path(err.path)
        raise SchemaDefinitionError(
            f"the output schema is not a valid JSON schema: at {where}: {err.message}"
        ) from None


def parse_json_output(text: str, schema: dict[str, Any] | None = None) -> Any:
    """Parse a model's JSON answer and, if a schema is given, validate it.

    Tolerates a ```json fence and prose around the value. Raises ``JSONOutputError`` naming the
    position of a syntax error or the path of the first schema violation.
    """
    value = _decode(_json_text(text))
    if schema is None:
        return value
    check_schema(schema)
    import jsonschema
    from jsonschema.exceptions import ValidationError, best_match

    validator = jsonschema.validators.validator_for(schema)(schema)
    errors: list[ValidationError] = sorted(
        validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if errors:
        first = best_match(errors)
        path = _json_path(first.absolute_path)
        problems = [f"{_json_path(e.absolute_path)}: {e.message}" for e in errors]
        raise JSONOutputError(
            f"the answer does not match the schema: at {path}: {first.message}",
            path=path,
            problems=problems,
        )
    return value
