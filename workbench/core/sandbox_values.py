"""What a sandboxed template may hold and print, and the clock of its render.

Split from ``workbench.core.sandbox`` (the environment and its size checks): the render budget
every hook ticks, the weighing of values (data only, bounded), the one function that turns a
value into text, and the checked iterators filters and ``range`` return.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from time import monotonic as _now
from types import ModuleType
from typing import Any

from jinja2 import Undefined
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext, Macro, TemplateReference
from jinja2.utils import Namespace

#: Characters in any one string a template builds or outputs; items in any one list it builds.
MAX_SIZE = 2_000_000
#: Total characters plus items in any one list, tuple, dict or namespace value built.
MAX_WEIGHT = 4 * MAX_SIZE
#: Bits of any integer a template computes: about 4,200 digits, so every one can be printed
#: (Python refuses to print integers of more than 4,300 digits).
MAX_INT_BITS = 14_000
#: Wall-clock budget of one render (all bodies of one template share it).
RENDER_SECONDS = 1.5

SCALARS = (str, int, float, bool, type(None))
CONTAINERS = (list, tuple, dict)
FLAT = frozenset({int, float, bool, type(None)})


def refuse(message: str) -> SecurityError:
    return SecurityError(message)


# --- the render budget ------------------------------------------------------------------------


class Budget:
    """One render's deadline; every sandbox hook calls :func:`tick`."""

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = RENDER_SECONDS if seconds is None else seconds
        self.deadline = _now() + self.seconds
        #: ``id -> (container, weight)`` of heavy containers already weighed (see _Weigher).
        self.weights: dict[int, tuple[Any, int]] = {}


_BUDGET: ContextVar[Budget | None] = ContextVar("render_budget", default=None)


@contextlib.contextmanager
def budget(seconds: float | None = None) -> Iterator[Budget]:
    """The active render budget, or a new one: nested renders share the outermost budget."""
    current = _BUDGET.get()
    if current is not None:
        yield current
        return
    fresh = Budget(seconds)
    token = _BUDGET.set(fresh)
    try:
        yield fresh
    finally:
        _BUDGET.reset(token)


def tick() -> None:
    current = _BUDGET.get()
    if current is not None and _now() > current.deadline:
        raise refuse(f"rendering took longer than {current.seconds:g} s")


# --- data only ------------------------------------------------------------------------------


def kind(value: Any) -> str:
    """What a non-data value is, in words, without its repr."""
    if isinstance(value, type):
        return "class"
    if isinstance(value, Namespace):
        return "namespace"
    if isinstance(value, LoopContext):
        return "loop variable"
    if isinstance(value, Macro):
        return "macro"
    if isinstance(value, TemplateReference):
        return "template reference ('self')"
    if isinstance(value, ModuleType):
        return "module"
    if isinstance(value, Iterator):
        return "generator (add |list to make it a list)"
    if callable(value):
        return "function"
    return f"{type(value).__name__} object"


class _Weigher:
    """Walks a value counting items and characters; refuses non-data and overweight values.

    A container whose weight is mostly shared parts (``[a, a]`` built again and again) is
    remembered for the rest of the render, so weighing a shared structure costs its size in
    memory, not the number of paths through it.
    """

    def __init__(self, limit: int, what: str, verb: str) -> None:
        self.limit = limit
        self.what = what
        self.verb = verb
        self.weight = 0
        current = _BUDGET.get()
        self.known = current.weights if current is not None else None

    def add(self, amount: int) -> None:
        self.weight += amount
        if self.weight > self.limit:
            self.refuse_size()

    def refuse_size(self) -> None:
        raise refuse(f"{self.what} is too large (limit {self.limit:,} characters and items)")

    def walk(self, value: Any) -> None:
        if isinstance(value, str):
            self.add(len(value) + 1)
        elif isinstance(value, (*SCALARS, Undefined, Checked)):
            self.add(1)
        elif isinstance(value, CONTAINERS):
            self._container(value)
        else:
            raise refuse(f"{self.what} {self.verb} a {kind(value)}")

    def _container(self, value: list[Any] | tuple[Any, ...] | dict[Any, Any]) -> None:
        known = self.known
        if known is not None:
            seen = known.get(id(value))
            if seen is not None and seen[0] is value:
                self.add(seen[1])
                return
        start = self.weight
        self.add(1 + len(value))  # a too-long container is refused before it is walked
        if isinstance(value, dict):
            self._walk_all(value.keys())
            self._walk_all(value.values())
        else:
            self._walk_all(value)
        if self.weight > self.limit:
            self.refuse_size()
        weight = self.weight - start
        if known is not None and weight > 64 * (len(value) + 1) and len(known) < 4096:
            known[id(value)] = (value, weight)

    def _walk_all(self, items: Iterable[Any]) -> None:
        """Each item was counted as one; a string or container adds its own weight instead."""
        for i, item in enumerate(items):
            if not i & 0xFFF:
                tick()
                if self.weight > self.limit:
                    self.refuse_size()
            kind_of = type(item)
            if kind_of in FLAT:
                continue  # already counted as one
            if kind_of is str:
                self.weight += len(item)
                continue
            self.weight -= 1
            self.walk(item)


