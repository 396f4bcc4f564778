"""How stable a cell's answers are over repeats: identical outputs collapsed, agreement, mean
pairwise similarity, the majority answer (self-consistency) and the best of N by a metric.

Sampling at non-zero temperature gives a different answer each time; whether a prompt is
reliable shows in how much those answers agree. Outputs are compared with whitespace normalised
(a trailing newline is not a different answer); similarity comes from the one diff engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

from workbench.core.answers import Vote, extract_answer, majority_vote
from workbench.core.diff import similarity
from workbench.core.errors import KnownError

#: Scores an output; best-of-N keeps the highest.
Metric = Callable[[str], float]
#: How alike two (normalised) outputs are, 0..1: ``core.diff.similarity`` unless a caller
#: passes a memoised one (a view refreshing as each repeat ends diffs each pair once).
PairSimilarity = Callable[[str, str], float]
#: The metrics ``metric_named`` knows.
BEST_OF_METRICS = ("consensus", "expected", "shortest")


def normalize_output(text: str) -> str:
    """One spelling per output: whitespace runs collapsed, ends stripped."""
    return " ".join(text.split())


@dataclass(frozen=True)
class OutputGroup:
    """Repeats that gave the same output (after whitespace normalisation)."""

    text: str  # the first of them, as it came
    count: int
    indices: tuple[int, ...]  # positions in the outputs given


def collapse(outputs: Sequence[str]) -> list[OutputGroup]:
    """Identical outputs merged, most frequent first (ties: first seen first)."""
    groups: dict[str, list[int]] = {}
    for index, text in enumerate(outputs):
        groups.setdefault(normalize_output(text), []).append(index)
    ordered = sorted(groups.values(), key=lambda idx: (-len(idx), idx[0]))
    return [OutputGroup(outputs[idx[0]], len(idx), tuple(idx)) for idx in ordered]


def mean_pairwise_similarity(
    outputs: Sequence[str], pair_similarity: PairSimilarity = similarity
) -> float | None:
    """The average similarity of every pair of outputs; None for fewer than two."""
    if len(outputs) < 2:
        return None
    normalized = [normalize_output(t) for t in outputs]
    scores = [pair_similarity(a, b) for a, b in combinations(normalized, 2)]
    return sum(scores) / len(scores)


@dataclass(frozen=True)
class Stability:
    """Agreement among ``n`` repeats of one cell.

    ``output_agreement`` is the share of the most common (normalised) output. With an answer
    pattern, ``answers`` holds each repeat's extracted answer and ``vote`` the majority;
    ``agreement`` is then the vote's share (extractions that failed count against it), else the
    output agreement.
    """

    n: int
    groups: list[OutputGroup]
    output_agreement: float
    mean_similarity: float | None
    answers: list[str | None] | None
    vote: Vote | None

    @property
    def agreement(self) -> float:
        return self.vote.share if self.vote is not None else self.output_agreement


def stability(
    outputs: Sequence[str],
    answer_pattern: str | None = None,
    *,
    casefold: bool = False,
    pair_similarity: PairSimilarity = similarity,
) -> Stability:
    """Collapse, agreement and similarity of ``outputs``; majority vote when ``answer_pattern``
    is given ("" takes the whole output as the answer)."""
    groups = collapse(outputs)
    answers = vote = None
    if answer_pattern is not None:
        answers = [extract_answer(t, answer_pattern, casefold=casefold) for t in outputs]
        vote = majority_vote(answers)
    return Stability(
        n=len(outputs),
        groups=groups,
        output_agreement=groups[0].count / len(outputs) if outputs else 0.0,
        mean_similarity=mean_pairwise_similarity(outputs, pair_similarity),
        answers=answers,
        vote=vote,
    )


@dataclass(frozen=True)
class Best:
    index: int
    score: float
    text: str


def best_of_n(outputs: Sequence[str], metric: Metric) -> Best | None:
    """The output scoring highest on ``metric`` (ties: the earliest); None when there are none."""
    best: Best | None = None
    for index, text in enumerate(outputs):
        score = float(metric(text))
        if best is None or score > best.score:
            best = Best(index, score, text)
    return best


def consensus_metric(
    outputs: Sequence[str], pair_similarity: PairSimilarity = similarity
) -> Metric:
    """Scores an output by its mean similarity to the others: the most "central" answer."""
    normalized = [normalize_output(t) for t in outputs]

    def score(text: str) -> float:
        mine = normalize_output(text)
        others = list(normalized)
        others.remove(mine)  # one copy of itself: it is one of the outputs
        return sum(pair_similarity(mine, o) for o in others) / len(others) if others else 1.0

    return score


def expected_metric(expected: str) -> Metric:
    """Scores an output by its similarity to the expected answer."""
    target = normalize_output(expected)
    return lambda text: similarity(normalize_output(text), target)


def length_metric(text: str) -> float:
    """Shorter is better: minus the number of words."""
    return -float(len(text.split()))


def metric_named(name: str, outputs: Sequence[str], expected: str | None = None) -> Metric:
    """A best-of-N metric by name: ``consensus``, ``expected`` (needs ``expected``) or
    ``shortest``."""
    if name == "consensus":
        return consensus_metric(outputs)
    if name == "expected":
        if expected is None:
            raise KnownError("the 'expected' metric needs an expected answer")
        return expected_metric(expected)
    if name == "shortest":
        return length_metric
    raise KnownError(
        f"unknown best-of-N metric '{name}'", hint=f"one of {', '.join(BEST_OF_METRICS)}"
    )
