"""The output view, fed by real workers: streaming, Markdown/plain, honest states, errors inline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.ui.runs import REQUEST, chunks, screenshot, scripted
from workbench.backends.scripted import Step
from workbench.core.models import Params, RenderedMessage, RunRequest, RunResult
from workbench.ui import theming
from workbench.ui.run_text import WHAT_TO_DO
from workbench.ui.widgets.output_view import OutputView
from workbench.ui.workers import RunManager

# The offscreen platform plugin warns whenever a shown window's size constraints change; a real
# platform does not. Nothing else is ignored.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

ANSWER = [
    "## Three ideas\n\n",
    "1. **Batch** the requests\n",
    "2. Cache the *prompt*\n",
    "3. Stream tokens\n\n",
    "```python\nfor chunk in stream:\n    show(chunk)\n```\n\n",
    "Done.",
]


@pytest.fixture
def theme(qapp: QApplication) -> Iterator[theming.Theme]:
    """Light theme for screenshots; the application's palette is restored afterwards."""
    saved = qapp.palette()
    theme = theming.install(qapp, "light")
    yield theme
    theme.set_mode("light")
    qapp.setPalette(saved)


@pytest.fixture
def manager(qapp: QApplication) -> Iterator[RunManager]:
    manager = RunManager()
    yield manager
    assert manager.shutdown(10)


@pytest.fixture
def view(qtbot: QtBot, theme: theming.Theme) -> OutputView:
    view = OutputView()
    qtbot.addWidget(view)
    view.resize(760, 340)
    view.show()
    qtbot.waitExposed(view)
    return view


def settle(qtbot: QtBot, view: OutputView) -> None:
    """Wait until the view has painted everything received (bursts spread over frames)."""
    qtbot.waitUntil(lambda: view.caught_up, timeout=20_000)


def record_states(view: OutputView) -> list[str]:
    states: list[str] = []
    view.stateChanged.connect(states.append)
    return states


def test_markdown_streams_then_finishes(
    qtbot: QtBot, view: OutputView, manager: RunManager
) -> None:
    backend = scripted(*[Step(text=t) for t in ANSWER[:4]], Step(delay_s=0.05),
                       *[Step(text=t) for t in ANSWER[4:]])
    states = record_states(view)
    with qtbot.waitSignal(view.stateChanged, timeout=10_000,
                          check_params_cb=lambda s: s == "finished"):
        view.attach(manager.start(backend, REQUEST))
    assert states == ["running", "streaming", "finished"]
    assert view.text() == "".join(ANSWER)
    settle(qtbot, view)
    shown = view.browser.toPlainText()
    assert "Three ideas" in shown and "Batch the requests" in shown and "**" not in shown
    assert "for chunk in stream:" in shown
    assert view.status.text().startswith("✓ finished · stop")
    assert view.tokens_label.text() == "6 tok"
    assert view.ttft_label.text().startswith("TTFT ")
    assert not view.error_label.isVisible()
    assert view.rerun_action.isEnabled() and not view.cancel_action.isEnabled()
    screenshot(view, "output-finished-light")

    view.set_mode("plain")
    settle(qtbot, view)
    assert view.plain.toPlainText() == "".join(ANSWER)  # raw text, Markdown marks included
    assert view.plain.font().fixedPitch() or view.plain.font() == theming.monospace_font()
    screenshot(view, "output-finished-plain")


def test_full_speed_stream_is_painted_in_batches(
    qtbot: QtBot, view: OutputView, manager: RunManager
) -> None:
    paints: list[int] = []
    update = view.markdown.update

    def counting(text: str) -> None:
        paints.append(len(text))
        update(text)

    view.markdown.update = counting  # type: ignore[method-assign]
    steps = chunks(3000)
    with qtbot.waitSignal(view.stateChanged, timeout=20_000,
                          check_params_cb=lambda s: s == "finished"):
        view.attach(manager.start(scripted(*steps), REQUEST))
    settle(qtbot, view)
    expected = "".join(s.text or "" for s in steps).strip()
    assert view.browser.toPlainText().replace("\n", "") == expected
    assert 1 <= len(paints) < 300, "a refresh per token would be thousands"


