"""core.outcome: the one decision of how a run ended, the one 'would have been sent' builder and
the one accumulation of streamed text, shared by the runner, the views and the services."""

from __future__ import annotations

import pytest

from tests.storage.factories import make_result
from workbench.core.models import Params, RenderedMessage, RunRequest
from workbench.core.outcome import RunOutcome, Transcript, status_of, unsent
from workbench.core.sweep_cells import ScoredRun, summarize_cell

REQUEST = RunRequest(
    backend="down",
    model="llama3",
    messages=[RenderedMessage(role="user", content="Capital of France?")],
    params=Params(seed=7, temperature=0.2),
)


@pytest.mark.parametrize(
    ("finish", "error", "status"),
    [("stop", None, "ok"), ("length", None, "ok"), ("error", "no server", "error"),
     ("stop", "the answer was cut", "error"), ("cancelled", None, "cancelled")],
)
def test_status_is_decided_from_finish_reason_and_error(
    finish: str, error: str | None, status: str
) -> None:
    result = make_result("q", "text").model_copy(update={"finish_reason": finish, "error": error})
    assert status_of(result) == status
    assert RunOutcome(result, "r1").status == status


def test_a_sweep_cell_counts_as_failed_what_history_stores_as_failed() -> None:
    """A run with an error message but a 'stop' finish was an answer in the sweep matrix while
    history listed it as an error: both read status_of now."""
    odd = make_result("q", "half an answer").model_copy(update={"error": "stream cut"})
    summary = summarize_cell([ScoredRun(make_result("q", "Paris")), ScoredRun(odd)])
    assert (summary.ended, summary.failed) == (2, 1)
    assert [g.text for g in summary.groups] == ["Paris"]


def test_unsent_records_what_would_have_been_sent() -> None:
    sent = unsent(REQUEST, backend="openai_compat", version="1.2")
    assert (sent.backend, sent.backend_version, sent.model, sent.seed) == (
        "openai_compat", "1.2", "llama3", 7)
    assert sent.messages == REQUEST.messages and sent.prompt is None
    bare = unsent(None, backend="down", model="llama3")  # the template did not render
    assert (bare.backend, bare.model, bare.messages) == ("down", "llama3", [])


def test_a_transcript_ends_with_the_text_received_and_what_was_sent() -> None:
    transcript = Transcript(unsent(REQUEST, backend="down"))
    for piece in ("Par", "is"):
        transcript.add(piece)
    result = transcript.ended("error", error="reset", error_kind="ConnectError")
    outcome = RunOutcome(result)
    assert (outcome.text, outcome.status, outcome.error_code, outcome.run_id) == (
        "Paris", "error", "ConnectError", None)
    assert outcome.request.model == "llama3"
