"""Fine-tuning data: chosen runs as OpenAI chat JSONL, A/B preferences as DPO JSONL, and checks.

``check_finetune_file`` applies the format checks of OpenAI's cookbook "Data preparation and
analysis for chat model fine-tuning" with the same error keys (``data_type``,
``missing_messages_list``, ``message_missing_key``, ``message_unrecognized_key``,
``unrecognized_role``, ``missing_content``, ``example_missing_assistant_message``), each with its
line, plus ``invalid_json`` for a line that does not parse (the cookbook would stop there). Token
counts follow the cookbook too: cl100k_base, 3 tokens per message, every string value of a
message, 1 more for a name, 3 for the reply priming. Its warnings: fewer than 10 examples (the
API's minimum) and examples over the token limit (16,385 by default), which are truncated.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from workbench.core.errors import KnownError
from workbench.core.models import RenderedMessage, RunResult

_T = TypeVar("_T")

FORMAT_ERROR_KEYS = (
    "data_type",
    "missing_messages_list",
    "message_missing_key",
    "message_unrecognized_key",
    "unrecognized_role",
    "missing_content",
    "example_missing_assistant_message",
)
INVALID_JSON = "invalid_json"
MESSAGE_KEYS = (
    "role", "content", "name", "function_call", "weight", "tool_calls", "tool_call_id"
)
ROLES = ("system", "user", "assistant", "function", "tool")
TOKEN_LIMIT = 16_385
MIN_EXAMPLES = 10
# The cookbook's default-epochs rule, for the charged-tokens estimate.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


# --- writing -----------------------------------------------------------------------------------


def _input_messages(result: RunResult) -> list[dict[str, Any]]:
    request = result.request
    if request.messages:
        return [m.as_openai() for m in request.messages]
    return [{"role": "user", "content": request.prompt or ""}]


def _check_usable(result: RunResult, what: str) -> None:
    if result.error is not None or result.finish_reason in ("error", "cancelled"):
        raise KnownError(
            f"{what} did not finish ({result.finish_reason}): it cannot be a training example"
        )
    if not result.text.strip() and not result.tool_calls:
        raise KnownError(f"{what} has an empty answer: it cannot be a training example")


def finetune_example(result: RunResult, *, include_reasoning: bool = False) -> dict[str, Any]:
    """One chat fine-tuning example: the exact messages sent, then the answer as the assistant.

    A reasoning model's thinking is left out (it would teach the model to print its thoughts as
    the answer) unless ``include_reasoning``: then it leads the answer in a ``<think>`` block,
    the form open reasoning models are trained on."""
    _check_usable(result, "the run")
    answer = result.text
    if include_reasoning and result.reasoning.strip():
        answer = f"<think>\n{result.reasoning.strip()}\n</think>\n\n{answer}"
    reply = RenderedMessage(role="assistant", content=answer, tool_calls=result.tool_calls)
    example: dict[str, Any] = {"messages": [*_input_messages(result), reply.as_openai()]}
    if result.request.tools:  # OpenAI's format: the tools the model could call, per example
        example["tools"] = [tool.as_openai() for tool in result.request.tools]
    return example


def truncated(result: RunResult) -> bool:
    """The run stopped at its token limit: its answer ends wherever the limit fell."""
    return result.finish_reason == "length"


@dataclass(frozen=True)
class FinetuneData:
    """Fine-tuning JSONL and how many runs were left out because they were truncated."""

    text: str
    truncated: int = 0


def finetune_jsonl(
    results: Iterable[RunResult],
    *,
    include_truncated: bool = False,
    include_reasoning: bool = False,
) -> FinetuneData:
    """OpenAI chat fine-tuning JSONL, one chosen run per line.

    A run cut off at its token limit would teach the model to stop mid-sentence, so it is left
    out (and counted) unless ``include_truncated``; reasoning is kept only with
    ``include_reasoning`` (see ``finetune_example``)."""
    text, left_out = _jsonl(
        results,
        lambda result: finetune_example(result, include_reasoning=include_reasoning),
        "run",
        skip=None if include_truncated else truncated,
    )
    return FinetuneData(text, left_out)


@dataclass(frozen=True)
class PreferencePair:
    """An A/B rating: two answers to the same request, the preferred one first."""

    preferred: RunResult
    rejected: RunResult


def dpo_example(pair: PreferencePair) -> dict[str, Any]:
    """One example in OpenAI's preference (DPO) format."""
    _check_usable(pair.preferred, "the preferred run")
    _check_usable(pair.rejected, "the rejected run")
    messages = _input_messages(pair.preferred)
    if messages != _input_messages(pair.rejected):
        raise KnownError("the two runs of a preference pair were sent different messages")
    if pair.preferred.text == pair.rejected.text:
        raise KnownError("the two answers of a preference pair are identical")
    return {
        "input": {"messages": messages},
        "preferred_output": [{"role": "assistant", "content": pair.preferred.text}],
        "non_preferred_output": [{"role": "assistant", "content": pair.rejected.text}],
    }


