"""Generated templates (hypothesis): whatever operations, filters and loops a body combines, it
renders or fails with a one-line TemplateError, within the time budget, never printing Python
internals. The child-process corpus (test_render_corpus.py) measures memory as well."""

from __future__ import annotations

import re
import resource
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.core.errors import TemplateError
from workbench.core.templates import render_text

_INTERNALS = re.compile(
    r"<class '|<built-in|<function |<module |object at 0x|<bound method|<method |"
    r"<TemplateReference|<Context |<jinja2\.|<Namespace|<Macro|<LoopContext|<generator|"
    r"iterator object|Checked|_Namespace|sandbox"
)

_INTS = st.sampled_from(["0", "1", "3", "-2", "99", "1000", "99999", "999999999", "10**6"])
_LEAVES = st.sampled_from(
    [
        "'x'",
        "'ab'",
        "''",
        "'%s-%05d'",
        "'{}'",
        "'{:>99999999}'",
        "name",
        "items",
        "pairs",
        "range(4)",
        "range(100000)",
        "dict",
        "range",
        "namespace",
        "self",
        "none",
        "true",
        "2.5",
        "'x' * 1000000",
        "[1, 2]",
        "{'k': 'v'}",
    ]
)
_FILTERS = st.sampled_from(
    [
        "string",
        "list",
        "length",
        "upper",
        "title",
        "reverse",
        "unique",
        "sort",
        "first",
        "last",
        "sum",
        "tojson",
        "pprint",
        "urlencode",
        "safe",
        "trim",
        "wordcount",
        "striptags",
        "center({i})",
        "indent({i})",
        "wordwrap({i})",
        "truncate({i})",
        "batch({i})",
        "slice({i})",
        "format({e})",
        "join({e})",
        "replace({e}, {e})",
        "map('string')",
        "map(attribute='upper')",
        "default({e})",
        "attr('upper')",
        "dictsort",
        "items",
    ]
)
_METHODS = st.sampled_from(
    [
        "center({i})",
        "ljust({i})",
        "zfill({i})",
        "join({e})",
        "replace({e}, {e})",
        "format({e})",
        "split()",
        "upper()",
        "items()",
        "keys()",
        "count({e})",
    ]
)
_OPERATORS = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "~", "==", "in"])


def _fill(shape: str, parts: st.DataObject) -> str:
    while "{i}" in shape or "{e}" in shape:
        if "{i}" in shape:
            shape = shape.replace("{i}", parts.draw(_INTS), 1)
        else:
            shape = shape.replace("{e}", parts.draw(_LEAVES), 1)
    return shape


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0:
        return draw(_LEAVES)
    inner = draw(_expressions(depth - 1))
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return inner
    if choice == 1:
        return f"({inner})|{_fill(draw(_FILTERS), draw(st.data()))}"
    if choice == 2:
        return f"({inner}).{_fill(draw(_METHODS), draw(st.data()))}"
    if choice == 3:
        return f"({inner} {draw(_OPERATORS)} {draw(_expressions(depth - 1))})"
    if choice == 4:
        return f"[{inner}, {inner}]"
    return f"{{'k': {inner}}}"


@st.composite
def _bodies(draw: st.DrawFn) -> str:
    expression = draw(_expressions())
    shape = draw(st.integers(0, 2))
    if shape == 0:
        return f"{{{{ {expression} }}}}"
    if shape == 1:
        return f"{{% for x in {draw(_expressions(1))} %}}{{{{ {expression} }}}}{{% endfor %}}"
    return (
        "{% set ns = namespace(v='x') %}{% for i in range(64) %}"
        f"{{% set ns.v = {expression.replace('name', 'ns.v')} %}}{{% endfor %}}{{{{ ns.v }}}}"
    )


_VALUES = {"name": "Ada", "items": ["a", "b"], "pairs": {"a": 1}}


@pytest.fixture(scope="module")
def peak_before_mb() -> float:
    """This process's peak RSS before the fuzzing (earlier tests may have raised it: a model)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_bodies())
def test_generated_templates_render_or_fail_cleanly(peak_before_mb: float, body: str) -> None:
    started = time.perf_counter()
    try:
        output = render_text(body, _VALUES, "fuzz")
    except TemplateError as err:
        output = str(err)
        assert "\n" not in output, body
    assert time.perf_counter() - started < 10.0, body
    assert not _INTERNALS.search(output), (body, output[:300])


def test_the_fuzzing_stayed_within_memory(peak_before_mb: float) -> None:
    """Coarse (the peak is this process's, whichever test set it): far below the gigabytes
    an unbounded template takes."""
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert peak_mb < max(peak_before_mb, 200) + 512
