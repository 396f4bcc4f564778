"""The sandbox template bodies render in: bounded in time and size, and printing data only.

Every imported template is untrusted. Jinja's ``ImmutableSandboxedEnvironment`` stops attribute
escapes, but not a template that multiplies a string, pads it to a billion characters, raises
an integer to a huge power, or loops over a million characters a million times; and it happily
prints a function's or class's repr with its address. This environment closes both holes at
the class level:

- **Data only.** Text is made in one place, :func:`to_text`, which refuses anything that is not
  data (str, numbers, bool, None, and lists, tuples and dicts of them): every ``{{ }}``, every
  ``~``, ``%`` and ``str.format``, and every filter argument goes through it or its check, so
  no filter (``string``, ``format``, ``join``, ``pprint``, ``tojson``...) can print a callable,
  a type, a module or a Jinja internal (``self``, ``loop``, a namespace, a macro).
- **Bounded size.** Each operation that can grow a value (``*``, ``+``, ``**``, ``~``, ``%``,
  padding filters and methods, ``join``, ``replace``, ``batch``...) is checked *before* it
  allocates; every list, tuple and dict a template builds, and every namespace value, is
  weighed; text and item counts are capped at ``MAX_SIZE``, integers at ``MAX_INT_BITS``.
- **Bounded time.** Every call, operator, filter and step of every ``for`` loop checks the
  render's deadline (attribute lookups need not: they cannot repeat by themselves), so a render
  stops within a few milliseconds of ``RENDER_SECONDS``.

Time is checked between operations, so one C-level operation is never interrupted; size caps
keep each one short. Callers that must survive anything (the preview) also render in a helper
process they can stop.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any, cast

from jinja2 import StrictUndefined, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.utils import Namespace
from markupsafe import Markup

from workbench.core.sandbox_values import (
    CONTAINERS,
    FLAT,
    MAX_INT_BITS,
    MAX_SIZE,
    MAX_WEIGHT,
    SCALARS,
    Checked,
    Range,
    kind,
    refuse,
    tick,
    to_text,
    weigh,
)

_DICT_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))


# --- size checks made before an operation allocates --------------------------------------------


def _check_len(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise refuse(f"{what} would be longer than {MAX_SIZE:,}")


def _check_int(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise refuse(f"{what} would be larger than {MAX_INT_BITS:,} bits")


_SPEC_NUMBERS = re.compile(r"\d+")
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def _check_spec(spec: str) -> None:
    """A ``format()`` spec's width and precision must fit the size limit."""
    for number in _SPEC_NUMBERS.findall(spec):
        _check_len(int(number), "formatted text")


def _check_widths(template: str) -> None:
    """A ``%`` template's widths and precisions must fit the size limit."""
    for width, precision, _ in _PERCENT.findall(template):
        if "*" in (width, precision):
            raise refuse("'*' widths are not supported in % formatting")
        _check_len(int(width or 0), "formatted text")
        _check_len(int(precision or 0), "formatted text")


#: Short templates are checked once: a loop formats with the same one again and again.
_check_short_widths = lru_cache(maxsize=256)(_check_widths)


def percent_format(template: str, args: Any) -> str:
    """``template % args`` with the widths checked and the arguments data only."""
    (_check_short_widths if len(template) <= 200 else _check_widths)(template)
    if type(args) is not str and type(args) not in FLAT:
        weigh(args, "% formatting", "cannot take")
    result = template % args
    _check_len(len(result), "formatted text")
    return result


def _join_size(items: list[Any] | tuple[Any, ...], sep: Any) -> int:
    size = sum(len(item) if type(item) is str else 24 for item in items)
    return size + len(str(sep)) * max(len(items) - 1, 0)


def _replace_size(text: str, old: str, new: str, count: int | None) -> int:
    found = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _lines(text: str) -> int:
    return text.count("\n") + 1


def _indent_size(a: dict[str, Any]) -> int:
    text, width = str(a["s"]), a.get("width", 4)
    pad = width if isinstance(width, int) else len(str(width))
    _check_len(pad, "indentation")
    return len(text) + _lines(text) * pad


