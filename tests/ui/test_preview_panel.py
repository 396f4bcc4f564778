"""The live preview: what is sent, its tokens, the context gauge, the cost, errors in place."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.core.errors import MissingVariableError, TemplateError
from workbench.core.grid import output_budget
from workbench.core.model_table import cost_of, load_model_table
from workbench.core.models import Message, PromptTemplate, RenderedMessage, Variable
from workbench.core.templates import render
from workbench.core.tokens import count_chat, tokenizer_for
from workbench.ui import theming
from workbench.ui.background import LatestJob
from workbench.ui.widgets import render_process
from workbench.ui.widgets.preview_compute import Preview
from workbench.ui.widgets.preview_panel import PreviewPanel, format_money
from workbench.ui.widgets.text_edits import Segment, segment_edits, text_edit, utf16_len

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

TICKET = PromptTemplate(
    name="summarize-ticket",
    messages=[
        Message(role="system", content="You are a support analyst. Answer in plain English."),
        Message(role="user", content="Summarize this ticket in {{ n }} bullets:\n\n{{ ticket }}"),
    ],
    variables=[Variable(name="ticket", multiline=True), Variable(name="n", default="3")],
)
VALUES = {"ticket": "The router reboots every hour since the 2.1 firmware update. 😀 Help!"}


@pytest.fixture
def panel(qtbot: QtBot, light: None) -> Iterator[PreviewPanel]:
    panel = PreviewPanel(debounce_ms=0)
    qtbot.addWidget(panel)
    panel.resize(720, 360)
    panel.show()
    qtbot.waitExposed(panel)
    yield panel
    assert panel.wait()


def update(qtbot: QtBot, panel: PreviewPanel, **inputs: object) -> Preview:
    """Change inputs the way the window does and wait for the preview they produce."""
    with qtbot.waitSignal(panel.previewUpdated, timeout=10_000) as updated:
        for name, value in inputs.items():
            getattr(panel, f"set_{name}")(value)
    preview: Preview = updated.args[0]
    return preview


def test_shows_exactly_the_rendered_messages(qtbot: QtBot, panel: PreviewPanel) -> None:
    preview = update(qtbot, panel, template=TICKET, values=VALUES, model="gpt-4o")
    expected = render(TICKET, VALUES)
    assert preview.messages == expected
    text = panel.messages_view.toPlainText()
    assert text.startswith(f"SYSTEM · {preview.content_tokens[0]} tokens\nYou are a support")
    assert expected[1].content in text
    assert f"USER · {preview.content_tokens[1]} tokens" in text


def test_counts_match_the_tokenizer_and_say_exact(qtbot: QtBot, panel: PreviewPanel) -> None:
    preview = update(qtbot, panel, template=TICKET, values=VALUES, model="gpt-4o")
    tokenizer = tokenizer_for(model="gpt-4o")
    chat = count_chat(render(TICKET, VALUES), tokenizer)
    assert preview.total == chat.total and preview.exact
    assert preview.content_tokens == [m.content for m in chat.messages]
    assert panel.tokens_label.text() == f"{chat.total:,} tokens · exact · o200k_base"
    assert "to prime the reply" in panel.tokens_label.toolTip()


def test_an_unknown_model_is_an_estimate(qtbot: QtBot, panel: PreviewPanel) -> None:
    update(qtbot, panel, template=TICKET, values=VALUES, model="my-finetune-7b")
    assert panel.tokens_label.text().startswith("≈ ")
    assert "· estimate · o200k_base" in panel.tokens_label.text()
    assert panel.window_label.text() == "window of my-finetune-7b unknown"
    assert panel.cost_label.text() == "cost unknown"
    assert panel.gauge.state == "unknown"
    assert "≈" in panel.messages_view.toPlainText().splitlines()[0]


def test_gauge_and_cost_for_a_known_model(qtbot: QtBot, panel: PreviewPanel) -> None:
    preview = update(qtbot, panel, template=TICKET, values=VALUES, model="gpt-4o", max_tokens=512)
    info = load_model_table().lookup("gpt-4o")
    assert info is not None and info.context_window is not None
    assert preview.fit is not None and preview.fit.needed == preview.total + 512
    assert panel.window_label.text() == f"{preview.total + 512:,} / {info.context_window:,} ctx"
    assert panel.gauge.state == "ok"
    assert panel.window_label.toolTip().startswith(
        f"{preview.total:,} prompt tokens + 512 max tokens for the answer"
    )
    # Without max tokens only the prompt fills the gauge, and its tooltip says why.
    preview = update(qtbot, panel, max_tokens=None)
    assert panel.window_label.text() == f"{preview.total:,} / {info.context_window:,} ctx"
    left = info.context_window - preview.total
    assert f"No max tokens set, so only the prompt is counted: the answer may use the other " \
        f"{left:,}." in panel.gauge.toolTip()
    assert panel.window_label.toolTip() == panel.gauge.toolTip()
    preview = update(qtbot, panel, max_tokens=512)
    cost = cost_of(info.price, preview.total, 512)
    assert cost is not None
    assert panel.cost_label.text() == (
        f"{format_money(cost.input, 'USD')} in + ≤ {format_money(cost.output, 'USD')} out "
        "(512 max tokens)"
    )


def test_cost_shows_the_output_ceiling_also_without_max_tokens(
    qtbot: QtBot, panel: PreviewPanel
) -> None:
    """No max_tokens: the answer is budgeted as the sweep and compare estimates budget it, not
    left out (the preview showed the prompt's cost only)."""
    preview = update(qtbot, panel, template=TICKET, values=VALUES, model="gpt-4o-mini",
                     max_tokens=256)
    info = load_model_table().lookup("gpt-4o-mini")
    assert info is not None
    cost = cost_of(info.price, preview.total, 256)
    assert cost is not None and cost.output > 0
    assert panel.cost_label.text() == (
        f"{format_money(cost.input, 'USD')} in + ≤ {format_money(cost.output, 'USD')} out "
        "(256 max tokens)"
    )
    preview = update(qtbot, panel, max_tokens=None)
    budget = cost_of(info.price, preview.total, output_budget(None))
    assert budget is not None and budget.output > 0
    assert preview.cost == budget
    assert panel.cost_label.text() == (
        f"{format_money(budget.input, 'USD')} in + ≤ {format_money(budget.output, 'USD')} out "
        f"({output_budget(None)} max tokens assumed)"
    )
    assert "no max tokens" in panel.cost_label.toolTip()
    # a backend that sends its own limit for an unset one (Anthropic's default_max_tokens)
    with qtbot.waitSignal(panel.previewUpdated, timeout=10_000) as updated:
        panel.set_runs_locally(False, 4096)
    assert updated.args[0].output_tokens == 4096
    assert "(4,096 max tokens assumed)" in panel.cost_label.text()
    with qtbot.waitSignal(panel.previewUpdated, timeout=10_000):
        panel.set_runs_locally(False, None)
    screenshot(panel, "preview-cost-output-ceiling")
    # a narrow panel drops the budget (kept in the tooltip) rather than growing the window
    short = f"{format_money(budget.input, 'USD')} in + ≤ {format_money(budget.output, 'USD')} out"
    assert panel.minimumSizeHint().width() < panel.sizeHint().width()
    panel.resize(panel.minimumSizeHint().width(), 360)
    qtbot.waitUntil(lambda: panel.cost_label.shown() == short)
    assert panel.cost_label.text().startswith(short)  # what screen readers read
    assert panel.cost_label.width() >= panel.cost_label.fontMetrics().horizontalAdvance(short)
    screenshot(panel, "preview-cost-narrow")


def test_a_local_model_is_free(qtbot: QtBot, panel: PreviewPanel) -> None:
    update(qtbot, panel, template=TICKET, values=VALUES, model="my-finetune-7b")
    assert panel.cost_label.text() == "cost unknown"
    preview = update(qtbot, panel, runs_locally=True, max_tokens=64)
    assert preview.cost is not None and preview.cost.total == 0
    assert panel.cost_label.text() == "free (local)"
    assert "runs on this computer" in panel.cost_label.toolTip()
    update(qtbot, panel, runs_locally=False)
    assert panel.cost_label.text() == "cost unknown"


def test_gauge_warns_near_full_and_overflows(qtbot: QtBot, panel: PreviewPanel) -> None:
    preview = update(qtbot, panel, template=TICKET, values=VALUES, model="gpt-4o")
    near = preview.total + 100
    update(qtbot, panel, context_window=near + 8, max_tokens=100)
    assert panel.gauge.state == "near"
    warning = theming.status_color("warning")
    assert panel.window_label.palette().windowText().color() == warning
    screenshot(panel, "preview_gauge_near_full")
    update(qtbot, panel, max_tokens=200)
    assert panel.gauge.state == "over"
    assert panel.window_label.text().endswith("· 92 over")
    assert panel.window_label.palette().windowText().color() == theming.status_color("error")


def test_money_is_readable(qapp: QApplication) -> None:
    assert format_money(0.000077, "USD") == "$0.000077"
    assert format_money(0.0026, "USD") == "$0.0026"
    assert format_money(12.5, "EUR") == "€12.50"
    assert format_money(0.5, "CHF") == "0.50 CHF"


def test_render_errors_are_shown_in_place_and_cleared(qtbot: QtBot, panel: PreviewPanel) -> None:
    update(qtbot, panel, template=TICKET, values=VALUES)
    with qtbot.waitSignal(panel.errorChanged) as failed:
        panel.set_values({})
    error = failed.args[0]
    assert isinstance(error, MissingVariableError) and error.name == "ticket"
    assert panel.error_label.isVisible()
    # Being filled in: a note, not an error, until a run needs it or its field is left empty.
    assert panel.error_label.text().startswith("Give 'ticket' a value to see the preview")
    assert panel.is_quiet(error)
    panel.flag_missing("ticket")
    assert not panel.is_quiet(error)
    assert panel.error_label.text().startswith("messages[1] (user), line 3: variable 'ticket'")
    assert "last one that rendered" in panel.error_label.text()
    assert not panel.messages_view.isEnabled()
    screenshot(panel, "preview_render_error")
    with qtbot.waitSignal(panel.errorChanged) as fixed:
        panel.set_values(VALUES)
    assert fixed.args[0] is None
    assert not panel.error_label.isVisible() and panel.messages_view.isEnabled()


def test_syntax_error_reports_line_and_column(qtbot: QtBot, panel: PreviewPanel) -> None:
    broken = TICKET.model_copy(
        update={"messages": [Message(role="user", content="Hi {{ name }\nthere")]}
    )
    with qtbot.waitSignal(panel.errorChanged) as failed:
        panel.set_template(broken)
    error: TemplateError = failed.args[0]
    assert (error.source, error.line, error.column) == ("messages[0] (user)", 1, 12)


def test_raw_prompt_for_local_models(qtbot: QtBot, panel: PreviewPanel) -> None:
    def chatml(messages: list[RenderedMessage]) -> str:
        turns = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
        return turns + "<|im_start|>assistant\n"

    preview = update(qtbot, panel, template=TICKET, values=VALUES, raw_prompt_function=chatml)
    raw = chatml(render(TICKET, VALUES))
    assert preview.raw_prompt == raw and preview.counted == "raw prompt"
    panel.tabs.setCurrentIndex(1)
    assert panel.raw_view.isVisible() and panel.raw_view.toPlainText() == raw
    assert preview.total == tokenizer_for().count(raw)

    def refuses(messages: list[RenderedMessage]) -> str:
        raise TemplateError("System role not supported", source="the model's chat template")

    update(qtbot, panel, raw_prompt_function=refuses)
    assert panel.raw_note.isVisible() and not panel.raw_view.isVisible()
    assert "System role not supported" in panel.raw_note.text()
    update(qtbot, panel, raw_prompt_function=None)
    assert "local models" in panel.raw_note.text()


def test_token_view_colours_alternate_token_by_token(qtbot: QtBot, panel: PreviewPanel) -> None:
    update(qtbot, panel, template=TICKET, values=VALUES, model="gpt-4o")
    with qtbot.waitSignal(panel.previewUpdated) as shown:
        panel.tabs.setCurrentIndex(2)
    preview: Preview = shown.args[0]
    view = preview.tokens
    assert view is not None and not view.truncated
    tokenizer = tokenizer_for(model="gpt-4o")
    contents = render(TICKET, VALUES)
    assert view.shown_tokens == sum(len(tokenizer.spans(m.content)) for m in contents)
    assert panel.token_note.text() == f"{view.shown_tokens} tokens in the message contents."
    document = panel.token_view.document()
    block = document.findBlockByNumber(1)  # the system message's content
    formats = block.layout().formats()
    ranges = [(f.start, f.length, f.format.background().color().name()) for f in formats]
    words = [block.text()[s : s + n] for s, n, _ in ranges]
    assert words[:5] == ["You", " are", " a", " support", " analyst"]
    colours = [c for _, _, c in ranges]
    assert all(a != b for a, b in pairwise(colours))
    assert len(set(colours)) == 2
    screenshot(panel, "preview_tokens")


def test_long_prompts_colour_the_first_tokens_then_all_on_request(
    qtbot: QtBot, panel: PreviewPanel
) -> None:
    long_ticket = {"ticket": "The router reboots every hour. " * 2000}
    panel.tabs.setCurrentIndex(2)
    preview = update(qtbot, panel, template=TICKET, values=long_ticket, model="gpt-4o")
    assert preview.tokens is not None and preview.tokens.truncated
    assert panel.show_all_tokens.isVisible()
    assert panel.token_note.text().startswith(f"The first {preview.tokens.shown_tokens:,} tokens")
    with qtbot.waitSignal(panel.previewUpdated) as everything:
        qtbot.mouseClick(panel.show_all_tokens, Qt.MouseButton.LeftButton)
    shown = everything.args[0].tokens
    assert not shown.truncated and not panel.show_all_tokens.isVisible()
    assert shown.shown_tokens == sum(everything.args[0].content_tokens)


def test_typing_updates_by_small_edits_and_counts_incrementally(
    qtbot: QtBot, panel: PreviewPanel
) -> None:
    big = {"ticket": "\n".join(f"Line {i}: the router reboots again." for i in range(3000))}
    update(qtbot, panel, template=TICKET, values=big, model="gpt-4o")
    document = panel.messages_view.document()
    first_block = document.firstBlock()
    rng = random.Random(7)
    value = big["ticket"]
    for _ in range(5):
        at = rng.randrange(len(value))
        value = value[:at] + "typed words " + value[at:]
        preview = update(qtbot, panel, values={"ticket": value})
        expected = render(TICKET, {"ticket": value})
        shown = "".join(s.text for s in preview.message_segments)
        assert panel.messages_view.toPlainText() == shown
        assert preview.messages == expected
        counter = panel._computer._counters[1]
        assert counter.recounted_chars < len(value) / 10  # only the region around the edit
        assert preview.content_tokens[1] == tokenizer_for(model="gpt-4o").count(expected[1].content)
    assert document.firstBlock() == first_block  # edited in place, never re-set


def test_only_the_newest_job_is_delivered(qtbot: QtBot) -> None:
    delivered: list[str] = []
    job = LatestJob(delivered.append)
    release = threading.Event()
    started = threading.Event()

    def slow() -> str:
        started.set()
        assert release.wait(10)
        return "stale"

    job.submit(slow)
    assert started.wait(10)
    job.submit(lambda: "skipped")  # queued behind the slow one, then made stale
    job.submit(lambda: "newest")
    release.set()
    qtbot.waitUntil(lambda: delivered == ["newest"])
    assert job.wait()
    assert delivered == ["newest"]


def test_flush_delivers_before_it_returns(qtbot: QtBot) -> None:
    """Quitting waits for a save and must see its result without running the event loop."""
    delivered: list[str] = []
    job = LatestJob(delivered.append)
    job.submit(lambda: "written")
    assert job.flush(10_000)
    assert delivered == ["written"]


def test_a_bug_in_a_job_goes_to_the_crash_dialog(qtbot: QtBot) -> None:
    failures: list[BaseException] = []
    job = LatestJob(lambda _: None, failures.append)

    def broken() -> None:
        raise ZeroDivisionError("bug")

    with qtbot.capture_exceptions() as bugs:
        job.submit(broken)
        qtbot.waitUntil(lambda: bool(bugs))
    assert [type(b[1]) for b in bugs] == [ZeroDivisionError]
    assert failures == []  # ``failed`` is for errors the user can fix
    qtbot.waitUntil(lambda: not job.running)


def test_a_known_error_in_a_job_goes_to_failed(qtbot: QtBot) -> None:
    failures: list[BaseException] = []
    job = LatestJob(lambda _: None, failures.append)

    def unreadable() -> None:
        raise TemplateError("unexpected '}'", line=3)

    job.submit(unreadable)
    qtbot.waitUntil(lambda: bool(failures))
    assert isinstance(failures[0], TemplateError) and not job.running


def test_dark_palette(qtbot: QtBot, panel: PreviewPanel, qapp: QApplication) -> None:
    qapp.setPalette(theming.palette(True))
    update(qtbot, panel, template=TICKET, values=VALUES, model="gpt-4o", max_tokens=256)
    with qtbot.waitSignal(panel.previewUpdated):
        panel.tabs.setCurrentIndex(2)
    block = panel.token_view.document().findBlockByNumber(1)
    formats = block.layout().formats()
    background = formats[0].format.background().color()
    text = panel.token_view.palette().text().color()
    assert text.lightness() - background.lightness() > 100  # light text on a dark token
    assert panel.messages_view.palette().base().color().lightness() < 60
    screenshot(panel, "preview_tokens_dark")
    panel.tabs.setCurrentIndex(0)
    screenshot(panel, "preview_messages_dark")
    assert QColor(theming.status_color("error")).lightness() > 100


# --- the edits that keep the shown text in step -------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_text_edit_turns_old_into_new(old: str, new: str) -> None:
    edit = text_edit(old, new)
    if old == new:
        assert edit is None
        return
    assert edit is not None
    units = old.encode("utf-16-le")
    result = units[: 2 * edit.start] + edit.text.encode("utf-16-le") + units[2 * edit.end :]
    assert result.decode("utf-16-le") == new


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=20)), min_size=1, max_size=4))
def test_segment_edits_apply_from_the_end(pairs: list[tuple[str, str]]) -> None:
    old = tuple(Segment(a, header=i % 2 == 0) for i, (a, _) in enumerate(pairs))
    new = tuple(Segment(b, header=i % 2 == 0) for i, (_, b) in enumerate(pairs))
    edits = segment_edits(old, new)
    assert edits is not None
    document = "".join(s.text for s in old).encode("utf-16-le")
    for edit in edits:
        replacement = edit.text.encode("utf-16-le")
        document = document[: 2 * edit.start] + replacement + document[2 * edit.end :]
    assert document.decode("utf-16-le") == "".join(s.text for s in new)
    assert segment_edits(old, new[:-1]) is None  # another shape: rebuild
    assert utf16_len("a😀") == 3


def test_a_big_template_renders_in_the_helper_process(qtbot: QtBot, panel: PreviewPanel) -> None:
    line = "Step {{ n }}: check the router's logs for the reboot time.\n"
    big = TICKET.model_copy(
        update={"messages": [Message(role="user", content=line * 1000 + "{{ ticket }}")]}
    )
    try:
        preview = update(qtbot, panel, template=big, values=VALUES, model="gpt-4o")
        assert render_process._executor is not None
        assert preview.messages == render(big, VALUES)
        broken = big.model_copy(
            update={"messages": [Message(role="user", content=line * 1000 + "{{ ticket }")]}
        )
        with qtbot.waitSignal(panel.errorChanged) as failed:
            panel.set_template(broken)
        error: TemplateError = failed.args[0]
        assert (error.source, error.line, error.column) == ("messages[0] (user)", 1001, 11)
    finally:
        assert panel.wait()
        render_process.shutdown()