def test_streaming_state_live_figures_then_cancel_once(
    qtbot: QtBot, view: OutputView, manager: RunManager
) -> None:
    script = [*(Step(text=t) for t in ANSWER[:4]), Step(hang=True)]
    states = record_states(view)
    worker = manager.start(scripted(*script), REQUEST)
    view.attach(worker)
    qtbot.waitUntil(lambda: "Stream tokens" in view.browser.toPlainText(), timeout=10_000)
    assert view.state == "streaming"
    assert view.status.text() == "● streaming"
    assert view.ttft_label.text().startswith("TTFT ")
    assert view.cancel_action.isEnabled() and not view.rerun_action.isEnabled()
    screenshot(view, "output-streaming-light")

    with qtbot.waitSignal(view.stateChanged, timeout=10_000,
                          check_params_cb=lambda s: s == "cancelled"):
        view.cancel_button.click()
    assert states == ["running", "streaming", "cancelling", "cancelled"]
    assert view.text() == "".join(ANSWER[:4])  # the partial answer is kept
    assert "cancelled" in view.status.text()
    view.cancel()  # a second cancel after the end does nothing
    assert states.count("cancelled") == 1


def test_escape_cancels(qtbot: QtBot, view: OutputView, manager: RunManager) -> None:
    worker = manager.start(scripted(Step(text="waiting"), Step(hang=True)), REQUEST)
    view.attach(worker)
    qtbot.waitUntil(lambda: view.state == "streaming", timeout=10_000)
    view.activateWindow()
    view.browser.setFocus()
    qtbot.waitUntil(view.browser.hasFocus, timeout=5_000)
    with qtbot.waitSignal(worker.signals.cancelled, timeout=10_000):
        qtbot.keyClick(view.browser, Qt.Key.Key_Escape)
    assert view.state == "cancelled"


def test_failed_run_shows_reason_and_what_to_do(
    qtbot: QtBot, view: OutputView, manager: RunManager
) -> None:
    backend = scripted(
        Step(text="Partial "),
        Step(error="nothing answers at http://127.0.0.1:9/v1 (is the server running?)",
             error_kind="ConnectError"),
    )
    with qtbot.waitSignal(view.stateChanged, timeout=10_000,
                          check_params_cb=lambda s: s == "failed"):
        view.attach(manager.start(backend, REQUEST))
    assert view.status.text() == "✗ failed"
    assert view.error_label.isVisible()
    error = view.error_label.text()
    assert "nothing answers at http://127.0.0.1:9/v1 (is the server running?)" in error
    # The message and one pointer to where the fix is made; the class name only in the tooltip.
    assert "ConnectError" not in error and view.error_label.toolTip() == "Error type: ConnectError"
    assert WHAT_TO_DO["ConnectError"] in error and "Test connection" in error
    assert "start the server" not in error.lower()  # the backend's hint says what to do
    assert view.text() == "Partial "
    # Under an error (or an answer) the empty state's invitation is gone.
    assert not view.browser.placeholderText() and not view.plain.placeholderText()
    settle(qtbot, view)
    screenshot(view, "output-failed-light")


def test_length_finish_says_what_to_do(
    qtbot: QtBot, view: OutputView, manager: RunManager
) -> None:
    backend = scripted(Step(text="cut short"), finish_reason="length")
    with qtbot.waitSignal(view.stateChanged, timeout=10_000,
                          check_params_cb=lambda s: s == "finished"):
        view.attach(manager.start(backend, REQUEST))
    assert "length" in view.status.text() and "raise max tokens" in view.status.text()