def _wordwrap_size(a: dict[str, Any]) -> int:
    text = str(a["s"])
    width = max(int(a.get("width", 79)), 1)
    wrap = a.get("wrapstring") or "\n"
    return len(text) + (len(text) // width + _lines(text)) * len(str(wrap))


def _join_filter_size(a: dict[str, Any]) -> int:
    value = a["value"]
    items = list(value) if isinstance(value, Iterator) else value
    a["value"] = items  # the iterator is consumed: join the list instead
    if isinstance(items, str) or not isinstance(items, Iterable):
        return len(str(items))
    if not isinstance(items, list | tuple):
        items = a["value"] = list(items)
    return _join_size(items, a.get("d", ""))


def _sum_size(a: dict[str, Any]) -> int:
    items = a["iterable"]
    if isinstance(items, Iterator):
        items = a["iterable"] = list(items)
    return sum(len(item) for item in items if isinstance(item, list | tuple))


_SMALL = 1000

#: Filters that can build a value much larger than their input: the size they would build.
_GROWS: dict[str, Callable[[dict[str, Any]], int]] = {
    "center": lambda a: max(len(str(a["value"])), int(a.get("width", 80))),
    "indent": _indent_size,
    "wordwrap": _wordwrap_size,
    "join": _join_filter_size,
    "replace": lambda a: _replace_size(
        str(a["s"]),
        str(a["old"]),
        str(a["new"]),
        a.get("count"),
    ),
    "batch": lambda a: int(a["linecount"]),
    "slice": lambda a: int(a["slices"]),
    "sum": _sum_size,
    "truncate": lambda a: len(str(a.get("end", "..."))),
}


def _check_str_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Size checks for the ``str`` methods that can grow their text; the arguments to call it
    with (an iterator given to ``join`` is read into a list to be measured)."""
    name = getattr(obj, "__name__", "")
    text = obj.__self__
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        _check_len(args[0], f"{name}()")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        _check_len(len(text) * max(int(size), 1), "expandtabs()")
    elif name == "join" and args:
        items = list(args[0])
        _check_len(_join_size(items, text), "join()")
        return (items, *args[1:])
    elif name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count")
        _check_len(_replace_size(text, str(args[0]), str(args[1]), count), "replace()")
    elif name == "translate":
        table = args[0] if args else {}
        longest = max((len(v) for v in dict(table).values() if isinstance(v, str)), default=1)
        _check_len(len(text) * longest, "translate()")
    return args


# --- the environment --------------------------------------------------------------------------


class _GuardedFormatting:
    """``str.format`` fields: widths checked, values data only."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        tick()
        if not format_spec:
            return to_text(value)
        _check_spec(format_spec)
        if not isinstance(value, SCALARS):
            raise refuse(f"a template cannot format a {kind(value)}")
        return format(value, format_spec)


class _Formatter(_GuardedFormatting, SandboxedFormatter):
    pass


class _EscapeFormatter(_GuardedFormatting, SandboxedEscapeFormatter):
    pass


class _Namespace(Namespace):
    """``namespace()``: what a loop may accumulate in it is weighed on every assignment."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # Namespace's own signature
        weigh((args[1:], kwargs), "a namespace")
        Namespace.__init__(*args, **kwargs)

    def __setitem__(self, name: str, value: Any) -> None:
        weigh(value, "a namespace")
        super().__setitem__(name, value)


_Namespace.__name__ = _Namespace.__qualname__ = "namespace"


class _CodeGenerator(CodeGenerator):
    """``~`` goes through :func:`to_text`; every list, tuple and dict literal is weighed."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.join_text((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        # Jinja folds constant output at compile time, and folds ``~`` with ``str()``:
        # ``{{ 'a'.upper ~ '' }}`` would print a method's repr. Such output is made at run time.
        if isinstance(node, nodes.Concat) or node.find(nodes.Concat) is not None:
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def _built(self, visit: Callable[[Any, Frame], None], node: Any, frame: Frame) -> None:
        self.write("environment.built(")
        visit(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._built(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._built(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx == "load":
            self._built(super().visit_Tuple, node, frame)
        else:  # a loop or assignment target, not a value
            super().visit_Tuple(node, frame)


class Sandbox(ImmutableSandboxedEnvironment):
    """The workbench's sandbox: data only, bounded in size and time (see the module docs)."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, **options: Any) -> None:
        """``options`` are Jinja's (a chat template renders with ``trim_blocks``...)."""
        defaults = {"undefined": StrictUndefined, "keep_trailing_newline": True}
        super().__init__(**(defaults | options), autoescape=False, finalize=to_text)
        self.optimized = False  # the optimizer folds ``~`` with ``str()`` too (see above)
        self.globals = {"dict": dict, "namespace": _Namespace, "range": self.range}

    # Filters are wrapped when they are registered, so any filter added later is guarded too.
    def guard_filters(self) -> None:
        self.filters = {name: self._guarded(name, f) for name, f in self.filters.items()}

    def _guarded(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        passes = getattr(func, "jinja_pass_arg", None)
        lead = int(passes is not None)  # Jinja passes the context (or environment) first
        estimate = _GROWS.get(name)
        names: list[str] = []
        if estimate is not None:
            names = list(inspect.signature(func).parameters)
            # The signature shows the argument Jinja passes first when the function itself
            # asks for it; not when only its sync/async wrapper does (``do_slice``).
            if lead and getattr(inspect.unwrap(func), "jinja_pass_arg", None) is not None:
                names = names[1:]
        what = f"the '{name}' filter"

        def guarded(*args: Any, **kwargs: Any) -> Any:
            tick()
            weight, small = 0, True
            for value in (*args[lead:], *kwargs.values()):
                kind_of = type(value)
                if kind_of is str:
                    weight += len(value)
                elif kind_of is int:
                    weight += 1
                    small = small and value <= _SMALL
                elif kind_of in FLAT:
                    weight += 1
                else:
                    weight += weigh(value, what, "cannot take")
                    small = small and not isinstance(value, Checked)
            # Small arguments cannot build a large result (at most about _SMALL squared).
            if estimate is not None and (weight > _SMALL or not small):
                named = dict(zip(names, args[lead:], strict=False)) | kwargs
                _check_len(estimate(named), f"the result of {what}")
                args, kwargs = args[:lead], named
            result = func(*args, **kwargs)
            if isinstance(result, str):
                _check_len(len(result), f"the result of {what}")
            elif isinstance(result, Iterator) and not isinstance(result, Checked):
                return Checked(result, what)
            return result

        if passes is not None:
            guarded.jinja_pass_arg = passes  # type: ignore[attr-defined]
        return guarded

    # --- values the compiled code asks the environment for ---------------------------------

    def join_text(self, parts: tuple[Any, ...]) -> str:
        """``a ~ b``."""
        tick()
        texts = [part if type(part) is str else to_text(part) for part in parts]
        _check_len(sum(map(len, texts)), "joined text")
        return "".join(texts)

    def built(self, value: Any) -> Any:
        tick()
        weigh(value, "a list, tuple or dict")
        return value

    def range(self, *args: int) -> Iterator[int]:
        items = range(*args)
        _check_len(len(items), "range")
        return Range(items)

    def iterate(self, iterable: Any) -> Iterator[Any]:
        """Every ``for`` loop iterates through this: one budget check per step."""
        if isinstance(iterable, Undefined):
            iterable = iter(iterable)  # StrictUndefined raises with the name
        for item in iterable:
            tick()
            yield item

    # --- sandbox hooks --------------------------------------------------------------------

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        tick()
        if operator == "%" and isinstance(left, str):
            return percent_format(left, right)
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            _check_int(max(left.bit_length(), 1) * right if abs(left) > 1 else 1, "a power")
        elif operator == "*":
            _check_product(left, right)
        elif operator == "+" and isinstance(left, str | list | tuple):
            _check_sum(left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        tick()
        if isinstance(getattr(__obj, "__self__", None), str):
            args = _check_str_call(__obj, args, kwargs)
        result = ImmutableSandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        if isinstance(result, _DICT_VIEWS):  # d.items() is a list of pairs: plain data
            result = list(cast(Iterable[Any], result))
        if isinstance(result, str):
            _check_len(len(result), "the result of a call")
        elif isinstance(result, CONTAINERS):
            weigh(result, "a call", "cannot return")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        text: str = value.__self__
        formatter: SandboxedFormatter = (
            _EscapeFormatter(self, escape=text.escape)
            if isinstance(text, Markup)
            else _Formatter(self)
        )
        is_map = value.__name__ == "format_map"

        def guarded(*args: Any, **kwargs: Any) -> str:
            tick()
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                mapping: Mapping[str, Any] = args[0]
                return checked(formatter.vformat(text, (), mapping))
            return checked(formatter.vformat(text, args, kwargs))

        def checked(formatted: str) -> str:
            result = type(text)(formatted)
            _check_len(len(result), "formatted text")
            return result

        return guarded

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Every ``for`` loop's iterable goes through :meth:`iterate` (a budget check a step)."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("iterate"),
                [loop.iter],
                [],
                None,
                None,
                lineno=loop.iter.lineno,
            )
        return tree


def _check_sum(left: str | list[Any] | tuple[Any, ...], right: Any) -> None:
    if isinstance(right, str | list | tuple):
        _check_len(len(left) + len(right), "the sum")
        if not isinstance(left, str):
            weigh((left, right), "the sum")


def _check_product(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int) and times > 0:
            _check_len(len(seq) * times, "the repetition")
            if not isinstance(seq, str) and weigh(seq, "the repetition") * times > MAX_WEIGHT:
                raise refuse(f"the repetition is too large (limit {MAX_WEIGHT:,})")
    if isinstance(left, int) and isinstance(right, int):
        _check_int(left.bit_length() + right.bit_length(), "a product")
