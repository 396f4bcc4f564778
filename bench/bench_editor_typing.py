"""Event-loop lag while typing into a ~100k-token template, editor + variables + live preview.

The editor, the variables form and the preview are wired as the main window wires them and a
~100,000-token template is loaded. Then characters are typed into the middle of its long user
message by key events from a timer (about 16 characters a second, with a pause after every 25 so
the debounced recomputation runs and its results are applied while typing goes on), and a 2 ms
timer measures how late the GUI thread serves it: a stall is the gap between two of its
firings beyond the 2 ms asked. Reported: stall p50/p99/max (target: never above 16 ms), the time
each key event takes to handle, how many previews were computed (off the GUI thread) and
applied during the run, and whether the final count equals tiktoken's count of the whole text.

Run with ``python bench/run.py editor_typing`` (offscreen; no display needed).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TARGET_TOKENS = 100_000
PROBE_MS = 2
KEY_INTERVAL_MS = 60
BURST = 25
PAUSE_MS = 400
KEYSTROKES = 150
WORDS = (
    "the customer reports that the router reboots every hour since the firmware update and "
    "support has asked for logs twice without an answer so please summarise what happened "
)


def _template_text(tokens_wanted: int, count: Callable[[str], int]) -> str:
    """Prose lines with Jinja sprinkled in, grown until it is ``tokens_wanted`` tokens."""
    lines = []
    for i in range(400):
        line = f"{i}. {WORDS[i % 40:]}{WORDS[: i % 40]}".strip()
        if i % 10 == 0:
            line += " {{ ticket }}"
        if i % 25 == 0:
            line = "{% if urgent %}URGENT: {% endif %}" + line
        lines.append(line)
    block = "\n".join(lines) + "\n"
    repeats = max(1, round(tokens_wanted / count(block)))
    return block * repeats


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    from PySide6.QtCore import QElapsedTimer, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from workbench.core.models import Message, PromptTemplate, Variable
    from workbench.core.templates import render
    from workbench.core.tokens import count_chat, tokenizer_for
    from workbench.ui import theming
    from workbench.ui.widgets.preview_panel import PreviewPanel
    from workbench.ui.widgets.template_editor import TemplateEditor
    from workbench.ui.widgets.variables_form import VariablesForm

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    theming.install(app, "light")
    tokenizer = tokenizer_for(model="gpt-4o")
    body = _template_text(TARGET_TOKENS, tokenizer.count)
    template = PromptTemplate(
        name="bench",
        messages=[
            Message(role="system", content="You are a support analyst."),
            Message(role="user", content=body),
        ],
        variables=[
            Variable(name="ticket", default="(ticket)"),
            Variable(name="urgent", default=""),
        ],
    )

    editor = TemplateEditor()
    variables = VariablesForm()
    preview = PreviewPanel()
    editor.templateChanged.connect(variables.set_template)
    editor.templateChanged.connect(preview.set_template)
    variables.valuesChanged.connect(preview.set_values)
    preview.errorChanged.connect(editor.show_error)
    preview.set_model("gpt-4o")
    preview.set_max_tokens(1024)
    for widget, size in ((editor, (900, 900)), (variables, (500, 200)), (preview, (900, 500))):
        widget.resize(*size)
        widget.show()

    applied: list[float] = []
    computed: list[float] = []
    compute = preview._computer.compute

    def timed_compute(request):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return compute(request)
        finally:
            computed.append(time.perf_counter() - started)

    preview._computer.compute = timed_compute  # type: ignore[method-assign]
    preview.previewUpdated.connect(lambda _p: applied.append(time.perf_counter()))

    started = time.perf_counter()
    editor.set_template(template)
    loaded_gui = time.perf_counter() - started
    while not applied:
        app.processEvents()
    loaded = time.perf_counter() - started
    first_total = preview.preview.total if preview.preview else 0
    print(f"template: {len(body):,} characters, {first_total:,} tokens (o200k_base)")
    print(f"load: {loaded_gui * 1000:.0f} ms on the GUI thread (editor + highlighter), "
          f"first preview after {loaded * 1000:.0f} ms")

    user = editor.messages.cards[1].editor
    cursor = user.textCursor()
    cursor.setPosition(len(body) // 2)
    user.setTextCursor(cursor)
    user.setFocus()
    applied.clear()
    computed.clear()

    gaps: list[float] = []
    key_times: list[float] = []
    clock = QElapsedTimer()
    last = [0]
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)

    def tick() -> None:
        now = clock.nsecsElapsed()
        if last[0]:
            gaps.append((now - last[0]) / 1e6)
        last[0] = now

    probe.timeout.connect(tick)
    typed = [0]
    text = "typing fast into a very long prompt "
    keys = QTimer()
    keys.setTimerType(Qt.TimerType.PreciseTimer)

    def type_one() -> None:
        if typed[0] >= KEYSTROKES:
            keys.stop()
            probe.stop()
            app.quit()
            return
        char = text[typed[0] % len(text)]
        began = time.perf_counter()
        QTest.keyClicks(user, char)
        key_times.append((time.perf_counter() - began) * 1000)
        typed[0] += 1
        keys.start(PAUSE_MS if typed[0] % BURST == 0 else KEY_INTERVAL_MS)

    keys.setSingleShot(True)
    keys.timeout.connect(type_one)
    clock.start()
    probe.start()
    keys.start(KEY_INTERVAL_MS)
    run_started = time.perf_counter()
    app.exec()
    run_s = time.perf_counter() - run_started
    # Let the last preview land, then check it against a count of the whole final text.
    preview.refresh()
    final_started = time.perf_counter()
    while preview._job.running and time.perf_counter() - final_started < 30:
        app.processEvents()
    final = editor.template()
    exact = count_chat(render(final, {}), tokenizer).total
    stalls = [max(0.0, gap - PROBE_MS) for gap in gaps]

    print(f"typed {typed[0]} keys in {run_s:.1f} s; {len(gaps):,} probe intervals of {PROBE_MS} ms")
    print(f"event-loop stall: p50 {_percentile(stalls, 0.5):.2f} ms, "
          f"p99 {_percentile(stalls, 0.99):.2f} ms, max {max(stalls):.2f} ms (target ≤ 16 ms)")
    print(f"stalls above 16 ms: {sum(s > 16 for s in stalls)}")
    print(f"key event handled in: p50 {statistics.median(key_times):.2f} ms, "
          f"p99 {_percentile(key_times, 0.99):.2f} ms, max {max(key_times):.2f} ms")
    print(f"previews applied while typing: {len(applied)}; computed off the GUI thread in "
          f"p50 {statistics.median(computed) * 1000:.0f} ms, max {max(computed) * 1000:.0f} ms"
          if computed else "previews applied while typing: 0")
    shown = preview.preview.total if preview.preview else -1
    print(f"final count {shown:,} vs whole-text count {exact:,}: "
          f"{'equal' if shown == exact else 'DIFFERENT'}")
    for widget in (editor, variables, preview):
        widget.close()
    preview.wait()


if __name__ == "__main__":
    main()
