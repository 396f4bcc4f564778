"""The token inspector in the real main window on the embedded model: the Tokens toggle colours
the answer by probability, hovering a token shows its alternatives, clicking opens them, and the
figures give the run's perplexity."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from tests.ui.windows import shot, window
from workbench.core.logprobs import perplexity, token_texts
from workbench.ui import theming
from workbench.ui.main_window import MainWindow
from workbench.ui.widgets.history_panel import BRANCH_MARK
from workbench.ui.widgets.token_inspector import NO_TOKENS, WAITING
from workbench.ui.widgets.token_text import shown_token, step_colors, step_of

__all__ = ["window"]

RUN_TIMEOUT_MS = 120_000
# The offscreen platform cannot raise a window or grab the keyboard for a popup menu.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (raise|grabbing the keyboard)")


def set_row(qtbot: QtBot, window: MainWindow, name: str, text: str) -> None:
    spin = window.params.rows[name].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Tab)


def run_with_tokens(qtbot: QtBot, window: MainWindow, prompt: str, alternatives: str) -> None:
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, prompt)
    set_row(qtbot, window, "max_tokens", "16")
    if alternatives:
        set_row(qtbot, window, "top_logprobs", alternatives)
        qtbot.waitUntil(lambda: window.params.params().top_logprobs == int(alternatives))
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.output.state == "finished", timeout=RUN_TIMEOUT_MS)


def hover(view: object, point: QPoint) -> str:
    viewport = view.viewport()  # type: ignore[attr-defined]
    event = QHelpEvent(QEvent.Type.ToolTip, point, viewport.mapToGlobal(point))
    QApplication.sendEvent(view, event)  # type: ignore[arg-type]
    return QToolTip.text()


@pytest.mark.slow
def test_tokens_toggle_hover_and_click_on_the_embedded_model(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.resize(1366, 768)
    run_with_tokens(qtbot, window, "Name three colours of the rainbow.", "5")
    output = window.output
    result = output._result
    assert result is not None and result.logprobs
    assert output.confidence_label.text() == f"ppl {perplexity(result.logprobs):.2f}"
    assert "Mean log-probability" in output.confidence_label.toolTip()

    qtbot.mouseClick(output.tokens_button, Qt.MouseButton.LeftButton)
    inspector = output.inspector
    assert output.stack.currentWidget() is inspector
    assert inspector.view.isVisible() and not inspector.empty.isVisible()
    assert inspector.view.toPlainText() == result.text
    view = inspector.view

    index = 1
    tip = hover(view, view.position_of(index))
    token = result.logprobs[index]
    assert f"{math.exp(token.logprob):.1%}" in tip
    assert tip.count("<tr>") == len(token.top) == 5

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.position_of(index))
    menu = inspector.popup
    assert menu is not None and menu.isVisible()
    labels = [a.text() for a in menu.actions() if a.text()]
    assert len([t for t in labels if t.startswith("Branch with ")]) == 5
    shot(window, "token-inspector-light")
    shot(menu, "token-inspector-alternatives")
    menu.close()

    qtbot.mouseClick(output.tokens_button, Qt.MouseButton.LeftButton)
    assert output.stack.currentWidget() is output.browser  # back to the Markdown text


@pytest.mark.slow
def test_a_run_without_token_alternatives_says_how_to_get_them(
    qtbot: QtBot, window: MainWindow
) -> None:
    output = window.output
    output.show_tokens(True)
    output.begin()  # a run on its way says its tokens come at the end, not that there are none
    assert output.inspector.empty.text() == WAITING
    run_with_tokens(qtbot, window, "Say hello.", "")
    assert output.confidence_label.text() == ""
    output.show_tokens(True)
    assert output.inspector.empty.isVisible() and output.inspector.empty.text() == NO_TOKENS


def test_the_colour_steps_differ_from_the_base_in_both_themes(
    qtbot: QtBot, window: MainWindow
) -> None:
    assert [step_of(math.log(p)) for p in (0.95, 0.8, 0.5, 0.2, 0.01)] == [0, 1, 2, 3, 4]
    for mode in ("light", "dark"):
        theming.install(QApplication.instance(), mode)  # type: ignore[arg-type]
        palette = window.palette()
        base = palette.color(palette.ColorRole.Base)
        text = palette.color(palette.ColorRole.Text)
        colors = [c for c in step_colors(palette) if c is not None]
        assert len({c.name() for c in colors}) == 4
        for color in colors:
            assert color != base
            # the text stays readable: at least 3:1 luminance contrast on every step
            lum = [c.lightnessF() for c in (color, text)]
            assert abs(lum[0] - lum[1]) > 0.3
    theming.install(QApplication.instance(), "light")  # type: ignore[arg-type]


@pytest.mark.slow
def test_branch_at_a_token_makes_a_linked_run(qtbot: QtBot, window: MainWindow) -> None:
    window.resize(1366, 768)
    run_with_tokens(qtbot, window, "Name three colours of the rainbow.", "3")
    output = window.output
    parent_id, parent = output.run_id, output._result
    assert parent_id is not None and parent is not None and parent.logprobs
    output.show_tokens(True)
    view = output.inspector.view
    index = 2
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.position_of(index))
    menu = output.inspector.popup
    assert menu is not None
    token = parent.logprobs[index]
    alternative = next(a.token for a in token.top if a.token != token.token)
    action = next(a for a in menu.actions()
                  if a.text().startswith(f"Branch with {shown_token(alternative)} "))
    assert action.isEnabled()
    prefix = "".join(token_texts(parent.logprobs)[:index]) + alternative
    action.trigger()
    qtbot.waitUntil(lambda: output.state == "finished" and output.run_id not in (None, parent_id),
                    timeout=RUN_TIMEOUT_MS)
    assert output.text().startswith(prefix) and output.text() != prefix
    # The branch's tokens after its given start; the last ones may follow a frame after the end.
    qtbot.waitUntil(lambda: view.toPlainText() == output.text())
    stored = window.workspace.store.runs.get(output.run_id)  # type: ignore[arg-type]
    assert (stored.ref.parent_run_id, stored.ref.branch_token) == (parent_id, index)
    assert stored.result.request.continue_from == prefix
    qtbot.waitUntil(lambda: any(row.run_id == stored.id and row.label.startswith(BRANCH_MARK)
                                for row in window.history.model.rows))
    shot(window, "token-inspector-branch")


def test_every_token_is_coloured_a_slice_at_a_time(qtbot: QtBot) -> None:
    """20,000 tokens are coloured over several slices, the visible ones first, and all of them
    in the end (also after a theme change with the view scrolled to the middle)."""
    from workbench.core.logprobs import Alternative, TokenLogprob
    from workbench.ui.widgets.token_inspector import TokenInspector

    sure, doubtful = math.log(0.95), math.log(0.05)
    tokens = [TokenLogprob(w, lp, w.encode(), (Alternative(w, lp),))
              for i in range(20_000)
              for w, lp in [(" w" if i % 9 else "\n", doubtful if i % 2 else sure)]]
    inspector = TokenInspector()
    qtbot.addWidget(inspector)
    inspector.resize(500, 300)
    inspector.show()
    inspector.set_tokens(tokens)
    view = inspector.view
    assert view.coloring  # not all at once
    qtbot.waitUntil(lambda: not view.coloring, timeout=5000)

    def colored(index: int) -> bool:
        block = view.document().findBlock(view._highlighter.starts[index])
        offset = view._highlighter.starts[index] - block.position()
        formats = block.layout().formats()
        return any(f.start <= offset < f.start + f.length and f.format.background().style()
                   != Qt.BrushStyle.NoBrush for f in formats)

    assert [colored(i) for i in (0, 1, 10_001, 19_999)] == [False, True, True, True]
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() // 2)
    theming.install(QApplication.instance(), "dark")  # type: ignore[arg-type]
    inspector.setPalette(QApplication.palette())
    qtbot.waitUntil(lambda: not view.coloring, timeout=5000)
    assert all(colored(i) for i in (1, 10_001, 19_999))
    theming.install(QApplication.instance(), "light")  # type: ignore[arg-type]


def test_the_keyboard_opens_a_tokens_alternatives(qtbot: QtBot) -> None:
    from workbench.core.logprobs import Alternative, TokenLogprob
    from workbench.ui.widgets.token_inspector import TokenInspector

    tokens = [TokenLogprob(w, -0.5, w.encode(), (Alternative(w, -0.5), Alternative(" x", -2.0)))
              for w in ("The", " sea", " is", " blue")]
    inspector = TokenInspector()
    qtbot.addWidget(inspector)
    inspector.show()
    inspector.set_tokens(tokens)
    view = inspector.view
    view.setFocus()
    for _ in range(5):  # past "The" and into " sea"
        qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    menu = inspector.popup
    assert menu is not None and menu.isVisible()
    assert menu.actions()[0].text().startswith("␣sea")
    menu.close()
    qtbot.keyClick(view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    assert inspector.popup is not menu and inspector.popup.isVisible()  # type: ignore[union-attr]
    inspector.popup.close()  # type: ignore[union-attr]
