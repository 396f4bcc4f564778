"""Text assertions: equality, substrings, prefixes/suffixes, regex, length bounds.

Types and semantics follow promptfoo's deterministic assertions (``equals``, ``contains``,
``icontains``, ``contains-any``/``-all``, ``icontains-any``/``-all``, ``starts-with``, ``regex``,
``word-count``); ``ends-with`` and ``length`` (characters) are ours.
"""

from __future__ import annotations

import json
import re
from typing import Any

from workbench.core.assertions.values import list_value, mapping_value, number, text_value
from workbench.core.evaluation import AssertionContext, Check, EvaluationError, kind
from workbench.core.experiments import AssertionSpec


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


@kind("equals", "output equals the value exactly (a mapping/list value compares as JSON)")
def equals(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    if isinstance(spec.value, (dict, list)):
        try:
            parsed: Any = json.loads(ctx.output)
        except ValueError:
            return Check(False, reason="output is not JSON, so it cannot equal the expected JSON")
        same = parsed == spec.value
        return Check(same, reason="output JSON equals the value" if same
                     else "output JSON differs from the value")
    expected = text_value(spec, ctx) if spec.value is not None else ctx.expected
    if expected is None:
        raise EvaluationError("equals needs a value or the test's expected output")
    same = ctx.output == expected
    return Check(same, reason="output equals the value" if same
                 else f"output differs from {_short(expected)}")


def _contains(spec: AssertionSpec, ctx: AssertionContext, *, fold: bool) -> Check:
    needle = text_value(spec, ctx)
    hay, probe = (ctx.output.casefold(), needle.casefold()) if fold else (ctx.output, needle)
    found = probe in hay
    return Check(found, reason=f"{'found' if found else 'did not find'} {_short(needle)}")


@kind("contains", "output contains the value")
def contains(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    return _contains(spec, ctx, fold=False)


@kind("icontains", "output contains the value, ignoring case")
def icontains(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    return _contains(spec, ctx, fold=True)


def _found(spec: AssertionSpec, ctx: AssertionContext, fold: bool) -> tuple[list[str], list[str]]:
    needles = list_value(spec, ctx)
    hay = ctx.output.casefold() if fold else ctx.output
    found = [n for n in needles if (n.casefold() if fold else n) in hay]
    return needles, found


def _any(spec: AssertionSpec, ctx: AssertionContext, fold: bool) -> Check:
    needles, found = _found(spec, ctx, fold)
    if found:
        return Check(True, 1.0, f"found {_short(found[0])}")
    return Check(False, 0.0, f"found none of {len(needles)} values")


def _all(spec: AssertionSpec, ctx: AssertionContext, fold: bool) -> Check:
    needles, found = _found(spec, ctx, fold)
    missing = [n for n in needles if n not in found]
    reason = "found all values" if not missing else \
        f"missing {', '.join(_short(m, 30) for m in missing)}"
    # The score is the share found, so a threshold can accept partial coverage.
    return Check(not missing, len(found) / len(needles), reason)


@kind("contains-any", "output contains at least one of the values")
def contains_any(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    return _any(spec, ctx, False)


@kind("icontains-any", "output contains at least one of the values, ignoring case")
def icontains_any(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    return _any(spec, ctx, True)


@kind("contains-all", "output contains every value (score: the share found)")
def contains_all(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    return _all(spec, ctx, False)


@kind("icontains-all", "output contains every value, ignoring case (score: the share found)")
def icontains_all(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    return _all(spec, ctx, True)


@kind("starts-with", "output starts with the value")
def starts_with(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    prefix = text_value(spec, ctx)
    ok = ctx.output.startswith(prefix)
    return Check(ok, reason=f"output {'starts' if ok else 'does not start'} with {_short(prefix)}")


@kind("ends-with", "output ends with the value (trailing whitespace ignored)")
def ends_with(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    suffix = text_value(spec, ctx)
    ok = ctx.output.rstrip().endswith(suffix)
    return Check(ok, reason=f"output {'ends' if ok else 'does not end'} with {_short(suffix)}")


@kind("regex", "output matches the regular expression (Python syntax, searched anywhere)")
def regex(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    pattern = text_value(spec, ctx)
    try:
        compiled = re.compile(pattern)
    except re.error as err:
        raise EvaluationError(f"regex: invalid pattern {pattern!r}: {err}") from None
    match = compiled.search(ctx.output)
    if match is None:
        return Check(False, reason=f"no match for /{pattern}/")
    return Check(True, reason=f"matched {_short(match.group(0))}")


def _bounds(spec: AssertionSpec) -> tuple[float | None, float | None]:
    """``value: N`` (exactly N) or ``value: {min: a, max: b}`` (either may be left out)."""
    if isinstance(spec.value, (int, float)) and not isinstance(spec.value, bool):
        return float(spec.value), float(spec.value)
    bounds = mapping_value(spec)
    unknown = set(bounds) - {"min", "max"}
    if unknown or not bounds:
        raise EvaluationError(f"{spec.type}: value is a number or {{min, max}}")
    low = number(bounds["min"], f"{spec.type} min") if bounds.get("min") is not None else None
    high = number(bounds["max"], f"{spec.type} max") if bounds.get("max") is not None else None
    if low is not None and high is not None and low > high:
        raise EvaluationError(f"{spec.type}: min {low:g} is above max {high:g}")
    return low, high


def _within(spec: AssertionSpec, count: int, unit: str) -> Check:
    low, high = _bounds(spec)
    ok = (low is None or count >= low) and (high is None or count <= high)
    span = f"{'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"
    return Check(ok, reason=f"{count} {unit} ({'within' if ok else 'outside'} {span})",
                 value=float(count))


@kind("word-count", "number of words is N, or within {min, max}")
def word_count(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    return _within(spec, len(ctx.output.split()), "words")


@kind("length", "number of characters is N, or within {min, max}")
def length(spec: AssertionSpec, ctx: AssertionContext) -> Check:
    return _within(spec, len(ctx.output), "characters")
