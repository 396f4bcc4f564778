"""The template-injection and resource-exhaustion corpus, and a harness that renders it in a
child process, measuring each payload's time and peak memory.

Shared by tests/core/test_render_corpus.py (generous budgets: never flaky) and
bench/bench_render.py (the strict figures). Each payload is rendered as a template body and as a
variable value. The child runs under an address-space limit, so a payload that would take
gigabytes fails there (and is reported) instead of taking the machine; a payload that does not
finish within the parent's timeout is reported as a hang and the child is restarted.

Run as a script (``python -m tests.core.render_corpus``) it is the child: it reads the payloads
as JSON on stdin and prints one JSON line per payload.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: Address-space limit of the child: far above any budget, far below what the machine has.
CHILD_ADDRESS_SPACE = 3 << 30


def _nested(opening: str, closing: str, depth: int, middle: str = "x") -> str:
    return opening * depth + middle + closing * depth


def literal_dag(depth: int) -> str:
    """Two separate lists of 2**depth leaves built from ``depth`` plain ``set`` lines, compared
    (Python compares them leaf by leaf, in C)."""
    lines = ["{% set a0 = [1] %}{% set b0 = [1] %}"]
    lines += [
        f"{{% set a{i} = [a{i - 1}, a{i - 1}] %}}{{% set b{i} = [b{i - 1}, b{i - 1}] %}}"
        for i in range(1, depth + 1)
    ]
    return "".join(lines) + f"{{{{ a{depth} == b{depth} }}}}"


#: Templates that try to exhaust time or memory (issue 15 items 4 and 7, and more of each kind).
EXHAUSTION: list[str] = [
    # nested loops over a million-character string
    "{% set s = 'x' * 1000000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for a in 'x' * 1000000 %}{% for b in 'y' * 1000000 %}{{ b }}{% endfor %}{% endfor %}",
    # integer powers and products
    "{{ (((9**99)**99)**99)**99 }}",
    "{{ 9**9**9 }}",
    "{{ 2 ** 99999999 }}",
    "{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
    "{% endfor %}{{ ns.n }}",
    # padding and formatting widths
    "{{ 'x'|center(999999999) }}",
    "{{ '%0999999999d'|format(1) }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '%.999999999f' % 1.5 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '{0:{1}}'.format(1, 999999999) }}",
    "{{ '{x:^999999999}'.format_map({'x': 1}) }}",
    "{{ 'x'.ljust(999999999) }}",
    "{{ 'x'.rjust(999999999) }}",
    "{{ '1'.zfill(999999999) }}",
    "{{ 'x\t'.expandtabs(999999999) }}",
    "{{ 'a'|indent(999999999) }}",
    "{{ ('a\n' * 100000)|indent('x' * 1000) }}",
    "{{ ('a ' * 100000)|wordwrap(1, wrapstring='x' * 1000) }}",
    "{{ 'x'|truncate(999999999) }}",
    # string multiplication and concatenation growth
    "{{ 'x' * 999999999 }}",
    "{{ ['x'] * 999999999 }}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s * 2 %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}"
    "{% endfor %}{{ ns.l|length }}",
    "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
    "{% set ns.l = ns.l + ['x' * 1000000] %}{% endfor %}{{ ns.l|length }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = [ns.l, ns.l] %}"
    "{% endfor %}{{ ns.l|string|length }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = [ns.l, ns.l] %}"
    "{% endfor %}{{ ns.l|tojson|length }}",
    literal_dag(64),
    "{{ 'x' * 2000000 ~ 'x' * 2000000 }}",
    "{% for i in range(100000) %}{{ 'x' * 1000000 }}{% endfor %}",
    "{% set s = 'x' * 1000000 %}{{ [s] * 1000000 }}",
    "{% set s = 'x' * 1000000 %}{{ ([s] * 1000)|join }}",
    "{% set s = 'x' * 1000000 %}{{ ([s] * 1000)|reverse|join }}",
    "{% set s = 'x' * 1000000 %}{{ '%s' % (([s] * 1000),) }}",
    "{% set s = 'x' * 1000000 %}{{ ([s] * 1000)|string|length }}",
    "{% set s = 'x' * 1000000 %}{{ ([s] * 1000)|pprint|length }}",
    "{% set s = 'x' * 1000000 %}{{ dict.fromkeys(range(100000), s)|length }}",
    "{{ ('x' * 1000000)|replace('x', 'y' * 1000) }}",
    "{{ ('x' * 1000000).replace('x', 'y' * 1000) }}",
    "{{ ('y' * 1000).join(['x'] * 1000000) }}",
    "{{ ('x' * 1000000).translate({120: 'y' * 1000}) }}",
    "{{ (['x' * 1000] * 1000)|join('y' * 1000) }}",
    "{{ ([[1] * 1000000] * 1000)|sum(start=[]) }}",
    "{{ [1]|batch(999999999, 'x')|list }}",
    "{{ [1]|slice(999999999)|list|length }}",
    "{{ range(999999999)|list }}",
    "{{ ('x' * 1000000)|list|string|length }}",
    "{{ range(1000000)|list|tojson|length }}",
    "{{ ('<' * 1000000)|striptags }}",
    "{{ ('a' * 100000 ~ '@')|urlize }}",
    "{{ (('x' * 100000) ~ ' ') * 10|wordcount }}",
    # recursion
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% for x in [[1]] recursive %}{{ loop([[x]]) }}{% endfor %}",
    _nested("{% if true %}", "{% endif %}", 2000),
    "{{ " + _nested("(", ")", 5000, "1") + " }}",
    _nested("{% for x in [1] %}", "{% endfor %}", 300),
    "{{ " + "-" * 5000 + "1 }}",
    "{{ " + "[" * 5000 + "]" * 5000 + " }}",
]

#: Templates that try to print Python internals (issue 15 item 6); each must fail or print data.
INTERNALS: list[str] = [
    "{{ range|string }}",
    "{{ ''.join|string }}",
    "{{ '%s'|format(namespace) }}",
    "{{ self|string }}",
    "{{ dict ~ '' }}",
    "{{ '' ~ range }}",
    "{{ [range]|string }}",
    "{{ range|pprint }}",
    "{{ {'a': range}|tojson }}",
    "{{ dict|urlencode }}",
    "{{ [dict]|join }}",
    "{{ range|safe }}",
    "{{ self|e }}",
    "{{ range|title }}",
    "{{ range|list }}",
    "{{ namespace()|string }}",
    "{{ namespace(a=1) ~ '' }}",
    "{{ '{}'.format(range) }}",
    "{{ '{0}'.format(self) }}",
    "{{ '%r' % ((range,),) }}",
    "{{ '%s' % namespace }}",
    "{{ [1]|map('string')|string }}",
    "{{ [1]|unique|string }}",
    "{{ [1, 2]|reverse|string }}",
    "{{ range(3)|string }}",
    "{{ ['a']|map(attribute='upper')|join }}",
    "{{ 'a'|attr('upper')|string }}",
    "{{ missing|default(range)|string }}",
    "{% for i in [1] %}{{ loop|string }}{% endfor %}",
    "{% for i in [1] %}{{ loop ~ '' }}{% endfor %}",
    "{% macro m() %}{% endmacro %}{{ m|string }}",
    "{% macro m() %}{{ caller|string }}{% endmacro %}{% call m() %}{% endcall %}",
    "{{ {}.items|string }}",
    "{{ dict.fromkeys|string }}",
    "{{ ''.encode()|string }}",
    "{{ {'a': 1}.items()|string }}",
    "{{ [self]|tojson }}",
    "{{ [dict]|pprint }}",
    "{{ {'k': range}|xmlattr }}",
    "{{ (range, 1)|join(',') }}",
    "{{ 'a'.upper ~ 'b' }}",
    "{{ self }}",
    "{{ range }}",
    "{{ [range] }}",
    "{{ dict }}",
]


def ssti_payloads(fixtures: Path) -> list[str]:
    """The PayloadsAllTheThings lists: the fuzz list's lines and every code line of the guide."""
    folder = fixtures / "ssti"
    fuzz = (folder / "PayloadsAllTheThings-ssti.fuzz").read_text(encoding="utf-8")
    found = [line for line in fuzz.splitlines() if line.strip()]
    in_code = False
    guide = (folder / "PayloadsAllTheThings-SSTI-Python.md").read_text(encoding="utf-8")
    for line in guide.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif in_code and line.strip():
            found.append(line)
    return found


