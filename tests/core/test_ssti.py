"""Every template-injection payload of the shared fixtures fails harmlessly.

A payload as a template body must neither run code, read files, open sockets nor print Python
internals; as a variable value it must come out verbatim.
"""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from workbench.core.errors import TemplateError
from workbench.core.templates import render_text

_WATCHING = False
_EVENTS: list[tuple[str, Any]] = []
_DANGEROUS = (
    "open",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "subprocess.Popen",
    "socket.connect",
    "socket.getaddrinfo",
    "os.remove",
    "os.rename",
    "os.mkdir",
    "ctypes",
    "import",
    "compile",
    "exec",
    "os.listdir",
    "os.scandir",
    "shutil",
)


def _jinja_compiling(event: str, args: Any) -> bool:
    """Jinja compiles each template to Python code named ``<template>``, and rewrites error
    tracebacks with a one-line ``raise`` stub: both are expected."""
    if event == "compile":
        return bool(args[1] == "<template>" or args[0] == b"raise __jinja_exception__")
    if event == "exec":
        return getattr(args[0], "co_filename", "") in ("<template>", "<unknown>")
    return False


def _audit(event: str, args: Any) -> None:
    if _WATCHING and event.startswith(_DANGEROUS) and not _jinja_compiling(event, args):
        _EVENTS.append((event, args))


sys.addaudithook(_audit)


def _warm_up() -> None:
    """Let Python load what Jinja imports lazily (its debug module on the first error, the
    unicode_escape codec for string literals), so the audit sees only what payloads do."""
    render_text("{{ 'x' }}", {})
    with contextlib.suppress(TemplateError):
        render_text("{{ missing }}", {})


_warm_up()

_INTERNALS = re.compile(
    r"<class '|<built-in|<function |<module |object at 0x|<bound method|<method |"
    r"root:x:0:0|uid=\d|<TemplateReference|<Context |<jinja2\."
)


def _payloads(fixtures: Path) -> list[str]:
    folder = fixtures / "ssti"
    found = [
        line
        for line in (folder / "PayloadsAllTheThings-ssti.fuzz")
        .read_text(encoding="utf-8")
        .splitlines()
        if line.strip()
    ]
    in_code = False
    for line in (
        (folder / "PayloadsAllTheThings-SSTI-Python.md").read_text(encoding="utf-8").splitlines()
    ):
        if line.startswith("```"):
            in_code = not in_code
        elif in_code and line.strip():
            found.append(line)
    return found


@pytest.fixture(scope="module")
def payloads(fixtures_dir: Path) -> list[str]:
    found = _payloads(fixtures_dir)
    assert len(found) > 200, "the fixture should hold hundreds of payloads"
    return found


def _render_watched(source: str, values: dict[str, str]) -> str:
    global _WATCHING
    _EVENTS.clear()
    _WATCHING = True
    try:
        return render_text(source, values, "payload")
    finally:
        _WATCHING = False


def test_payloads_as_template_bodies_fail_harmlessly(payloads: list[str]) -> None:
    rendered = refused = 0
    for payload in payloads:
        try:
            output = _render_watched(payload, {})
        except TemplateError:
            refused += 1
            assert _EVENTS == [], (payload, _EVENTS)
            continue
        rendered += 1
        assert _EVENTS == [], (payload, _EVENTS)
        leaked = [m for m in _INTERNALS.findall(output) if m not in payload]
        assert not leaked, (payload, output[:300])
    # Payloads reaching for internals are refused; plain text and ``{{7*7}}`` render harmlessly.
    assert refused >= 50 and rendered > 0


def test_payloads_as_values_come_out_verbatim(payloads: list[str]) -> None:
    for payload in payloads:
        output = _render_watched("before {{ value }} after", {"value": payload})
        assert output == f"before {payload} after"
        assert _EVENTS == []


def test_specific_escapes_are_refused() -> None:
    attempts = [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{{ range }}",
        "{{ self }}",
        "{{ namespace }}",
        "{{ 'x' * 100000000 }}",
        "{{ 9 ** 99999999 }}",
        "{% for i in range(10**9) %}{% endfor %}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    ]
    for source in attempts:
        with pytest.raises(TemplateError):
            render_text(source, {})


def test_harmless_expressions_still_work() -> None:
    assert render_text("{{ 7 * 7 }}", {}) == "49"
    assert render_text("{% for i in range(3) %}{{ i }}{% endfor %}", {}) == "012"
    assert render_text("{{ name | upper }}", {"name": "ada"}) == "ADA"
