"""Words and numbers for run states: what a failure means for the user, what a finish reason
means, and durations/rates with their units. Shared by every view that shows a run."""

from __future__ import annotations

from workbench.core.errors import ErrorCode
from workbench.core.model_table import format_cost as format_cost  # the views' one source
from workbench.core.models import RunResult, Usage
from workbench.core.wording import format_duration as format_duration  # shared with the CLI

#: error code (a failed run's error_kind) -> where in the app to act. The error message itself
#: ends with the backend's own hint (the fix); this must not say it again, only point at the place.
WHAT_TO_DO: dict[str, str] = {
    ErrorCode.AUTH: "The API key is set in Tools ▸ Backends ▸ API key (kept in the OS keyring), "
    "or in the backend's environment variable.",
    ErrorCode.MISSING_KEY: "Nothing was sent. The API key is set in Tools ▸ Backends ▸ API key "
    "(kept in the OS keyring), or in the backend's environment variable.",
    ErrorCode.MODEL_NOT_FOUND: "The model and base URL are set in Tools ▸ Backends; List models "
    "there shows what the server offers.",
    ErrorCode.RATE_LIMIT: "Wait a moment and re-run; the backend's concurrency is set in Tools ▸ "
    "Backends.",
    ErrorCode.SERVER: "Re-run (Ctrl+Enter) to try again.",
    ErrorCode.CONNECT: "The base URL is set in Tools ▸ Backends; Test connection there checks it.",
    ErrorCode.TIMEOUT: "The timeouts are set in Tools ▸ Backends.",
    ErrorCode.PROTOCOL: "Re-run; if it repeats, turn off streaming for this backend in Tools ▸ "
    "Backends.",
    ErrorCode.BAD_REQUEST: "Parameters this backend ignores are greyed out in the Parameters "
    "pane; the model is chosen in the toolbar.",
    ErrorCode.PARAMETER: "The Parameters pane shows the range this backend accepts.",
    ErrorCode.BACKEND_UNAVAILABLE: "Backends are installed and configured in Tools ▸ Backends.",
    ErrorCode.BACKEND_CONFIG: "Backends are configured in Tools ▸ Backends (saved in "
    "backends.yaml).",
    ErrorCode.STORAGE: "The history database is in the app's data folder; check the disk has "
    "room and no other program holds it.",
    ErrorCode.RECORD_NOT_FOUND: "It was deleted or never saved; History and the Library list "
    "what is stored.",
    ErrorCode.INTERNAL: "This is a bug in the app or in a backend plugin; the log has the "
    "details. Re-run to try again.",
}
DEFAULT_WHAT_TO_DO = "Re-run; if it keeps failing, check the backend in Tools ▸ Backends."

FINISH_TEXT: dict[str, str] = {
    "stop": "the model ended its answer",
    "length": "max tokens reached: raise max tokens for a longer answer",
    "content_filter": "the provider's content filter withheld part of the answer",
    "tool_calls": "the model asked to call a tool",
    "cancelled": "cancelled",
    "error": "failed",
    "other": "ended for a reason the backend did not name",
}


#: finish_reason -> the few words the status line adds when the user has something to do.
FINISH_ACTION: dict[str, str] = {"length": "raise max tokens"}


def finish_status(reason: str) -> str:
    """The status line of a finished run, short enough for a narrow pane ("✓ finished · stop",
    "✓ finished · length — raise max tokens"); ``FINISH_TEXT`` explains it in the tooltip."""
    action = FINISH_ACTION.get(reason)
    return f"✓ finished · {reason}" + (f" — {action}" if action else "")


def what_to_do(code: str | None) -> str:
    """Where to act on a failure with this code (an error's ``code``, a run's ``error_kind``)."""
    return WHAT_TO_DO.get(code or "", DEFAULT_WHAT_TO_DO)


def format_rate(tokens_per_s: float | None, *, estimate: bool = False) -> str:
    if tokens_per_s is None:
        return "– tok/s"
    prefix = "≈ " if estimate else ""
    digits = 0 if tokens_per_s >= 10 else 1
    return f"{prefix}{tokens_per_s:,.{digits}f} tok/s"


def output_rate(result: RunResult) -> float | None:
    """Decode tokens/s: the backend's figure, else from the output tokens and the time after
    the first token (None when either is unknown)."""
    timings, tokens = result.timings, result.usage.output_tokens
    if timings.tokens_per_s is not None:
        return timings.tokens_per_s
    if tokens is None or tokens < 2 or timings.total_s is None or timings.ttft_s is None:
        return None
    span = timings.total_s - timings.ttft_s
    return (tokens - 1) / span if span > 0 else None


def tokens_text(usage: Usage) -> str:
    """A run's output tokens with the thinking's share apart: "1,234 tok (980 thinking)"."""
    if usage.output_tokens is None:
        return ""
    thinking = f" ({usage.reasoning_tokens:,} thinking)" if usage.reasoning_tokens else ""
    return f"{usage.output_tokens:,} tok{thinking}"


def figure_tips(result: RunResult) -> dict[str, str]:
    """What a finished run's figures mean, by figure ("ttft", "rate", "tokens", "cost")."""
    timings, usage, cost = result.timings, result.usage, result.cost
    loading = f" (model loading took {format_duration(timings.load_s)} more)"
    return {
        "ttft": "Time to first token" + (loading if timings.load_s else ""),
        "rate": "Tokens per second after the first token",
        "tokens": "Output tokens"
        + (" (the thinking is a part of them, billed as output)" if usage.reasoning_tokens else "")
        + (f"; prompt: {usage.input_tokens:,}" if usage.input_tokens is not None else ""),
        "cost": "This run cost nothing: the model runs on this computer (free (local))"
        if cost == 0 else "What the run cost at the model's list price" if cost is not None
        else "",
    }
