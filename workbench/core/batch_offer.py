"""What a run would cost and take through a provider's batch API instead of live calls, as a
pre-run estimate shows it (``Estimate.batch``; filled by ``services.batch_offers``).

A provider batch answers within its completion window (OpenAI, Anthropic: 24 h) at a discount
on the list price (both: half), so a large remote sweep that need not finish now costs less.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BatchOffer:
    """One backend's calls sent as a batch job: ``costs`` is the upper bound at the batch price
    (per currency, over the priced calls), ``discount`` its share of the list price."""

    backend: str
    provider: str
    calls: int
    discount: float
    window: str
    costs: dict[str, float] = field(default_factory=dict)
    unpriced_calls: int = 0

    def line(self) -> str:
        money = ", ".join(f"≤ {amount:.4f} {cur}" for cur, amount in self.costs.items())
        price = f"{money} ({self.discount:.0%} of list price)" if money else "price unknown"
        unpriced = f", {self.unpriced_calls:,} calls unpriced" if self.unpriced_calls else ""
        return (
            f"{self.backend}: {self.calls:,} calls {price}{unpriced} through {self.provider}'s "
            f"batch API, answered within {self.window} (workbench batch submit)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "provider": self.provider,
            "calls": self.calls,
            "discount": self.discount,
            "completion_window": self.window,
            "cost_upper_bound": self.costs,
            "unpriced_calls": self.unpriced_calls,
        }


def batch_lines(offers: Sequence[BatchOffer]) -> list[str]:
    """``batch:`` lines of an estimate (none when no backend of the run has a batch API)."""
    return [f"batch:          {offer.line()}" for offer in offers]