def dpo_jsonl(pairs: Iterable[PreferencePair]) -> str:
    return _jsonl(pairs, dpo_example, "pair")[0]


def _jsonl(
    items: Iterable[_T],
    example: Callable[[_T], dict[str, Any]],
    what: str,
    skip: Callable[[_T], bool] | None = None,
) -> tuple[str, int]:
    """One example per line and how many items ``skip`` left out; an unusable item fails the
    whole file, naming its number."""
    lines = []
    skipped = 0
    for n, item in enumerate(items, 1):
        if skip is not None and skip(item):
            skipped += 1
            continue
        try:
            lines.append(json.dumps(example(item), ensure_ascii=False))
        except KnownError as err:
            raise KnownError(f"{what} {n}: {err.message}") from None
    return "".join(line + "\n" for line in lines), skipped


# --- checking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormatIssue:
    line: int
    key: str
    message: str


@dataclass(frozen=True)
class Distribution:
    """The cookbook's distribution summary (its "p5 / p95" are the 10th and 90th percentiles)."""

    min: int
    max: int
    mean: float
    median: float
    p10: float
    p90: float

    @classmethod
    def of(cls, values: list[int]) -> Distribution | None:
        if not values:
            return None
        ordered = sorted(values)

        def quantile(q: float) -> float:  # numpy's default (linear) interpolation
            pos = q * (len(ordered) - 1)
            low = int(pos)
            high = min(low + 1, len(ordered) - 1)
            return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)

        return cls(
            ordered[0],
            ordered[-1],
            statistics.fmean(ordered),
            statistics.median(ordered),
            quantile(0.1),
            quantile(0.9),
        )


@dataclass
class FinetuneReport:
    """Everything ``check_finetune_file`` found."""

    examples: int = 0
    format_errors: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((*FORMAT_ERROR_KEYS, INVALID_JSON), 0)
    )
    issues: list[FormatIssue] = field(default_factory=list)
    messages_per_example: list[int] = field(default_factory=list)
    tokens_per_example: list[int] = field(default_factory=list)
    assistant_tokens_per_example: list[int] = field(default_factory=list)
    missing_system: int = 0
    missing_user: int = 0
    too_long_lines: list[int] = field(default_factory=list)
    token_limit: int = TOKEN_LIMIT
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.format_errors.values())

    @property
    def billing_tokens(self) -> int:
        return sum(min(self.token_limit, n) for n in self.tokens_per_example)

    @property
    def epochs(self) -> int:
        n = self.examples
        if n and n * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
            return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n)
        if n * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
            return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n)
        return TARGET_EPOCHS

    def add(self, line: int, key: str, message: str) -> None:
        self.format_errors[key] = self.format_errors.get(key, 0) + 1
        self.issues.append(FormatIssue(line, key, message))

    def to_dict(self) -> dict[str, Any]:
        def dist(values: list[int]) -> dict[str, float] | None:
            d = Distribution.of(values)
            return None if d is None else vars(d)

        return {
            "examples": self.examples,
            "ok": self.ok,
            "format_errors": dict(self.format_errors),
            "issues": [vars(i) for i in self.issues],
            "tokens": {
                "encoding": "cl100k_base",
                "per_example": dist(self.tokens_per_example),
                "assistant_per_example": dist(self.assistant_tokens_per_example),
                "messages_per_example": dist(self.messages_per_example),
                "total": sum(self.tokens_per_example),
                "token_limit": self.token_limit,
                "over_limit": len(self.too_long_lines),
                "billing_tokens": self.billing_tokens,
                "default_epochs": self.epochs,
                "charged_tokens": self.epochs * self.billing_tokens,
            },
            "missing_system": self.missing_system,
            "missing_user": self.missing_user,
            "warnings": list(self.warnings),
        }


