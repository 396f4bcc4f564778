"""Structured output on the embedded model: judge verdicts that parse, and what the grammar costs.

1. Judge parse rate: rubric, factuality, closed-QA and pairwise judges through the real runner on
   the embedded SmolLM2, with their verdict schema sent as the response format (llama.cpp grammar)
   and, as the baseline, the same prompts with the schema only in the prompt. Target: 100 % over
   at least 50 calls (it was 0 % before the grammar).
2. Constrained decoding throughput: the same prompt decoded greedily to the same number of tokens
   with and without a grammar (a JSON object with one free string, so neither side stops early),
   interleaved ABBA; decode rate after the first token. Target: constrained >= 0.8 of free.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Mapping, Sequence
from itertools import cycle, islice

from workbench.backends.base import run_to_result
from workbench.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from workbench.core import judge_templates as jt
from workbench.core.evaluation import EvaluationError
from workbench.core.models import Params, RenderedMessage, ResponseFormat, RunRequest, RunResult
from workbench.services.judges import Judge, Rubric
from workbench.services.runner import Runner, build_request

CASES = [
    ("What is the capital of France?", "The capital of France is Paris.", "Paris",
     "Names the correct capital."),
    ("What is the capital of France?", "Lyon is the capital.", "Paris",
     "Names the correct capital."),
    ("How many legs does a spider have?", "Spiders have eight legs.", "Eight", "Gives a number."),
    ("Who wrote Hamlet?", "I like turtles.", "William Shakespeare", "Names a person."),
    ("What is 2 + 2?", "2 + 2 = 4", "4", "The arithmetic is right."),
    ("Name a primary colour.", "Blue is a primary colour.", "Red, yellow or blue",
     "Names a colour."),
    ("When did World War II end?", "It ended in 1945.", "1945", "Gives a year."),
]
STORY = ResponseFormat(type="json_schema", json_schema={
    "type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]})
PROMPT = [RenderedMessage(role="user", content="Write a long story about a lighthouse keeper, "
                                               "as JSON with one key, story.")]


class PromptOnlyJudge(Judge):
    """The baseline: the judge's schema stays in its prompt and is not sent to the model."""

    def ask(self, template_name: str, values: Mapping[str, str]) -> tuple[str, RunResult]:
        template = jt.load(template_name).model_copy(update={"response_format": "text"})
        request = build_request(template, values, backend=self.backend, params=template.parameters)
        result = self.runner.execute(request).result
        return result.text, result


def _calls(judge: Judge) -> list[Callable[[], object]]:
    """One call of each judge kind per case."""
    calls: list[Callable[[], object]] = []
    for question, output, reference, criterion in CASES:
        calls += [
            lambda o=output, c=criterion, q=question, r=reference: judge.score(
                o, Rubric(c), input=q, reference=r),
            lambda o=output, r=reference, q=question: judge.factuality(o, r, question=q),
            lambda o=output, c=criterion, q=question: judge.closedqa(o, c, question=q),
            lambda o=output, r=reference, c=criterion, q=question: judge.compare(
                o, r, criteria=c, input=q),
        ]
    return calls


def parse_rate(judge: Judge, calls: int) -> tuple[int, int]:
    """(parsed, asked) over ``calls`` judge calls (a pairwise comparison asks twice)."""
    parsed = 0
    for call in islice(cycle(_calls(judge)), calls):
        try:
            call()
        except EvaluationError:
            continue
        parsed += 1
    return parsed, calls


def throughput(reps: int, max_tokens: int) -> tuple[list[float], list[float]]:
    """Decode rates (tokens/s) without and with the grammar, ABBA-interleaved."""
    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    params = Params(greedy=True, max_tokens=max_tokens, seed=0)
    free: list[float] = []
    constrained: list[float] = []
    try:
        run_to_result(backend, RunRequest(backend="llamacpp", messages=PROMPT, params=params))
        for rep in range(reps):
            order = (None, STORY) if rep % 2 == 0 else (STORY, None)
            for fmt in order:
                result = run_to_result(backend, RunRequest(
                    backend="llamacpp", messages=PROMPT, params=params, response_format=fmt))
                assert result.usage.output_tokens == max_tokens, (result.finish_reason, result.text)
                (free if fmt is None else constrained).append(result.timings.tokens_per_s or 0.0)
    finally:
        backend.close()
    return free, constrained


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=56, help="judge calls with the grammar")
    parser.add_argument("--baseline-calls", type=int, default=12, help="judge calls without it")
    parser.add_argument("--reps", type=int, default=6, help="throughput runs per side")
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args([] if argv is None else argv)  # bench/run.py calls main()

    free, constrained = throughput(args.reps, args.max_tokens)
    ratio = statistics.median(constrained) / statistics.median(free)
    print(f"decode rate, {args.max_tokens} tokens greedy, median of {args.reps}: "
          f"free {statistics.median(free):.1f} tok/s, grammar {statistics.median(constrained):.1f}"
          f" tok/s, ratio {ratio:.2f} (target >= 0.8)")

    if args.calls <= 0:
        return 0
    runner = Runner()
    try:
        ok, asked = parse_rate(Judge(runner), args.calls)
        print(f"judge verdicts parsed with the grammar: {ok}/{asked} ({ok / asked:.0%}; "
              "target 100 %)")
        ok, asked = parse_rate(PromptOnlyJudge(runner), max(args.baseline_calls, 1))
        print(f"judge verdicts parsed with the schema only in the prompt: {ok}/{asked} "
              f"({ok / asked:.0%})")
    finally:
        runner.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
