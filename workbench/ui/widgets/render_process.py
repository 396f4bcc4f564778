"""Render and parse big templates in a helper process, so the GUI thread never waits on the GIL.

A worker *thread* is not enough for a big template. Jinja turns a template into Python source and
hands it to ``compile()``: for a 500,000-character body that single C call holds the GIL for
25-60 ms, and the parsing before it is pure Python that takes the GIL back every few ms. The GUI
thread needs the GIL to run any slot, so typing would stutter while a preview renders. Bodies
above ``BIG_CHARS`` are therefore rendered (and their variables discovered) in one long-lived
helper process; the worker thread waits on it with the GIL released. Small templates render in
the thread, where the round trip would cost more than it saves.

Errors cross the process boundary as data and are rebuilt as the same ``TemplateError``
subclasses, so callers cannot tell where the work ran. If the helper process dies, the work is
done in the thread and a new process is started next time.

The helper process is also the hard stop for untrusted templates. The sandbox bounds every
render (``workbench.core.sandbox``: 1.5 s, sizes checked before they are allocated; the whole
injection and exhaustion corpus stays within 1.6 s and 80 MB), but it checks time between
operations. Here a render that still runs past ``HARD_SECONDS`` is stopped by killing the
process, and the process runs under an address-space limit, so a render that would need more
memory fails there with a ``TemplateError`` instead of taking the machine's.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from workbench.core.errors import MissingVariableError, TemplateError
from workbench.core.models import PromptTemplate, RenderedMessage
from workbench.core.templates import Discovery, bodies, discover, render, render_completion

log = logging.getLogger(__name__)

#: Templates whose bodies add up to more characters than this are worked on in the process.
BIG_CHARS = 32_000
#: How long the helper process may work on one template before it is killed: far above the
#: sandbox's own budget, for anything that escapes it (one C-level call that never returns).
HARD_SECONDS = 10.0
#: The helper process's address-space limit.
HELPER_ADDRESS_SPACE = 2 << 30

_executor: ProcessPoolExecutor | None = None
_lock = threading.Lock()

CountTokens = Callable[[str], int]


def template_chars(template: PromptTemplate) -> int:
    return sum(len(source) for _, source in bodies(template))


def is_big(template: PromptTemplate) -> bool:
    """Whether ``template`` is worked on in the helper process.

    A template that fits examples into a token budget needs the model's tokenizer while it
    renders, which the helper process does not have; it renders in the thread.
    """
    needs_tokenizer = template.few_shot.token_budget is not None and bool(template.examples)
    return not needs_tokenizer and template_chars(template) > BIG_CHARS


def _pool() -> ProcessPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            # spawn: forking a process that runs Qt and threads is unsafe.
            _executor = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_limit_memory
            )
        return _executor


def _limit_memory() -> None:
    """Run in the helper process as it starts: cap its address space."""
    try:
        import resource
    except ImportError:  # no such limit on this platform
        return
    resource.setrlimit(resource.RLIMIT_AS, (HELPER_ADDRESS_SPACE, HELPER_ADDRESS_SPACE))


def _kill(executor: ProcessPoolExecutor) -> None:
    """Stop a helper process that is still working (a pool cannot cancel a running task)."""
    global _executor
    with _lock:
        if _executor is executor:
            _executor = None
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        process.kill()
    executor.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the helper process (it is started again when next needed)."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)


# --- run in the helper process: plain data in, plain data out --------------------------------


def _error_data(err: TemplateError) -> dict[str, Any]:
    return {
        "missing": err.name if isinstance(err, MissingVariableError) else None,
        "reason": err.reason,
        "source": err.source,
        "line": err.line,
        "column": err.column,
        "hint": err.hint,
    }


def _rebuild(data: dict[str, Any]) -> TemplateError:
    if data["missing"] is not None:
        return MissingVariableError(data["missing"], source=data["source"], line=data["line"])
    return TemplateError(
        data["reason"], source=data["source"], line=data["line"], column=data["column"],
        hint=data["hint"],
    )


def _render_remote(template: PromptTemplate, values: dict[str, str]) -> tuple[bool, Any]:
    try:
        if template.mode == "completion":
            return True, render_completion(template, values)
        return True, render(template, values)
    except TemplateError as err:
        return False, _error_data(err)


def _discover_remote(template: PromptTemplate, skip_broken: bool) -> tuple[bool, Any]:
    try:
        return True, discover(template, skip_broken=skip_broken)
    except TemplateError as err:
        return False, _error_data(err)


# --- called from worker threads ---------------------------------------------------------------


def _remote(fn: Callable[..., tuple[bool, Any]], *args: Any) -> tuple[bool, Any] | None:
    """``fn(*args)`` in the helper process; None if the process broke (then work locally)."""
    global _executor
    executor = _pool()
    try:
        return executor.submit(fn, *args).result(timeout=HARD_SECONDS)
    except FutureTimeout:
        _kill(executor)
        raise TemplateError(
            f"rendering took longer than {HARD_SECONDS:g} s and was stopped",
            hint="simplify the template's loops",
        ) from None
    except BrokenProcessPool:
        log.warning("the template helper process died; rendering in this process")
        with _lock:
            _executor = None
        return None


def in_helper(fn: Callable[..., tuple[bool, Any]], *args: Any) -> tuple[bool, Any] | None:
    """``fn(*args)`` (a module-level function returning ``(ok, payload)``) in the helper
    process; None if the process broke (then do the work locally)."""
    return _remote(fn, *args)


def _unwrap(result: tuple[bool, Any]) -> Any:
    ok, payload = result
    if not ok:
        raise _rebuild(payload)
    return payload


def render_chat(
    template: PromptTemplate, values: Mapping[str, str], count_tokens: CountTokens | None = None
) -> list[RenderedMessage]:
    """``templates.render``, in the helper process for a big template."""
    if is_big(template):
        result = _remote(_render_remote, template, dict(values))
        if result is not None:
            messages: list[RenderedMessage] = _unwrap(result)
            return messages
    return render(template, values, count_tokens)


def render_text_prompt(
    template: PromptTemplate, values: Mapping[str, str], count_tokens: CountTokens | None = None
) -> str:
    """``templates.render_completion``, in the helper process for a big template."""
    if is_big(template):
        result = _remote(_render_remote, template, dict(values))
        if result is not None:
            text: str = _unwrap(result)
            return text
    return render_completion(template, values, count_tokens)


def discover_variables(template: PromptTemplate, *, skip_broken: bool = False) -> Discovery:
    """``templates.discover``, in the helper process for a big template."""
    if is_big(template):
        result = _remote(_discover_remote, template, skip_broken)
        if result is not None:
            found: Discovery = _unwrap(result)
            return found
    return discover(template, skip_broken=skip_broken)