def _check_example(ex: Any, line: int, report: FinetuneReport) -> bool:
    """The cookbook's checks for one example; True when it has no format error."""
    before = len(report.issues)
    if not isinstance(ex, dict):
        report.add(line, "data_type", f"an example must be a JSON object, not {type(ex).__name__}")
        return False
    messages = ex.get("messages")
    if not messages or not isinstance(messages, list):
        report.add(line, "missing_messages_list", "no 'messages' list")
        return False
    for n, message in enumerate(messages, 1):
        if not isinstance(message, dict):
            report.add(
                line,
                "message_missing_key",
                f"message {n} is not an object with 'role' and 'content'",
            )
            continue
        if "role" not in message or "content" not in message:
            missing = [k for k in ("role", "content") if k not in message]
            report.add(
                line,
                "message_missing_key",
                f"message {n} has no {' or '.join(repr(k) for k in missing)}",
            )
        unknown = [k for k in message if k not in MESSAGE_KEYS]
        if unknown:
            report.add(
                line, "message_unrecognized_key", f"message {n} has unrecognized keys {unknown}"
            )
        if message.get("role") not in ROLES:
            report.add(line, "unrecognized_role", f"message {n} has role {message.get('role')!r}")
        content, function_call = message.get("content"), message.get("function_call")
        if message.get("tool_calls"):  # an assistant's calls need no text
            continue
        if _content_parts(content):  # OpenAI's vision fine-tuning: text and image_url parts
            continue
        if (not content and not function_call) or not isinstance(content, str):
            report.add(line, "missing_content", f"message {n} has no text content")
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        report.add(line, "example_missing_assistant_message", "no assistant message")
    return len(report.issues) == before


def _content_parts(content: Any) -> bool:
    """Whether ``content`` is a list of OpenAI content parts (``text`` / ``image_url``) with
    something in it, as a user message with images is written."""
    kinds = {"text": "text", "image_url": "image_url"}
    return isinstance(content, list) and bool(content) and all(
        isinstance(part, dict) and part.get("type") in kinds and kinds[part["type"]] in part
        for part in content
    )


def _text_of(value: Any) -> str:
    """A message value's text: a string, or the text parts of a content-parts list."""
    if isinstance(value, str):
        return value
    if _content_parts(value):
        return "".join(p["text"] for p in value if p["type"] == "text")
    return ""


def _message_tokens(messages: list[dict[str, Any]], count: Callable[[str], int]) -> tuple[int, int]:
    """The cookbook's ``num_tokens_from_messages`` and assistant tokens."""
    total = assistant = 0
    for message in messages:
        total += 3
        for key, value in message.items():
            if text := _text_of(value):
                total += count(text)
            if key == "name":
                total += 1
        if message.get("role") == "assistant" and isinstance(message.get("content"), str):
            assistant += count(message["content"])
    return total + 3, assistant


def _cl100k() -> Callable[[str], int]:
    from workbench.core.tokens import TiktokenTokenizer

    return TiktokenTokenizer("cl100k_base").count


def check_finetune_file(
    text: str,
    count_tokens: Callable[[str], int] | None = None,
    *,
    token_limit: int = TOKEN_LIMIT,
    min_examples: int = MIN_EXAMPLES,
) -> FinetuneReport:
    """Check chat fine-tuning JSONL text; never raises for bad content."""
    count = count_tokens or _cl100k()
    report = FinetuneReport(token_limit=token_limit)
    # JSONL lines end at LF only: JSON strings may hold U+2028 and the like raw.
    lines = [row.removesuffix("\r") for row in text.removeprefix("\ufeff").split("\n")]
    if lines and not lines[-1]:
        lines.pop()
    blank = []
    for n, row in enumerate(lines, 1):
        if not row.strip():
            blank.append(n)
            continue
        report.examples += 1
        try:
            example = json.loads(row)
        except (json.JSONDecodeError, RecursionError) as err:
            message = err.msg if isinstance(err, json.JSONDecodeError) else "nested too deeply"
            report.add(n, INVALID_JSON, f"not valid JSON: {message}")
            continue
        if not _check_example(example, n, report):
            continue
        messages = example["messages"]
        roles = {m.get("role") for m in messages}
        report.missing_system += "system" not in roles
        report.missing_user += "user" not in roles
        report.messages_per_example.append(len(messages))
        total, assistant = _message_tokens(messages, count)
        report.tokens_per_example.append(total)
        report.assistant_tokens_per_example.append(assistant)
        if total > token_limit:
            report.too_long_lines.append(n)
    if blank and any(row.strip() for row in lines[blank[0] :]):
        report.warnings.append(f"blank lines ignored: {', '.join(map(str, blank))}")
    if report.examples < min_examples:
        report.warnings.append(
            f"{report.examples} examples: fine-tuning needs at least {min_examples} "
            "(a useful set has about 100)"
        )
    if report.too_long_lines:
        report.warnings.append(
            f"{len(report.too_long_lines)} examples may be over the {token_limit:,} token limit "
            "and will be "
            f"truncated during fine-tuning (lines {', '.join(map(str, report.too_long_lines))})"
        )
    return report
