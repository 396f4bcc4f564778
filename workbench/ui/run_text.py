"""Words and numbers for run states: what a failure means for the user, what a finish reason
means, and durations/rates with their units. Shared by every view that shows a run."""

from __future__ import annotations

from workbench.core.model_table import format_cost as format_cost  # the views' one source
from workbench.core.models import RunResult

#: error_kind -> what the user can do about it. The error message itself carries the specific
#: hint from the backend; this says where in the app to act.
WHAT_TO_DO: dict[str, str] = {
    "AuthError": "Check the API key: Tools ▸ Backends ▸ API key (kept in the OS keyring), or the "
    "backend's environment variable.",
    "NotFoundError": "Check the model name and the base URL in Tools ▸ Backends; List models shows "
    "what the server offers.",
    "RateLimitError": "The server is limiting requests: wait a moment and re-run, or lower the "
    "backend's concurrency in Tools ▸ Backends.",
    "ServerError": "The server failed: re-run; if it keeps failing, look at the server's log.",
    "ConnectError": "Nothing answers at the backend's URL: start the server or correct the base "
    "URL in Tools ▸ Backends, then press Test connection.",
    "BackendTimeoutError": "The server took too long: re-run, or raise the read timeout in "
    "Tools ▸ Backends.",
    "ProtocolError": "The server sent a malformed answer: re-run; if it repeats, turn off "
    "streaming for this backend in Tools ▸ Backends.",
    "BadRequestError": "The server rejected the request: check the parameters (those this backend "
    "ignores are greyed out) and the model name.",
    "ParameterError": "Bring the parameter inside the range this backend accepts (Parameters "
    "panel).",
    "BackendUnavailableError": "Install or configure the backend in Tools ▸ Backends.",
    "InternalError": "This is a bug in the app or in a backend plugin; the log has the details. "
    "Re-run to try again.",
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


def what_to_do(error_kind: str | None) -> str:
    return WHAT_TO_DO.get(error_kind or "", DEFAULT_WHAT_TO_DO)


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