def cases(fixtures: Path | None) -> list[tuple[str, str]]:
    """``(body, value)`` pairs: each payload as a body, and as the value of ``{{ value }}``."""
    payloads = [*EXHAUSTION, *INTERNALS, *(ssti_payloads(fixtures) if fixtures else [])]
    return [(p, "") for p in payloads] + [("<{{ value }}>", p) for p in payloads]


# --- the harness ------------------------------------------------------------------------------


@dataclass
class Measure:
    """One case's outcome: ``ok``, ``refused`` (a TemplateError), ``crash`` (any other
    exception) or ``hang`` (killed after the timeout)."""

    body: str
    value: str
    outcome: str
    seconds: float
    peak_mb: float
    message: str
    output: str = ""


def measure(pairs: list[tuple[str, str]], timeout: float = 30.0) -> Iterator[Measure]:
    """Render each pair in a child process; one ``Measure`` each, in order."""
    pending = list(pairs)
    while pending:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.core.render_corpus"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(pending))
        child.stdin.close()
        done = 0
        for line in _lines_within(child, timeout):
            data = json.loads(line)
            yield Measure(*pending[done], **data)
            done += 1
        child.kill()
        child.wait()
        if done < len(pending):
            body, value = pending[done]
            yield Measure(body, value, "hang", timeout, 0.0, f"no answer within {timeout:g} s")
            done += 1
        pending = pending[done:]


def _lines_within(child: subprocess.Popen[str], timeout: float) -> Iterator[str]:
    """The child's lines, stopping when one does not arrive within ``timeout`` seconds."""
    import selectors

    assert child.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ)
    while True:
        if not selector.select(timeout):
            return
        line = child.stdout.readline()
        if not line:
            return
        yield line


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux 4.0+); False where it cannot be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))
    from workbench.core.errors import TemplateError
    from workbench.core.templates import render_text

    if "RENDER_CORPUS_BUDGET" in os.environ:  # the harness's own test: a render that hangs
        from workbench.core import sandbox_values

        sandbox_values.RENDER_SECONDS = float(os.environ["RENDER_CORPUS_BUDGET"])

    render_text("{{ 'warm' }}", {})
    for body, value in json.loads(sys.stdin.read()):
        _reset_peak()
        started = time.perf_counter()
        output = ""
        try:
            output = render_text(body, {"value": value}, "payload")
            outcome, message = "ok", ""
        except TemplateError as err:
            outcome, message = "refused", str(err)
        except BaseException as err:  # the harness reports every failure
            outcome, message = "crash", f"{type(err).__name__}: {str(err)[:300]}"
        seconds = time.perf_counter() - started
        record = {
            "outcome": outcome,
            "seconds": seconds,
            "peak_mb": _peak_mb(),
            "message": message,
            "output": output[:2000],
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    _child()
