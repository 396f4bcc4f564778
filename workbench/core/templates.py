"""Rendering prompt templates safely.

Bodies are Jinja2, rendered in an immutable sandbox with ``StrictUndefined``: a template can compute
with the values it is given, but can neither reach Python internals nor print anything but data.
Variable *values* are inserted verbatim and never rendered again.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import (
    Template,
    TemplateSyntaxError,
    UndefinedError,
    meta,
    nodes,
)
from jinja2.exceptions import SecurityError
from jinja2.lexer import TOKEN_RAW_BEGIN, TOKEN_RAW_END, Token, ignored_tokens
from jinja2.parser import Parser

from workbench.core.errors import MissingVariableError, TemplateError
from workbench.core.models import Example, PromptTemplate, RenderedMessage
from workbench.core.sandbox import Sandbox, percent_format
from workbench.core.sandbox_values import MAX_SIZE, budget

#: Names the renderer provides itself; they are never reported as undeclared.
RESERVED_NAMES = frozenset({"examples", "examples_block", "parts"})
#: Names the sandbox itself provides to every body: never variables of a template.
SANDBOX_NAMES = frozenset({"range", "dict", "namespace"})
COMPONENT_NAMES = ("instruction", "context", "input_data", "output_indicator")

MAX_OUTPUT_CHARS = MAX_SIZE


def _make_env() -> Sandbox:
    env = Sandbox()
    # JSON text to data; ``load`` is promptfoo's (Nunjucks) name for the same filter.
    env.filters["fromjson"] = env.filters["load"] = _from_json
    env.filters["format"] = _format
    env.guard_filters()
    return env


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    """The ``format`` filter: ``value % args``, through the sandbox's checked formatting."""
    if args and kwargs:
        raise TypeError("format: give positional or keyword arguments, not both")
    return percent_format(str(value), kwargs or args)


def _from_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as err:
        raise ValueError(f"fromjson: not JSON text ({err})") from None


_ENV = _make_env()
#: Every filter a body may use: Jinja's own and the workbench's (``fromjson``, ``load``).
FILTERS = frozenset(_ENV.filters)


# --- errors with positions -------------------------------------------------------------------

_LEXER_AT = re.compile(r" at (\d+)$")
_NOT_PARSED = ignored_tokens | {TOKEN_RAW_BEGIN, TOKEN_RAW_END}


def _error_offset(source: str, message: str) -> int | None:
    """Character offset of the token a syntax error is about.

    Jinja reports only a line. The source is lexed again (raw token texts concatenate to the
    source, so offsets are exact): a lexer error is at its stated offset or where lexing stopped.
    For a parser error the source is parsed with the token stream recorded, and the offending
    token is found among the raw tokens.
    """
    raw: list[tuple[int, str]] = []
    offset = 0
    try:
        for _, kind, text in _ENV.lexer.tokeniter(source, None):
            raw.append((offset, kind))
            offset += len(text)
    except TemplateSyntaxError:
        at = _LEXER_AT.search(message)
        return int(at.group(1)) if at else offset
    parser = Parser(_ENV, source)
    stream = parser.stream
    seen: list[Token] = [stream.current]
    inner = stream._iter

    def recording() -> Iterator[Token]:
        for token in inner:
            seen.append(token)
            yield token

    stream._iter = recording()
    try:
        parser.parse()
    except TemplateSyntaxError:
        pass
    else:
        return None
    current = stream.current
    if current.type == "eof":
        return len(source)
    index = next((i for i in range(len(seen) - 1, -1, -1) if seen[i] is current), None)
    significant = [start for start, kind in raw if kind not in _NOT_PARSED]
    return significant[index] if index is not None and index < len(significant) else None


def _syntax_error(err: TemplateSyntaxError, source: str, where: str) -> TemplateError:
    message = err.message or "syntax error"
    try:
        offset = _error_offset(source, message)
    except RecursionError:
        offset = None
    if offset is None:
        return TemplateError(message, source=where, line=err.lineno or 1)
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return TemplateError(_LEXER_AT.sub("", message), source=where, line=line, column=column)


