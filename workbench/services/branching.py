"""Branching at a token: continue a stored run's answer from its text up to a token, with an
alternative the model ranked there, as a new run linked to its parent.

The branch sends what the parent sent (its rendered messages or prompt, the parameters asked
for, the response format, model and configured backend) plus ``continue_from``: the answer's
beginning, which a backend that ``continues_answers`` reads as if its model had written it.
"""

from __future__ import annotations

from dataclasses import replace

from workbench.core.errors import KnownError
from workbench.core.models import Params, RunRequest
from workbench.storage.repositories.runs import RunRef, StoredRun


class BranchError(KnownError):
    """The run cannot be branched (said before anything is sent)."""


def branch(parent: StoredRun, prefix: str, token: int) -> tuple[RunRequest, RunRef]:
    """The request and ref of a branch of ``parent`` whose answer starts with ``prefix`` (the
    text before token ``token`` of the parent's answer, then the chosen alternative)."""
    sent = parent.result.request
    if not prefix:
        raise BranchError("a branch needs the text it continues from")
    request = RunRequest(
        backend=sent.backend_name or sent.backend,
        model=sent.model,
        messages=list(sent.messages),
        prompt=sent.prompt,
        params=sent.requested_params or Params(),
        response_format=sent.response_format,
        continue_from=prefix,
    )
    ref = replace(
        parent.ref,
        experiment_id=None,  # a branch is explored by hand, not a cell of the parent's grid
        variant_id=None,
        test_case_id=None,
        repeat_index=0,
        parent_run_id=parent.id,
        branch_token=token,
    )
    return request, ref
