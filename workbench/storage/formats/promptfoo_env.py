"""``{{ env.NAME }}`` in a promptfoo config, replaced from the process environment.

promptfoo renders environment templates in its config with Nunjucks, whose ``env`` global is the
process environment: ``{{ env.NAME }}``, ``{{ env['NAME'] }}`` and ``{{ env.NAME |
default('x') }}``; an unset variable renders as empty text. Shell forms (``$NAME``,
``${NAME}``) are not expanded by promptfoo and stay as written here too. The config's own
``env:`` block is not applied (values come from the process environment only, so a config
cannot plant settings or keys); each unset variable is reported on its line. Prompt files are
rendered alike (promptfoo renders ``env`` in every prompt).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from workbench.storage.formats.results import Problems
from workbench.storage.formats.yamlsrc import Doc

_ENV = re.compile(
    r"""\{\{-?\s*env(?:\.(?P<dot>[A-Za-z_][A-Za-z0-9_]*)|\[\s*(?P<q>['"])(?P<key>[^'"]+)(?P=q)\s*\])"""
    r"""(?:\s*\|\s*(?:default|d)\(\s*(?P<dq>['"])(?P<default>.*?)(?P=dq)\s*\))?\s*-?\}\}"""
)


def substitute_env(doc: Doc, problems: Problems, environ: Mapping[str, str]) -> None:
    """Replace environment templates in every string of ``doc.data`` (in place)."""
    doc.data = _walk(doc.data, (), doc, problems, environ)


def _walk(value: Any, path: tuple[str | int, ...], doc: Doc, problems: Problems,
          environ: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, (*path, str(k)), doc, problems, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, (*path, i), doc, problems, environ) for i, v in enumerate(value)]
    if isinstance(value, str) and "env" in value and "{{" in value:
        return render_env(value, doc.line(*path), problems, environ)
    return value


def render_env(text: str, line: int | None, problems: Problems, environ: Mapping[str, str],
               source: str | None = None) -> str:
    """``text`` with its environment templates replaced; an unset variable is reported on
    ``line`` (of ``source``, default the config)."""
    if "env" not in text or "{{" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        name = match.group("dot") or match.group("key")
        if name in environ:
            return environ[name]
        default = match.group("default")
        if default is not None:
            return default
        problems.warn(line, f"environment variable {name} is not set; read as empty text, "
                            "as promptfoo does", source=source)
        return ""

    return _ENV.sub(one, text)