def _template_line(tb: Any) -> int | None:
    """The template line of a render-time error, from Jinja's rewritten traceback."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_UNDEFINED = re.compile(r"^'([^']+)' is undefined$")


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
#: Jinja names a type by its module path ("'jinja2.runtime.LoopContext object' has no ...").
_MODULE_PATH = re.compile(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w* object\b)")


def _render_error(err: BaseException, where: str) -> TemplateError:
    line = _template_line(sys.exc_info()[2])
    if isinstance(err, UndefinedError):
        match = _UNDEFINED.match(str(err))
        if match:
            return MissingVariableError(match.group(1), source=where, line=line)
    if isinstance(err, SecurityError):
        return TemplateError(f"not allowed: {err}", source=where, line=line)
    if isinstance(err, RecursionError):
        return TemplateError(_TOO_DEEP, source=where, line=line)
    if isinstance(err, MemoryError):
        return TemplateError("not allowed: rendering ran out of memory", source=where, line=line)
    # No message shows where an object lives in memory, or the module that defines it.
    return TemplateError(_MODULE_PATH.sub("", _ADDRESS.sub("", str(err))), source=where, line=line)


_TOO_DEEP = "nested too deeply (recursion limit reached)"


def _too_deep(err: BaseException, where: str) -> TemplateError:
    """A body nested deeper than Jinja's parser or Python's compiler can follow."""
    if isinstance(err, SyntaxError):  # Python's "too many statically nested blocks"
        return TemplateError(f"nested too deeply ({err.msg})", source=where)
    return TemplateError(_TOO_DEEP, source=where)


# --- parsing and discovery ---------------------------------------------------------------------


def parse(source: str, where: str = "") -> nodes.Template:
    """Parse a body, raising ``TemplateError`` with line and column on a syntax error."""
    try:
        return _ENV.parse(source)
    except TemplateSyntaxError as err:
        raise _syntax_error(err, source, where) from None
    except (RecursionError, MemoryError) as err:
        raise _too_deep(err, where) from None


@lru_cache(maxsize=512)
def _compiled_source(source: str) -> Template:
    return _ENV.from_string(source)


def compile_body(source: str, where: str = "") -> Template:
    """A compiled body (cached: previews re-render the same bodies on every keystroke)."""
    try:
        return _compiled_source(source)
    except TemplateSyntaxError as err:
        raise _syntax_error(err, source, where) from None
    except (RecursionError, MemoryError, SyntaxError) as err:
        raise _too_deep(err, where) from None


def variables_in(source: str, where: str = "") -> set[str]:
    """Every free variable a body uses, inside loops and conditionals too."""
    ast = parse(source, where)
    try:
        return set(meta.find_undeclared_variables(ast)) - SANDBOX_NAMES
    except TemplateSyntaxError as err:  # e.g. an unknown filter, found while compiling
        raise _syntax_error(err, source, where) from None
    except (RecursionError, MemoryError) as err:
        raise _too_deep(err, where) from None


def bodies(template: PromptTemplate) -> list[tuple[str, str]]:
    """``(where, source)`` for every Jinja body of a template, in order."""
    found = [
        (f"components.{name}", getattr(template.components, name))
        for name in COMPONENT_NAMES
        if getattr(template.components, name)
    ]
    if template.mode == "completion":
        found.append(("text", template.text))
    else:
        found.extend(
            (f"messages[{i}] ({m.role})", m.content)
            for i, m in enumerate(template.messages)
            if not m.literal
        )
    if template.examples:
        found.append(("few_shot.example_format", template.few_shot.example_format))
    return found


@dataclass
class Discovery:
    """What a template uses and declares, with the mismatches as warnings."""

    used: list[str]
    undeclared: list[str]
    unused: list[str]
    warnings: list[str] = field(default_factory=list)


def discover(template: PromptTemplate, *, skip_broken: bool = False) -> Discovery:
    """Find the variables a template uses; report undeclared and unused ones.

    ``skip_broken``: a body with a syntax error is passed over instead of raising, so a
    template just opened with an error still shows the variables that can be found.
    """
    used: set[str] = set()
    for where, source in bodies(template):
        if where == "few_shot.example_format":
            continue
        try:
            used |= variables_in(source, where)
        except TemplateError:
            if not skip_broken:
                raise
    used -= RESERVED_NAMES
    declared = {v.name for v in template.variables}
    undeclared = sorted(used - declared)
    unused = sorted(declared - used)
    warnings = [f"'{n}' is used but not declared" for n in undeclared]
    warnings += [f"'{n}' is declared but never used" for n in unused]
    return Discovery(sorted(used), undeclared, unused, warnings)


# --- rendering ---------------------------------------------------------------------------------


def render_text(source: str, values: Mapping[str, Any], where: str = "") -> str:
    """Render one Jinja body with ``values`` (inserted verbatim, never re-rendered).

    Bounded in time and size whatever the body holds (see ``workbench.core.sandbox``); every
    failure is a one-line ``TemplateError``.
    """
    template = compile_body(source, where)
    try:
        with budget():
            out: list[str] = []
            size = 0
            for chunk in template.generate(dict(values)):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise SecurityError(f"output longer than {MAX_OUTPUT_CHARS:,} characters")
                out.append(chunk)
            return "".join(out)
    except TemplateError:
        raise
    except Exception as err:
        # A body may hand any value to any filter or method: whatever they raise (TypeError,
        # AttributeError, Jinja's own asserts, RecursionError...) is the template's error.
        raise _render_error(err, where) from None


def select_examples(
    examples: list[Example],
    template: PromptTemplate,
    count_tokens: Callable[[str], int] | None = None,
) -> list[tuple[Example, str]]:
    """Choose and format the few-shot examples: order, k, then the token budget."""
    cfg = template.few_shot
    chosen = list(examples)
    if cfg.order == "shuffle":
        random.Random(cfg.seed).shuffle(chosen)
    if cfg.k is not None:
        chosen = chosen[: cfg.k]
    formatted: list[tuple[Example, str]] = []
    spent = 0
    for ex in chosen:
        text = render_text(cfg.example_format, ex.model_dump(), "few_shot.example_format")
        if cfg.token_budget is not None and count_tokens is not None:
            cost = count_tokens(text + cfg.separator)
            if spent + cost > cfg.token_budget:
                break
            spent += cost
        formatted.append((ex, text))
    return formatted


def context_for(
    template: PromptTemplate,
    values: Mapping[str, str] | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> dict[str, Any]:
    """The values a template's bodies are rendered with: defaults, examples and parts."""
    context: dict[str, Any] = {
        v.name: v.default for v in template.variables if v.default is not None
    }
    context.update(values or {})
    shots = select_examples(template.examples, template, count_tokens)
    context["examples"] = [ex.model_dump() for ex, _ in shots]
    context["examples_block"] = template.few_shot.separator.join(text for _, text in shots)
    context["parts"] = {
        name: render_text(source, context, f"components.{name}")
        for name in COMPONENT_NAMES
        if (source := getattr(template.components, name))
    } | {name: "" for name in COMPONENT_NAMES if not getattr(template.components, name)}
    return context


