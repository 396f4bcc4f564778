"""``select-best``: an LLM judge picks the best of a row's outputs (promptfoo's semantics).

It is decided across cells, not in one: every prompt × provider output of the same test (and
repeat) is shown to the judge with the criterion (the value), the judge answers the index of the
best one, and that cell passes (score 1) while the others fail (score 0). Evaluated alone, a cell
gets a placeholder ``error`` (``PENDING``) that ``services.select_best`` replaces once the row's
outputs are all in; fewer than two outputs stay an error, as promptfoo refuses them. The judge
is the evaluation's (the local model for a promptfoo config) unless ``provider`` names one.

This module holds the pure parts: the judge prompt and how its answer is read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workbench.core.evaluation import AssertionContext, Check, EvaluationError, kind
from workbench.core.experiments import AssertionSpec
from workbench.core.models import Message, Params, PromptTemplate

KIND = "select-best"
PENDING = "select-best is decided across the row's outputs once they are all in"
_PARAMS = Params(temperature=0.0, max_tokens=16, seed=0)
_INTEGER = re.compile(r"\d+")


@kind(KIND, "an LLM judge picks the best of a test's outputs across prompts and providers "
      "(the value is the criterion); that cell passes, the others fail")
def select_best(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    raise EvaluationError(PENDING)


def judge_prompt(count: int) -> PromptTemplate:
    """The judge's prompt for ``count`` outputs; its values are ``criteria`` and ``output_0``..
    (each output a value, so text in an output is never read as template syntax)."""
    texts = "\n".join(f'<Text index="{i}">\n{{{{ output_{i} }}}}\n</Text>' for i in range(count))
    return PromptTemplate(
        name="judge-select-best",
        messages=[
            Message(role="system", content=(
                "You compare several texts and choose the one that best fits a criterion. "
                "Answer with the index of that text only: a single integer.")),
            Message(role="user", content=(
                f"Criterion: {{{{ criteria }}}}\n\nThe texts:\n\n{texts}\n\n"
                "Which index best fits the criterion? Answer with a single integer.")),
        ],
        parameters=_PARAMS,
    )


def judge_values(criteria: str, outputs: Sequence[str]) -> dict[str, str]:
    return {"criteria": criteria, **{f"output_{i}": o for i, o in enumerate(outputs)}}


def verdict(answer: str, count: int) -> int:
    """The index the judge chose: the first integer in its answer, as promptfoo reads it."""
    found = _INTEGER.search(answer)
    index = int(found.group()) if found else -1
    if not 0 <= index < count:
        raise EvaluationError(f"the judge's select-best answer is no index from 0 to {count - 1}: "
                              f"{answer.strip()[:200]!r}")
    return index
