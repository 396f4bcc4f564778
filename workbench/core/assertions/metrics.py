"""Reference-based metrics: BLEU and chrF (sacrebleu), ROUGE-1/2/L/Lsum (rouge-score), Levenshtein
distance and edit similarity.

Each score is the library's own figure on the same inputs, scaled to [0, 1] (sacrebleu reports
0–100). The reference is the value (a list gives several references for BLEU/chrF) or, when no
value is given, the test's expected output. rouge-score's ``split_summaries=True`` needs nltk data
that cannot be fetched here, so ROUGE-Lsum treats lines as sentences: put one sentence per line.
Default thresholds: ``bleu`` 0.5 and ``rouge-n`` 0.75 (promptfoo's), ``chrf`` 0.5, ``rouge-1``,
``rouge-2``, ``rouge-l``, ``rouge-lsum`` 0.75, ``edit-similarity`` 0.8, ``levenshtein`` distance
at most 5 (promptfoo's).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from workbench.core.assertions.values import reference, text_value
from workbench.core.evaluation import AssertionContext, Check, kind
from workbench.core.experiments import AssertionSpec


def _references(spec: AssertionSpec, ctx: AssertionContext) -> list[str]:
    if isinstance(spec.value, list):
        refs = [text_value(spec.model_copy(update={"value": v}), ctx) for v in spec.value]
        return [r for r in refs if r.strip()] or [""]
    return [reference(spec, ctx)]


def bleu_score(hypothesis: str, references: list[str]) -> float:
    """sacrebleu's sentence BLEU (13a tokenizer, exp smoothing), on a 0..1 scale."""
    import sacrebleu

    return float(sacrebleu.sentence_bleu(hypothesis, references).score) / 100.0


def chrf_score(hypothesis: str, references: list[str]) -> float:
    """sacrebleu's sentence chrF (character 6-grams, beta 2), on a 0..1 scale."""
    import sacrebleu

    return float(sacrebleu.sentence_chrf(hypothesis, references).score) / 100.0


class _StemCache:
    """rouge-score's own tokenizer with the same Porter stemmer, remembering each word's stem:
    stemming dominates ROUGE's cost, and evaluation outputs share most of their words."""

    def __init__(self) -> None:
        from nltk.stem import porter

        self.stem = lru_cache(maxsize=200_000)(porter.PorterStemmer().stem)

    def tokenize(self, text: str) -> list[str]:
        from rouge_score import tokenize

        return list(tokenize.tokenize(text, self))


@lru_cache(maxsize=1)
def _tokenizer() -> _StemCache:
    return _StemCache()


@lru_cache(maxsize=8)
def _rouge(rouge_type: str) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([rouge_type], tokenizer=_tokenizer())


def rouge_score(hypothesis: str, ref: str, rouge_type: str) -> Any:
    """rouge-score's precision/recall/F-measure for ``rouge_type`` (``rouge1``, ``rouge2``,
    ``rougeL``, ``rougeLsum`` — lines are sentences), Porter stemmer on."""
    if rouge_type == "rougeL":
        return _rouge_l(hypothesis, ref)
    return _rouge(rouge_type).score(ref, hypothesis)[rouge_type]


def _rouge_l(hypothesis: str, ref: str) -> Any:
    """rouge-score's ROUGE-L (its tokenizer, its Score and F-measure), with the length of the
    longest common subsequence from :func:`lcs_length` instead of its Python DP table: that
    table was half an evaluation's assertion time (bench/bench_eval.py)."""
    from rouge_score import scoring

    tokenizer = _tokenizer()
    target, prediction = tokenizer.tokenize(ref), tokenizer.tokenize(hypothesis)
    if not target or not prediction:
        return scoring.Score(precision=0, recall=0, fmeasure=0)
    common = lcs_length(target, prediction)
    precision, recall = common / len(prediction), common / len(target)
    return scoring.Score(
        precision=precision, recall=recall, fmeasure=scoring.fmeasure(precision, recall)
    )


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences.

    The bit-parallel algorithm of Allison and Dix (1986) in Hyyrö's form (2004): a row of the
    DP table is one bit vector over ``a``, each token of ``b`` costs a few big-int operations.
    Carries only move upwards, so bits above ``len(a)`` never disturb the ones counted.
    """
    if not a or not b:
        return 0
    positions: dict[str, int] = {}
    for i, token in enumerate(a):
        positions[token] = positions.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full
    for token in b:
        matched = row & positions.get(token, 0)
        row = (row + matched) | (row - matched)
    return len(a) - (row & full).bit_count()


def levenshtein_distance(a: str, b: str) -> int:
    """Single-character insertions, deletions and substitutions turning ``a`` into ``b``.

    Myers' bit-parallel algorithm (J. ACM 1999) in Hyyrö's global-distance form ("Explaining and
    extending the bit-parallel approximate string matching algorithm of Myers", 2001): one column
    of the DP matrix is a pair of bit vectors, so a step costs a few big-int operations instead of
    ``len(a)`` Python ones — hundreds of times faster than the textbook table on long outputs.
    """
    if len(a) < len(b):
        a, b = b, a
    m = len(a)
    if not b:
        return m
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & mask
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def edit_similarity(a: str, b: str) -> float:
    """1 - distance / length of the longer string (1.0 for two empty strings)."""
    longest = max(len(a), len(b))
    return 1.0 - levenshtein_distance(a, b) / longest if longest else 1.0


@kind("bleu", "sentence BLEU against the reference(s) (sacrebleu)", default_threshold=0.5)
def bleu(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    score = bleu_score(ctx.output, _references(spec, ctx))
    return Check(None, score, f"BLEU {score:.3f}")


@kind("chrf", "sentence chrF against the reference(s) (sacrebleu)", default_threshold=0.5)
def chrf(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    score = chrf_score(ctx.output, _references(spec, ctx))
    return Check(None, score, f"chrF {score:.3f}")


def _rouge_kind(name: str, key: str, label: str) -> None:
    def check(spec: AssertionSpec, ctx: AssertionContext) -> Check:
        s = rouge_score(ctx.output, reference(spec, ctx), key)
        return Check(None, float(s.fmeasure), f"{label} F1 {s.fmeasure:.3f}",
                     details={"precision": s.precision, "recall": s.recall})

    kind(name, f"{label} F-measure against the reference (rouge-score)",
         default_threshold=0.75)(check)


_rouge_kind("rouge-n", "rouge1", "ROUGE-1")  # promptfoo's name; n = 1, as its default
_rouge_kind("rouge-1", "rouge1", "ROUGE-1")
_rouge_kind("rouge-2", "rouge2", "ROUGE-2")
_rouge_kind("rouge-l", "rougeL", "ROUGE-L")
_rouge_kind("rouge-lsum", "rougeLsum", "ROUGE-Lsum")


@kind("levenshtein", "edit distance to the reference is at most the threshold",
      direction="at-most", default_threshold=5)
def levenshtein(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    ref = reference(spec, ctx)
    distance = levenshtein_distance(ctx.output, ref)
    longest = max(len(ctx.output), len(ref))
    score = 1.0 - distance / longest if longest else 1.0
    return Check(None, score, f"edit distance {distance}", value=float(distance))


@kind("edit-similarity", "1 - edit distance / longer length, against the reference",
      default_threshold=0.8)
def edit_similarity_kind(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    score = edit_similarity(ctx.output, reference(spec, ctx))
    return Check(None, score, f"edit similarity {score:.3f}")