def render(
    template: PromptTemplate,
    values: Mapping[str, str] | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> list[RenderedMessage]:
    """Render a chat template to exactly the messages that will be sent."""
    if template.mode == "completion":
        return [RenderedMessage(role="user", content=render_completion(template, values))]
    context = context_for(template, values, count_tokens)
    return [
        RenderedMessage(
            role=m.role,
            content=m.content
            if m.literal
            else render_text(m.content, context, f"messages[{i}] ({m.role})"),
            images=m.images,
        )
        for i, m in enumerate(template.messages)
    ]


def render_completion(
    template: PromptTemplate,
    values: Mapping[str, str] | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> str:
    """Render a completion-style template to its one prompt text."""
    if template.mode != "completion":
        raise TemplateError("this is a chat template; render its messages instead")
    return render_text(template.text, context_for(template, values, count_tokens), "text")


_SPECIAL = re.compile(r"(\{\{|\{%|\{#|\r)")


def literal(text: str) -> str:
    """A Jinja body that renders to exactly ``text``, whatever ``{{``, ``{%`` or CR it holds.

    Jinja would read ``{{`` as an expression and normalise CRLF to LF; both are escaped.
    """
    return "".join(
        f"{{{{ {piece!r} }}}}" if i % 2 else piece for i, piece in enumerate(_SPECIAL.split(text))
    )
