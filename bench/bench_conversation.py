"""A 10-turn simulated conversation's orchestration overhead over pure generation.

One evaluation row that is a conversation (``core.conversation_case``): a simulated user and the
assistant talk for 10 replies, so 20 calls; a ``stop_when`` check runs on every reply (it never
passes), a ``turn_assert`` and a whole-conversation assertion are evaluated, and the run is
stored. Pure generation is the very same 20 requests (recorded during the evaluation) run
straight on the opened backend with ``drive`` (its stream read to the end), one after another,
with nothing around them: no limiter, pricing, rendering, checks or store.

Two measurements, because the embedded model's generation time on a shared, loaded machine
varies by more than the overhead sought:

1. End to end on the embedded model (greedy, fixed seed: both produce the same text, whose
   characters are printed), orchestrated and pure for a few rounds, which goes first
   alternating.
2. The orchestration cost alone, on the scripted backend (instant replies), where
   orchestrated minus pure is what the conversation machinery costs per conversation; many
   rounds, the median. Divided by the embedded model's median pure generation time it gives the
   overhead with the noise of generation taken out.

Target: orchestration ≤ 5 % on top of pure generation.

Run: ``PYTHONPATH=. python bench/run.py conversation`` (or this file directly).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from workbench.backends.base import CancelToken
from workbench.backends.config import BackendConfig
from workbench.core.conversation_case import with_conversation
from workbench.core.experiments import AssertionSpec, ExperimentSpec, TestCase, Variant
from workbench.core.models import Message, Params, PromptTemplate, RunRequest
from workbench.core.outcome import RunOutcome
from workbench.services.evaluation import Evaluation
from workbench.services.runner import Runner, drive
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter

TURNS = 10
ROUNDS = 4  # on the embedded model
SCRIPTED_ROUNDS = 30
TARGET = 0.05
PARAMS = {"max_tokens": 24, "greedy": True, "seed": 7}
SUPPORT = PromptTemplate(
    name="support",
    messages=[Message(role="system", content="You are the friendly support desk of {{ shop }}.")],
)
SCRIPTED = {
    name: BackendConfig(name=name, backend="scripted", options={"script": [{"text": text}]})
    for name, text in (
        ("agent", "I am sorry about your kettle; we can replace it this week."),
        ("customer", "It still does not boil. What are my options?"),
    )
}
CONVERSATION: dict[str, Any] = {
    "simulated_user": {
        "persona": "a customer of {{ shop }} whose kettle stopped working",
        "goal": "get the kettle repaired or replaced",
        "backend": "llamacpp",
        "params": PARAMS,
        "stop_phrase": "",  # never stops early: always the full ten replies
    },
    "max_turns": TURNS,
    "stop_when": [{"type": "contains", "value": "\u2603 never said"}],
    "turn_assert": [{"type": "not-icontains", "value": "as an ai"}],
}


class _Recording(Runner):
    """A runner that keeps every request it runs, to replay them as pure generation."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.requests: list[RunRequest] = []
        self.chars = 0  # output characters of every call

    def execute(self, request: RunRequest, *args: Any, **kw: Any) -> RunOutcome:
        self.requests.append(request)
        outcome = super().execute(request, *args, **kw)
        self.chars += len(outcome.text)
        return outcome


def _spec(assistant: str, user: str) -> ExperimentSpec:
    case = {**CONVERSATION, "simulated_user": {**CONVERSATION["simulated_user"], "backend": user}}
    row = with_conversation(TestCase(vars={"shop": "Kettles Inc"}), case)
    row.assertions = [AssertionSpec(type="not-contains", value="\u2603")]
    return ExperimentSpec(
        name="conversation bench",
        variants=[Variant(template=SUPPORT, backend=assistant, params=Params(**PARAMS))],
        tests=[row],
    )