def test_copy_and_rerun(qtbot: QtBot, view: OutputView, manager: RunManager) -> None:
    assert not view.copy_action.isEnabled() and not view.rerun_action.isEnabled()
    with qtbot.waitSignal(view.stateChanged, timeout=10_000,
                          check_params_cb=lambda s: s == "finished"):
        view.attach(manager.start(scripted(Step(text="copy "), Step(text="me")), REQUEST))
    view.copy_button.click()
    assert QGuiApplication.clipboard().text() == "copy me"
    assert view.copied_label.text() == "copied"
    with qtbot.waitSignal(view.rerunRequested, timeout=1_000):
        view.rerun_button.click()


def test_every_control_has_an_accessible_name(view: OutputView) -> None:
    for widget in (view.status, view.copy_button, view.rerun_button, view.cancel_button,
                   view.markdown_button, view.plain_button, view.browser, view.plain,
                   view.error_label, view.ttft_label, view.rate_label):
        assert widget.accessibleName(), widget
    assert "Esc" in view.cancel_action.toolTip()
    assert "Ctrl+Shift+C" in view.copy_action.toolTip()


def test_dark_theme_screenshot(
    qtbot: QtBot, view: OutputView, manager: RunManager, theme: theming.Theme
) -> None:
    theme.set_mode("dark")
    assert theming.is_dark()
    with qtbot.waitSignal(view.stateChanged, timeout=10_000,
                          check_params_cb=lambda s: s == "finished"):
        view.attach(manager.start(scripted(*[Step(text=t) for t in ANSWER]), REQUEST))
    settle(qtbot, view)
    screenshot(view, "output-finished-dark")


@pytest.mark.slow
def test_real_smollm2_streams_into_the_view(
    qtbot: QtBot, view: OutputView, manager: RunManager
) -> None:
    from workbench.backends.llamacpp import LlamaCppBackend
    from workbench.backends.local_models import EMBEDDED_ID

    backend = LlamaCppBackend()
    request = RunRequest(
        backend="llamacpp",
        model=EMBEDDED_ID,
        messages=[RenderedMessage(role="user", content="List three colours.")],
        params=Params(max_tokens=48, seed=7, temperature=0.2),
    )
    states = record_states(view)
    worker = manager.start(backend, request)
    starts: list[object] = []
    worker.signals.started.connect(starts.append)
    try:
        with qtbot.waitSignal(view.stateChanged, timeout=120_000,
                              check_params_cb=lambda s: s in ("finished", "failed")):
            view.attach(worker)
        assert states[-1] == "finished", view.error_label.text()
        assert states[:2] == ["running", "streaming"]
        assert worker.signals.outcome is not None and view.outcome is worker.signals.outcome
        result = worker.signals.outcome.result
        assert result.text.strip()
        assert view.text() == result.text
        tokens = result.usage.output_tokens
        assert tokens and view.tokens_label.text() == f"{tokens:,} tok"
        assert "tok/s" in view.rate_label.text()
        assert "<|im_start|>" in (starts[0].raw_prompt or "")  # type: ignore[attr-defined]
        settle(qtbot, view)
        screenshot(view, "output-smollm2-light")
    finally:
        backend.close()


MARKDOWN = "".join(ANSWER) + (
    "\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quoted\n\n~~~\nfenced\n\nstill fenced\n~~~\n\n"
    "    indented code\n\n- [link](http://example.org)\n- `x`\n\nend"
)


@pytest.mark.parametrize("step", [1, 3, 7, 29])
def test_streamed_markdown_renders_exactly_like_the_whole_text(
    qapp: QApplication, step: int
) -> None:
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QTextBrowser

    from workbench.ui.widgets.markdown_stream import MarkdownStream

    whole, streamed = QTextBrowser(), QTextBrowser()
    MarkdownStream(whole.document(), QColor("#eeeeee")).update(MARKDOWN)
    stream = MarkdownStream(streamed.document(), QColor("#eeeeee"))
    for end in range(0, len(MARKDOWN) + 1, step):
        stream.update(MARKDOWN[:end])
    stream.update(MARKDOWN)
    assert streamed.toHtml() == whole.toHtml()
    assert "still fenced" in whole.toPlainText() and "```" not in whole.toPlainText()


