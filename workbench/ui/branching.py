"""Branch at a token, in the main window: the token inspector's "Branch with" runs the answer
up to that token plus the chosen alternative as a new run, linked to the run it came from and
shown in the output as it streams (``services.branching`` builds the request)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.core.errors import KnownError
from workbench.core.models import RunResult
from workbench.services.branching import branch

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow

NOT_CONTINUED = (
    "Branching needs a backend that continues an answer token for token: the local llama.cpp "
    "model does"
)


def install(window: MainWindow) -> None:
    """Offer branching in ``window``'s output view."""
    window.output.inspector.branch_check = lambda result: branch_note(window, result)
    window.output.branchRequested.connect(
        lambda result, prefix, index: start_branch(window, result, prefix, index)
    )


def branch_note(window: MainWindow, result: RunResult) -> str:
    """Why ``result`` cannot be branched ("" when it can)."""
    sent = result.request
    try:
        backend = window.workspace.runner.backend(sent.backend_name or sent.backend)
    except KnownError as err:
        return f"Cannot branch: {err}"
    return "" if backend.continues_answers else NOT_CONTINUED


def start_branch(window: MainWindow, result: RunResult, prefix: str, index: int) -> None:
    """Run the branch and follow it in the output view; history lists it under its parent."""
    parent_id = window.output.run_id
    status = window.statusBar()
    if parent_id is None:
        status.showMessage("Cannot branch: this run was not saved to the history", 10_000)
        return
    try:
        request, ref = branch(window.workspace.store.runs.get(parent_id), prefix, index)
    except KnownError as err:
        status.showMessage(f"Cannot branch: {err}", 10_000)
        return
    worker = window.runs.start_run(request, ref=ref)
    worker.signals.ended.connect(lambda _outcome: window.history.refresh())
    window.output.attach(worker)
    window.lower_tabs.setCurrentWidget(window.output)
    status.showMessage(f"Branching at token {index + 1}…", 5_000)