def _orchestrated(store: Store, runner: _Recording, spec: ExperimentSpec) -> tuple[float, int, int]:
    """Seconds for the whole evaluation, replies and calls."""
    runner.requests.clear()
    runner.chars = 0
    evaluation = Evaluation.create(store, spec, runner)
    start = time.perf_counter()
    card = evaluation.run()
    elapsed = time.perf_counter() - start
    [cell] = card.cells.values()
    transcript = evaluation.detail(cell).transcript
    replies = sum(1 for m in transcript if m.role == "assistant")
    return elapsed, replies, len(runner.requests)


def _pure(runner: Runner, requests: list[RunRequest]) -> tuple[float, int]:
    """Seconds to run the same requests straight on their opened backends (``drive``: the
    stream to the end, nothing else), and the output characters."""
    backends = [runner.backend(r.backend) for r in requests]
    chars = 0
    start = time.perf_counter()
    for backend, request in zip(backends, requests, strict=True):
        chars += len(drive(backend, request, CancelToken()).result.text)
    return time.perf_counter() - start, chars


def _scripted_cost(store: Store, writer: StoreWriter) -> list[float]:
    """Orchestrated minus pure seconds per conversation on instant scripted replies."""
    runner = _Recording(writer=writer, configs=SCRIPTED)
    spec = _spec("agent", "customer")
    try:
        _orchestrated(store, runner, spec)
        costs = []
        for _ in range(SCRIPTED_ROUNDS):
            orchestrated, _, _ = _orchestrated(store, runner, spec)
            pure, _ = _pure(runner, list(runner.requests))
            costs.append(orchestrated - pure)
        return costs
    finally:
        runner.close()


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Store.open(Path(tmp) / "bench.db") as store,
        StoreWriter(store) as writer,
    ):
        costs = _scripted_cost(store, writer)
        print(
            f"orchestration alone (scripted, {SCRIPTED_ROUNDS} rounds): median "
            f"{statistics.median(costs) * 1000:.1f} ms per conversation, "
            f"min {min(costs) * 1000:.1f} ms",
            flush=True,
        )
        runner = _Recording(writer=writer)
        spec = _spec("llamacpp", "llamacpp")
        try:
            warm = _orchestrated(store, runner, spec)  # loads the model and warms its caches
            requests, out_chars = list(runner.requests), runner.chars  # the same every round
            print(f"embedded warm-up: {warm[0]:.3f} s, {warm[1]} replies", flush=True)
            orchestrated: list[float] = []
            pure: list[float] = []
            for n in range(ROUNDS):  # the order alternates, so drift hits both alike
                if n % 2:
                    pure.append(_pure(runner, requests)[0])
                seconds, replies, calls = _orchestrated(store, runner, spec)
                orchestrated.append(seconds)
                if not n % 2:
                    seconds, chars = _pure(runner, requests)
                    pure.append(seconds)
                print(
                    f"round {n + 1}: orchestrated {orchestrated[-1]:.3f} s, pure {pure[-1]:.3f} s",
                    flush=True,
                )
        finally:
            runner.close()
    ratios = [o / p - 1 for o, p in zip(orchestrated, pure, strict=True)]
    median = statistics.median(orchestrated) / statistics.median(pure) - 1
    best = min(orchestrated) / min(pure) - 1
    print(f"embedded conversation: {replies} replies, {calls} calls (simulated user included)")
    print(f"output characters: {chars} (pure) vs {out_chars} (orchestrated, same requests)")
    print(
        "orchestrated s: "
        + ", ".join(f"{s:.3f}" for s in orchestrated)
        + f"  (median {statistics.median(orchestrated):.3f})"
    )
    print(
        "pure s:         "
        + ", ".join(f"{s:.3f}" for s in pure)
        + f"  (median {statistics.median(pure):.3f})"
    )
    print(
        f"end to end: median {median:+.1%}, best rounds {best:+.1%}, "
        f"median of per-round ratios {statistics.median(ratios):+.1%}  (noisy: shared machine)"
    )
    share = statistics.median(costs) / statistics.median(pure)
    print(f"overhead (orchestration cost / pure generation): {share:.3%}  (target <= {TARGET:.0%})")


if __name__ == "__main__":
    main()
