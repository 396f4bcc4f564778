"""Which varied settings change nothing: said before a comparison or sweep runs.

With greedy decoding on, temperature, top-p, top-k, min-p and the seed do nothing (the most
probable token is always taken); at temperature 0 the other sampling settings do nothing either;
and a backend drops the parameters it does not honour. A compare column "temperature 0.9" over a
greedy base, or a temperature × top-p sweep of a greedy preset, then sends the same request
several times and the results look identical for no visible reason. ``check`` names each varied
parameter that has no effect (and where, and why) and the variants that send the very same
request, so the estimate can say so before anything runs. Pure: capabilities come in as
``ignored``, a function of the backend name and model (a model may drop what its backend's API
carries: a reasoning effort for a model that does not reason).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.experiments import Variant
from workbench.core.models import Params
from workbench.core.params import NOT_WHILE_THINKING

#: Settings that only shape sampling: without sampling (greedy), they change nothing.
SAMPLING = ("temperature", "top_p", "top_k", "min_p", "seed")

Ignored = Callable[[str, str], Collection[str]]  # (backend, model) -> parameters ignored


def _nothing_ignored(_backend: str, _model: str) -> Collection[str]:
    return ()


def why_no_effect(params: Params, name: str, where: str, ignored: Collection[str]) -> str:
    """Why parameter ``name`` changes nothing in a request with ``params`` sent ``where`` (a
    backend, or a backend's model), "" when it does change something."""
    if name in ignored:
        return f"{where} ignores {name}"
    if name in NOT_WHILE_THINKING and thinks(params, ignored):
        return "a thinking budget is set, and thinking takes no temperature or top-k change"
    if name in SAMPLING and params.greedy:
        return "greedy decoding is on"
    if name in SAMPLING and name != "temperature" and params.temperature == 0:
        return "temperature 0 is greedy decoding"
    return ""


def greedy(params: Params) -> bool:
    """Whether ``params`` decode greedily (always the most probable token)."""
    return params.greedy or params.temperature == 0


def thinks(params: Params, ignored: Collection[str]) -> bool:
    """Whether ``params`` turn a thinking budget on at a backend that honours it (which then
    drops ``NOT_WHILE_THINKING``: backends.messages.anthropic_thinking)."""
    return params.thinking_budget is not None and "thinking_budget" not in ignored


def effective_params(params: Params, ignored: Collection[str]) -> dict[str, Any]:
    """The parameters that shape the answer: what is set, less what has no effect (greedy
    decoding, however it is asked for, reads as one setting)."""
    values = params.set_values()
    sampling = () if not greedy(params) else SAMPLING
    dropped = NOT_WHILE_THINKING if thinks(params, ignored) else ()
    out = {n: v for n, v in values.items()
           if n not in ignored and n not in sampling and n not in dropped}
    return {**out, "decoding": "greedy"} if sampling else out


@dataclass(frozen=True)
class NoEffect:
    """A parameter whose value varies across the variants but changes nothing in ``where``
    (variant positions) of the ``of`` variants that set it, for ``reasons``."""

    name: str
    where: tuple[int, ...]
    of: int
    reasons: tuple[str, ...]

    @property
    def everywhere(self) -> bool:
        return len(self.where) == self.of

    def describe(self, unit: str = "cells") -> str:
        why = "; ".join(self.reasons)
        if self.everywhere:
            return f"{self.name} changes nothing: {why}"
        return f"{self.name} changes nothing in {len(self.where)} of {self.of} {unit}: {why}"


@dataclass(frozen=True)
class Effects:
    """What ``check`` found: parameters without effect, groups of variants that send the same
    request (each group's positions, first first), and whether repeats are pointless: every
    variant decodes greedily (``deterministic``), or samples with a fixed seed its backend
    honours (``seeded``), so each repeat gives the same answer."""

    no_effect: tuple[NoEffect, ...] = ()
    same_requests: tuple[tuple[int, ...], ...] = ()
    deterministic: bool = False
    variants: int = 0
    seeded: bool = False

    def lines(self, unit: str = "cells", name: Callable[[int], str] = str,
              repeats: int = 1) -> list[str]:
        """Plain sentences for an estimate; ``name`` names a variant by its position."""
        out = [n.describe(unit) for n in self.no_effect]
        for group in self.same_requests:
            first, *rest = (name(i) for i in group)
            if len(group) == self.variants > 2:
                out.append(f"all {len(group)} {unit} send the same request: expect the same "
                           "answer in each")
            elif len(rest) > 3:
                out.append(f"{len(rest)} {unit} send the same request as {first}: expect the "
                           "same answer")
            else:
                out.append(f"{', '.join(rest)} send{'s' if len(rest) == 1 else ''} the same "
                           f"request as {first}: expect the same answer")
        if repeats > 1 and self.deterministic:
            out.append(f"×{repeats} repeats: greedy decoding gives the same answer each time")
        elif repeats > 1 and self.seeded:
            out.append(f"×{repeats} repeats: repeats with a fixed seed give identical answers; "
                       "remove seed or vary it (a seed axis) to see how answers spread")
        return out


def _varied(variants: Sequence[Variant]) -> list[str]:
    """Parameters set to different values across ``variants`` (as typed, greedy aside)."""
    dumps = [v.params.model_dump(exclude_defaults=True) for v in variants]
    names = [n for n in Params.model_fields if n != "greedy"]
    return [n for n in names if len({json.dumps(d.get(n)) for d in dumps}) > 1]


def _request_key(variant: Variant, ignored: Collection[str]) -> str:
    """What a variant sends, less what has no effect: equal keys, equal requests."""
    return json.dumps(
        [
            variant.template.model_dump(mode="json", exclude={"parameters"}),
            variant.backend,
            variant.model,
            variant.variables,
            effective_params(variant.params, ignored),
        ],
        sort_keys=True,
        default=str,
    )


def _where(variant: Variant) -> str:
    return f"{variant.backend} · {variant.model}" if variant.model else variant.backend


def check(variants: Sequence[Variant], ignored: Ignored = _nothing_ignored) -> Effects:
    """Varied parameters that change nothing, and variants that send the same request."""
    skipped = [set(ignored(v.backend, v.model)) for v in variants]
    found = []
    for name in _varied(variants):
        setting = [i for i, v in enumerate(variants)
                   if name in v.params.model_dump(exclude_defaults=True)]
        reasons = {i: why_no_effect(variants[i].params, name, _where(variants[i]), skipped[i])
                   for i in setting}
        where = tuple(i for i in setting if reasons[i])
        if where:
            found.append(NoEffect(name, where, len(setting),
                                  tuple(dict.fromkeys(reasons[i] for i in where))))
    groups: dict[str, list[int]] = {}
    for i, variant in enumerate(variants):
        groups.setdefault(_request_key(variant, skipped[i]), []).append(i)
    same = tuple(tuple(g) for g in groups.values() if len(g) > 1)
    deterministic = bool(variants) and all(greedy(v.params) for v in variants)
    # A seed the backend honours makes a sampled answer repeat exactly (llama.cpp, OpenAI's
    # best effort): 100% agreement at temperature 1.2 would say nothing about the prompt.
    repeatable = bool(variants) and all(
        greedy(v.params) or (v.params.seed is not None and "seed" not in skipped[i])
        for i, v in enumerate(variants)
    )
    return Effects(tuple(found), same, deterministic, len(variants),
                   seeded=repeatable and not deterministic)