def weigh(value: Any, what: str, verb: str = "cannot hold", limit: int = MAX_WEIGHT) -> int:
    """Characters plus items in ``value`` (shared parts counted each time they appear); a
    value that is not data is refused with ``f"{what} {verb} a {kind}"``."""
    if type(value) in (list, tuple) and len(value) <= 256:  # the common case, made fast
        total = 1 + len(value)
        for item in value:
            kind_of = type(item)
            if kind_of is str:
                total += len(item)
            elif kind_of not in FLAT:
                break
        else:
            if total <= limit:
                return total
    weigher = _Weigher(limit, what, verb)
    weigher.walk(value)
    return weigher.weight


def to_text(value: Any) -> str:
    """The text of a data value, as Python would print it; anything else is refused.

    The one place the sandbox turns a value into text: output, ``~``, ``str.format``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float) or value is None:
        return str(value)
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined raises, naming the missing variable
    if isinstance(value, CONTAINERS):
        out: list[str] = []
        _Writer(out).write(value)
        return "".join(out)
    raise refuse(f"a template cannot print a {kind(value)}")


class _Writer:
    """Builds a container's text piece by piece, stopping at ``MAX_SIZE`` characters."""

    def __init__(self, out: list[str]) -> None:
        self.out = out
        self.size = 0

    def put(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_SIZE:
            raise refuse(f"text longer than {MAX_SIZE:,} characters")
        self.out.append(text)

    def write(self, value: Any) -> None:
        if isinstance(value, str):
            self.put(repr(str(value)))
        elif isinstance(value, bool | int | float) or value is None:
            self.put(repr(value))
        elif isinstance(value, dict):
            self._items(value.items(), "{", "}", pairs=True)
        elif isinstance(value, tuple):
            self._items(value, "(", ",)" if len(value) == 1 else ")")
        elif isinstance(value, CONTAINERS):
            self._items(value, "[", "]")
        elif isinstance(value, Undefined):
            self.put(str(value))
        else:
            raise refuse(f"a template cannot print a {kind(value)}")

    def _items(self, items: Iterable[Any], start: str, end: str, pairs: bool = False) -> None:
        self.put(start)
        tick()
        for i, item in enumerate(items):
            if i:
                self.put(", ")
            if pairs:
                self.write(item[0])
                self.put(": ")
                self.write(item[1])
            else:
                self.write(item)
        self.put(end)


class Checked(Iterator[Any]):
    """An iterator a filter returned (``map``, ``select``, ``reverse``...): each item it yields
    is checked to be data, counted, and the budget ticked."""

    def __init__(self, inner: Iterator[Any], what: str) -> None:
        self._inner = inner
        self._what = what
        self._count = 0

    def __iter__(self) -> Iterator[Any]:
        return self

    def __repr__(self) -> str:
        raise refuse(f"a template cannot print a {kind(self)}")

    __str__ = __repr__

    def __next__(self) -> Any:
        item = next(self._inner)
        self._count += 1
        if self._count > MAX_SIZE:
            raise refuse(f"{self._what} yields more than {MAX_SIZE:,} items")
        tick()
        weigh(item, self._what, "cannot yield")
        return item


class Range(Checked):
    """``range()``: lazy like Python's, with its length (``loop.length``, ``|length``)."""

    def __init__(self, items: range) -> None:
        super().__init__(iter(items), "range")
        self._items = items

    def __len__(self) -> int:
        return len(self._items) - self._count

    def __reversed__(self) -> Iterator[int]:
        return Checked(reversed(self._items[self._count :]), "range")


# Python's own errors name these types ("can only concatenate str (not "range") to str"):
# they read as what a template author wrote, not as the workbench's internals.
Checked.__name__ = Checked.__qualname__ = "generator"
Range.__name__ = Range.__qualname__ = "range"