def test_a_long_restored_answer_is_painted_over_several_frames(
    qtbot: QtBot, view: OutputView
) -> None:
    from workbench.core.models import SentRequest

    text = "".join(f"Paragraph {i} with **bold** words and `code`.\n\n" for i in range(6000))
    result_ = RunResult(request=SentRequest(backend="llamacpp", model="m"), text=text,
                        finish_reason="stop")
    view.show_result(result_)
    assert view.state == "finished"
    assert not view.caught_up  # one frame paints a budget's worth, not 300 KB
    qtbot.waitUntil(lambda: view.caught_up, timeout=30_000)
    assert view.markdown.text == text
    assert "Paragraph 5999 with bold words" in view.browser.toPlainText()


def test_streamed_long_blocks_end_like_the_whole_answer_and_copy_raw(
    qtbot: QtBot, view: OutputView, manager: RunManager
) -> None:
    from PySide6.QtGui import QTextDocument

    from tests.ui.markdown_structure import structure

    answer = (
        "# Plan\nNo blank line after the heading.\n```python\n"
        + "".join(f"\tvalue_{i} = compute({i})  # *not* Markdown\n" for i in range(300))
        + "```\nSteps:\n"
        + "".join(f"{i + 1}. step **{i}**\n" for i in range(150))
        + "\n| a | b |\n|---|---|\n| 1 | 2 |\n## Done\nend"
    )
    steps = [Step(text=answer[i:i + 5]) for i in range(0, len(answer), 5)]
    with qtbot.waitSignal(view.stateChanged, timeout=20_000,
                          check_params_cb=lambda s: s == "finished"):
        view.attach(manager.start(scripted(*steps), REQUEST))
    settle(qtbot, view)
    whole = QTextDocument()
    whole.setMarkdown(answer)
    assert structure(view.browser.document()) == structure(whole)
    view.copy_button.click()
    assert QGuiApplication.clipboard().text() == answer


@pytest.mark.parametrize("reading", [False, True])
def test_a_long_streamed_table_follows_the_end_or_keeps_the_readers_place(
    qtbot: QtBot, view: OutputView, manager: RunManager, reading: bool
) -> None:
    """The table is drawn in parts while it streams: the view still follows the end, or, when
    the reader has scrolled up and selected text, keeps both; it ends as one table."""
    from PySide6.QtGui import QTextCursor, QTextDocument

    from tests.ui.markdown_structure import structure

    head = "Results:\n\n| n | what |\n|---|--:|\n"
    first = head + "".join(f"| {i} | **v{i}** |\n" for i in range(40))
    rest = "".join(f"| {i} | **v{i}** |\n" for i in range(40, 120)) + "\nDone."
    steps = [Step(text=first), Step(delay_s=1.5),
             *[Step(text=rest[i:i + 7]) for i in range(0, len(rest), 7)]]
    view.attach(manager.start(scripted(*steps), REQUEST))
    qtbot.waitUntil(lambda: view.caught_up and view.text() == first, timeout=10_000)
    bar = view.browser.verticalScrollBar()
    if reading:
        bar.setValue(0)
        select = QTextCursor(view.browser.document())
        select.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
        view.browser.setTextCursor(select)
    assert view.state == "streaming"
    qtbot.waitUntil(lambda: view.state == "finished", timeout=20_000)
    settle(qtbot, view)
    whole = QTextDocument()
    whole.setMarkdown(first + rest)
    assert structure(view.browser.document()) == structure(whole)
    assert bar.maximum() > 0
    if reading:
        assert bar.value() == 0
        assert view.browser.textCursor().selectedText() == "Results:"
    else:
        assert bar.value() == bar.maximum()
