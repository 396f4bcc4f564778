"""One undo history for a document: typing and structural changes undone and redone in turn.

The editor records the document each time typing pauses and after each structural change (a
technique applied, a message removed). Typing in the same place that goes on within
``COALESCE_S`` of the last pause is folded into one step, as editors do, while a structural
change is always a step of its own, so Ctrl+Z twice undoes chain-of-thought and then few-shot
even with typing in between. Snapshots are whole (immutable) documents: undo never replays edits,
so it cannot drift from what was shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

T = TypeVar("T")

DEPTH = 100  # snapshots share unchanged text; a typed step holds its changed message
COALESCE_S = 1.0


@dataclass(frozen=True)
class Step(Generic[T]):
    """One change: what it was called, the document before and after it."""

    label: str
    before: T
    after: T
    key: str | None = None  # typing steps with the same key may fold together
    at: float = 0.0


class History(Generic[T]):
    """Undo and redo stacks of ``Step``s around the present document."""

    def __init__(self, present: T, *, depth: int = DEPTH, coalesce_s: float = COALESCE_S) -> None:
        self.present = present
        self._depth = depth
        self._coalesce_s = coalesce_s
        self._undo: list[Step[T]] = []
        self._redo: list[Step[T]] = []

    def reset(self, present: T) -> None:
        """A new document: nothing of the old one can be undone into it."""
        self.present = present
        self._undo.clear()
        self._redo.clear()

    def record(
        self, state: T, label: str, *, key: str | None = None, now: float | None = None
    ) -> bool:
        """Make ``state`` the present; False if nothing changed. A step with the ``key`` of the
        last one, recorded within the coalescing time, extends it instead of adding one."""
        if state == self.present:
            return False
        now = time.monotonic() if now is None else now
        last = self._undo[-1] if self._undo else None
        if (
            key is not None
            and last is not None
            and last.key == key
            and not self._redo
            and now - last.at <= self._coalesce_s
        ):
            self._undo.pop()
            if state != last.before:  # typed back to where it started: no step at all
                self._undo.append(replace(last, after=state, at=now))
        else:
            self._undo.append(Step(label, self.present, state, key, now))
            del self._undo[: -self._depth]
        self._redo.clear()
        self.present = state
        return True

    def settle(self, state: T) -> None:
        """The present as shown after an undo or redo that kept something the step did not
        change (so it is not recorded as a change of its own)."""
        self.present = state

    def undo(self) -> Step[T] | None:
        """The last step, undone: the present is what it was before it."""
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        self.present = step.before
        return step

    def redo(self) -> Step[T] | None:
        """The last undone step, made again."""
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(replace(step, key=None))  # a redone step never folds typing into it
        self.present = step.after
        return step

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def labels(self) -> tuple[list[str], list[str]]:
        """What undo and redo would do next, most recent first."""
        return [s.label for s in reversed(self._undo)], [s.label for s in reversed(self._redo)]
