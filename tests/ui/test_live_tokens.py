"""The token inspector colours tokens as they stream in, in the output view and in compare
columns, with their alternatives on hover; when the run ends it equals the stored run shown
afresh from history (text, token spans, colours, character formats)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent, QTextCharFormat
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from tests.ui.windows import shot, window
from workbench.backends.config import BackendConfig
from workbench.backends.scripted import Step
from workbench.core.logprobs import token_texts
from workbench.core.models import Params, RenderedMessage, RunRequest
from workbench.services.runner import Runner
from workbench.storage.repositories import Store
from workbench.storage.writer import StoreWriter
from workbench.ui import theming
from workbench.ui.main_window import MainWindow
from workbench.ui.widgets.output_view import OutputView
from workbench.ui.widgets.token_inspector import STREAMING_NOTE, WAITING, TokenInspector
from workbench.ui.widgets.token_text import TokenTextView
from workbench.ui.workers import RunManager

__all__ = ["window"]

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support (raise|grabbing the keyboard)")

WORDS = [" The", " sea", " is", " blue", ",", " é", "t", "é", " 日本", " 🙂", "\n", " and", " so"]
#: One probability per colour step, away from the steps' bounds (stored as float32).
PROBS = [0.95, 0.8, 0.55, 0.25, 0.05]
HALF = 150


def scored(i: int, shift: int = 0) -> Step:
    word = WORDS[i % len(WORDS)] if i % 41 else "\n\n"
    logprob = math.log(PROBS[(i + shift) % len(PROBS)])
    top = ((word, logprob), (" x", logprob - 1.5), (" y", logprob - 2.25))
    return Step(text=word, logprob=logprob, top=top)


def script(shift: int = 0) -> list[Step]:
    """Half the answer, a pause while it is looked at, then the rest."""
    return [*(scored(i, shift) for i in range(HALF)), Step(delay_s=2.0),
            *(scored(i, shift) for i in range(HALF, 2 * HALF))]


SCRIPT = script()


@pytest.fixture
def runs(tmp_path: Path, theme: theming.Theme) -> Iterator[tuple[RunManager, Store]]:
    """Runs through the real runner into a real store (what history shows afterwards): on
    "scored", and on "torn", whose tokens are less sure."""
    configs = {
        name: BackendConfig(name=name, backend="scripted", options={
            "script": [s.model_dump(exclude_defaults=True) for s in script(shift)],
            "concurrency": 2})
        for name, shift in (("scored", 0), ("torn", 2))
    }
    with Store.open(tmp_path / "runs.db") as store:
        writer = StoreWriter(store)
        runner = Runner(writer=writer, configs=configs)
        manager = RunManager(runner=runner)
        yield manager, store
        assert manager.shutdown(10)
        runner.close()
        assert writer.close()


REQUEST = RunRequest(backend="scored", messages=[RenderedMessage(role="user", content="Go")],
                     params=Params(top_logprobs=3))


def hover(view: TokenTextView, index: int) -> str:
    """The tooltip of token ``index``, scrolled into view first (a streaming view follows its
    end, so an early token may be above the viewport)."""
    bar = view.verticalScrollBar()
    while view.position_of(index).y() < 0 and bar.value() > bar.minimum():
        bar.setValue(bar.value() - 1)
    while view.position_of(index).y() >= view.viewport().height() and bar.value() < bar.maximum():
        bar.setValue(bar.value() + 1)
    point = view.position_of(index)
    assert view.viewport().rect().contains(point), point
    viewport = view.viewport()
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, point,
                                            viewport.mapToGlobal(point)))
    return QToolTip.text()


def rendering(view: TokenTextView) -> dict[str, Any]:
    """What the view shows: its text, token spans and steps, each block's highlighted ranges
    and the character formats of its text."""
    ranges: list[tuple[int, int, int, str]] = []
    formats: list[tuple[int, int, QTextCharFormat]] = []
    block = view.document().firstBlock()
    while block.isValid():
        for r in block.layout().formats():
            brush = r.format.background()
            ranges.append((block.position() + r.start, r.length, brush.style().value,
                           brush.color().name()))
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            formats.append((fragment.position(), fragment.length(), fragment.charFormat()))
            it += 1
        block = block.next()
    return {"text": view.toPlainText(), "spans": view.spans(), "ranges": ranges,
            "formats": formats, "tokens": view.tokens}


def shown_afresh(qtbot: QtBot, tokens: Any, lead: str = "") -> TokenInspector:
    inspector = TokenInspector()
    qtbot.addWidget(inspector)
    inspector.resize(700, 400)
    inspector.show()
    inspector.set_tokens(tokens, lead=lead)
    qtbot.waitUntil(lambda: not inspector.view.coloring, timeout=5000)
    return inspector


def test_tokens_are_coloured_as_they_stream_and_end_as_the_stored_run_shows(
    qtbot: QtBot, runs: tuple[RunManager, Store]
) -> None:
    manager, store = runs
    output = OutputView()
    qtbot.addWidget(output)
    output.resize(700, 420)
    output.show()
    output.show_tokens(True)
    worker = manager.start_run(REQUEST)
    output.attach(worker)
    inspector, view = output.inspector, output.inspector.view
    assert inspector.empty.isVisible() and inspector.empty.text() == WAITING

    # Mid-stream (the script pauses after half its tokens): coloured, with alternatives
    qtbot.waitUntil(lambda: len(view.tokens) == HALF, timeout=10_000)
    assert output.state == "streaming" and view.isVisible() and not inspector.empty.isVisible()
    assert view.toPlainText() == "".join(s.text or "" for s in SCRIPT[:HALF])
    steps = [s for _start, _end, s in view.spans()]
    assert steps[:5] == [0, 1, 2, 3, 4]
    colored = rendering(view)["ranges"]
    assert len({color for *_rest, color in colored}) == 4  # every step but the sure one
    tip = hover(view, 3)
    assert "␣blue" in tip and "25.0%" in tip and tip.count("<tr>") == 3
    menu = inspector.open_alternatives(3)
    branches = [a for a in menu.actions() if a.text().startswith("Branch with")]
    assert branches and not any(a.isEnabled() for a in branches)  # not while it streams
    assert STREAMING_NOTE in [a.text() for a in menu.actions()]
    menu.close()
    screenshot(output, "token-inspector-streaming")

    qtbot.waitUntil(lambda: output.state == "finished", timeout=20_000)
    assert output.run_id is not None
    stored = store.runs.get(output.run_id).result
    assert stored.logprobs is not None and len(stored.logprobs) == 2 * HALF
    # what had not been shown at the end follows over the next frames
    qtbot.waitUntil(lambda: output.caught_up and not view.coloring, timeout=5000)
    live = rendering(view)
    fresh = shown_afresh(qtbot, stored.logprobs)  # kept: a widget without a reference goes
    afresh = rendering(fresh.view)
    assert live["text"] == stored.text
    for key in ("text", "spans", "ranges", "formats"):
        assert live[key] == afresh[key], key
    # the same tokens (stored as float32, so compared by text and colour step)
    assert [t.token for t in live["tokens"]] == [t.token for t in afresh["tokens"]]


def test_compare_columns_colour_their_tokens_as_they_stream(
    qtbot: QtBot, runs: tuple[RunManager, Store]
) -> None:
    """Two models' confidence side by side while they stream, each column ending as its stored
    run shows; a column whose Tokens switch is turned on mid-run catches up and goes on live."""
    from workbench.core.experiments import Variant
    from workbench.core.models import Message, PromptTemplate
    from workbench.ui.compare.compare_view import CompareView

    manager, store = runs
    template = PromptTemplate(name="sea", messages=[Message(role="user", content="Go")])
    view = CompareView(manager)
    qtbot.addWidget(view)
    for backend in ("scored", "torn"):
        view.add_variant(Variant(template=template, backend=backend, model="scripted",
                                 params=Params(top_logprobs=3)))
    view.resize(1366, 600)
    view.show()
    sure, torn = view.columns
    sure.output.show_tokens(True)  # the other column's switch is turned on mid-run
    view.run_all()
    qtbot.waitUntil(lambda: len(sure.output.inspector.view.tokens) == HALF, timeout=10_000)
    torn.output.show_tokens(True)
    qtbot.waitUntil(lambda: len(torn.output.inspector.view.tokens) == HALF, timeout=5000)
    assert {sure.output.state, torn.output.state} == {"streaming"}
    steps = [[s for *_span, s in c.output.inspector.view.spans()] for c in (sure, torn)]
    assert steps[0][:5] == [0, 1, 2, 3, 4] and steps[1][:5] == [2, 3, 4, 0, 1]
    assert "␣sea" in hover(torn.output.inspector.view, 1)
    screenshot(view, "compare-tokens-streaming")
    qtbot.waitUntil(lambda: {sure.output.state, torn.output.state} == {"finished"},
                    timeout=20_000)
    for column in (sure, torn):
        output = column.output
        qtbot.waitUntil(lambda o=output: o.caught_up and not o.inspector.view.coloring,
                        timeout=5000)
        assert output.run_id is not None
        stored = store.runs.get(output.run_id).result
        fresh = shown_afresh(qtbot, stored.logprobs)
        live, afresh = rendering(output.inspector.view), rendering(fresh.view)
        for key in ("text", "spans", "ranges", "formats"):
            assert live[key] == afresh[key], key


def test_the_end_settles_what_streamed_to_the_run_s_tokens(qtbot: QtBot, theme: object) -> None:
    """Tokens cut from the run at its end (generated past a stop sequence) go, a character
    whose bytes were split over the last tokens is completed, and a run that differs from its
    first token replaces what streamed: each time as if the run were shown afresh."""
    from workbench.core.logprobs import TokenLogprob
    from workbench.core.models import RunResult, SentRequest

    smile = "🙂".encode()
    raws = [b"Hi", b" there", b"\n", smile[:2], smile[2:], b" ok", b" STOP", b" more"]
    tokens = [TokenLogprob(r.decode(errors="replace"), math.log(PROBS[i % 5]), r)
              for i, r in enumerate(raws)]
    lead = "Given: "

    def result(kept: list[TokenLogprob]) -> RunResult:
        sent = SentRequest(backend="llamacpp", model="m", continue_from=lead)
        return RunResult(request=sent, text=lead + "".join(token_texts(kept)),
                         finish_reason="stop", logprobs=kept)

    inspector = TokenInspector()
    qtbot.addWidget(inspector)
    inspector.resize(500, 300)
    inspector.show()
    for final, cut in ((tokens[:6], 8), (tokens[:4], 4), (tokens[1:], 8)):
        inspector.wait()
        inspector.lead = lead
        for at in range(0, cut, 3):  # three tokens a frame
            inspector.receive(tokens[at:min(at + 3, cut)])
            inspector.catch_up()
        assert inspector.caught_up and inspector.view.toPlainText().startswith(lead + "Hi")
        inspector.show_run(result(final))
        while not inspector.caught_up:  # the output view's frames
            inspector.catch_up()
        assert inspector.branch_note == "Branching is offered in the main window"
        qtbot.waitUntil(lambda: not inspector.view.coloring, timeout=5000)
        fresh = shown_afresh(qtbot, final, lead)
        assert rendering(inspector.view) == rendering(fresh.view)
        assert inspector.view.toPlainText() == result(final).text


@pytest.mark.slow
def test_the_embedded_model_s_tokens_are_coloured_while_it_streams(
    qtbot: QtBot, window: MainWindow
) -> None:
    """The real llama.cpp model with 5 alternatives per token: the inspector shows tokens,
    with their alternatives on hover, before the run ends, and ends as its stored run shows."""
    from tests.ui.test_token_inspector import RUN_TIMEOUT_MS, set_row

    window.resize(1366, 768)
    output = window.output
    output.show_tokens(True)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    editor = window.editor.editor_for("messages[0] (user)")
    assert editor is not None
    editor.setFocus()
    qtbot.keyClicks(editor, "Write two sentences about the sea.")
    set_row(qtbot, window, "max_tokens", "48")
    set_row(qtbot, window, "top_logprobs", "5")
    qtbot.waitUntil(lambda: window.params.params().top_logprobs == 5)
    inspector, view = output.inspector, output.inspector.view
    seen: list[tuple[str, int, str]] = []  # (state, tokens shown, a tooltip) at each frame
    catch_up = inspector.catch_up

    def watching() -> None:
        catch_up()
        tip = hover(view, len(view.tokens) - 1) if view.tokens else ""
        if output.state == "streaming" and len(view.tokens) >= 4 and not any(
                n >= 4 for state, n, _tip in seen if state == "streaming"):
            shot(window, "token-inspector-embedded-streaming")
        seen.append((output.state, len(view.tokens), tip))

    inspector.catch_up = watching  # type: ignore[method-assign]
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: output.state == "finished", timeout=RUN_TIMEOUT_MS)
    result = output._result
    assert result is not None and result.logprobs and len(result.logprobs) > 8
    live = [(n, tip) for state, n, tip in seen if state == "streaming" and n]
    assert len({n for n, _tip in live}) >= 2  # shown over several frames before the end
    assert any(n < len(result.logprobs) for n, _tip in live)
    assert any(tip.count("<tr>") == 5 for _n, tip in live)  # alternatives while streaming
    qtbot.waitUntil(lambda: output.caught_up and not view.coloring, timeout=5000)
    assert output.run_id is not None
    stored = window.workspace.store.runs.get(output.run_id).result
    fresh = shown_afresh(qtbot, stored.logprobs)
    afresh = rendering(fresh.view)
    mine = rendering(view)
    for key in ("text", "spans", "ranges"):
        assert mine[key] == afresh[key], key
