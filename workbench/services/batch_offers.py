"""The pre-run estimate's batch line: what the calls of each backend with a batch API would cost
sent as a batch job (``services.batch``), and within what window.

Only backends whose calls have a known price are offered: the line is about the price, and a
local OpenAI-compatible server (vLLM, LM Studio) has neither a price nor a batch API.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from workbench.backends.batch import batch_provider, supports_batch
from workbench.core.batch_offer import BatchOffer
from workbench.core.errors import KnownError
from workbench.core.grid import CellEstimate

if TYPE_CHECKING:
    from workbench.services.runner import Runner


def batch_offers(runner: Runner, cells: Iterable[CellEstimate]) -> list[BatchOffer]:
    """One offer per backend of ``cells`` whose provider has a batch API."""
    by_backend: dict[str, list[CellEstimate]] = {}
    for cell in cells:
        if cell.error is None:
            by_backend.setdefault(cell.backend, []).append(cell)
    offers = []
    for name, group in by_backend.items():
        try:
            backend = runner.backend(name)
            if not supports_batch(backend):
                continue
            provider = batch_provider(backend)
        except KnownError:
            continue  # its cells say why it cannot run; a pool has no batch API
        costs: dict[str, float] = {}
        for cell in group:
            if cell.cost is not None and cell.currency is not None:
                costs[cell.currency] = costs.get(cell.currency, 0.0) + cell.cost * provider.discount
        if not any(costs.values()):
            continue
        offers.append(
            BatchOffer(
                name,
                provider.name,
                len(group),
                provider.discount,
                provider.completion_window,
                costs,
                sum(1 for cell in group if cell.cost is None),
            )
        )
    return offers
