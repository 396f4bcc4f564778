"""``similar`` needs the optional 'semantic' extra (torch + all-MiniLM-L6-v2, ~1.5 GB), which the
main environment does not install: here the not-installed path is what runs, and it must be an
``error`` naming the extra — never a fail. Where the extra is installed, the real model runs."""

from __future__ import annotations

import importlib.util

from tests.core.assertions.support import check
from workbench.core.assertions.semantic import MODEL_PACKAGE, cosine

INSTALLED = importlib.util.find_spec(MODEL_PACKAGE) is not None


def test_similar_without_or_with_the_extra() -> None:
    outcome = check("similar", "The cat sat on the mat.", "A cat was sitting on a mat.")
    if not INSTALLED:
        assert outcome.status == "error"
        assert "semantic" in outcome.reason and "prompt-workbench[semantic]" in outcome.reason
        assert check("not-similar", "a", "b").status == "error"  # negation never hides an error
    else:
        assert outcome.status == "pass" and outcome.score is not None and outcome.score > 0.75
        assert check("similar", "The cat sat on the mat.", "Stock prices fell.").status == "fail"


def test_cosine() -> None:
    assert cosine([1.0, 0.0], [1.0, 0.0]) == 1.0
    assert cosine([1.0, 0.0], [0.0, 1.0]) == 0.0
    assert cosine([0.0, 0.0], [1.0, 1.0]) == 0.0
