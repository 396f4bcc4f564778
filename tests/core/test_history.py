"""The editor's one undo history: steps in order, typing folded by pauses, redo, depth."""

from __future__ import annotations

from workbench.core.history import History


def test_steps_undo_and_redo_in_order() -> None:
    history = History("")
    history.record("a", "typed", key="user", now=0.0)
    history.record("a+few", "Applied Few-shot", now=5.0)
    history.record("a+cot", "Applied Chain-of-thought", now=6.0)
    assert history.labels()[0] == ["Applied Chain-of-thought", "Applied Few-shot", "typed"]
    first, second = history.undo(), history.undo()
    assert first is not None and first.label == "Applied Chain-of-thought"
    assert second is not None and second.before == "a" and history.present == "a"
    redone = history.redo()
    assert redone is not None and history.present == "a+few"
    assert history.can_undo and history.can_redo


def test_typing_in_one_place_folds_until_it_pauses_or_something_else_happens() -> None:
    history = History("")
    history.record("h", "typed", key="user", now=0.0)
    history.record("he", "typed", key="user", now=0.5)
    history.record("hel", "typed", key="user", now=1.2)
    assert len(history.labels()[0]) == 1  # one burst
    history.record("hel!", "typed", key="user", now=5.0)  # after a pause: a new step
    history.record("hel!+few", "Applied Few-shot", now=5.1)
    history.record("hel!+few.", "typed", key="user", now=5.2)  # a structural step in between
    assert len(history.labels()[0]) == 4
    history.record("x", "typed", key="system", now=5.3)  # another place: its own step
    assert len(history.labels()[0]) == 5


def test_typing_back_to_where_it_started_leaves_no_step() -> None:
    history = History("a")
    history.record("ab", "typed", key="user", now=0.0)
    history.record("a", "typed", key="user", now=0.1)
    assert not history.can_undo and history.present == "a"


def test_a_new_change_after_undo_drops_the_redo_and_same_state_is_no_change() -> None:
    history = History(0)
    history.record(1, "one", now=0.0)
    history.undo()
    assert history.record(0, "same", now=1.0) is False
    history.record(2, "two", key="k", now=1.0)
    assert not history.can_redo and history.labels()[0] == ["two"]
    history.settle(3)  # shown differently (a parameter kept): not a step
    assert history.present == 3 and history.labels()[0] == ["two"]
    history.reset(9)
    assert not history.can_undo and history.present == 9


def test_depth_is_bounded() -> None:
    history = History(0, depth=3)
    for value in range(1, 10):
        history.record(value, f"set {value}", now=float(value))
    assert history.labels()[0] == ["set 9", "set 8", "set 7"]
