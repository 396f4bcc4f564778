"""Event-loop lag while runs stream at full speed into output views.

The scripted backend replays thousands of small chunks with no delay (far faster than any model:
the worst case for the GUI) through the real ``RunWorker`` into real ``OutputView``s, in
Markdown mode and in plain mode, then four views at once (a compare view's columns), then long
open blocks at two lengths each, so that any growth of a refresh's cost with the length of the
answer shows: a fenced code block (500 and 2,000 lines), a list (620 items), a table (200 and
800 rows; no blank lines in any of them), prose (30 KB in paragraphs, one 8 KB paragraph), and
sections mixing all of them. A 2 ms timer measures how late the GUI thread serves it: a stall is
the gap between two of its firings beyond the 2 ms asked. Reported per scenario: stall
p50/p99/max over the whole run and p99 in its first and last quarter (target: p99 and max ≤ 16
ms, the last quarter no worse than the first), the same for the CPU time the GUI thread spent
between two firings (the work behind the stalls, which other processes on a shared machine do
not inflate), text events delivered per second, how many batches crossed to the GUI thread and
how many repaints the views did, and whether every view ends with exactly the text that was
sent.

Run with ``python bench/run.py streaming_ui`` (offscreen; no display needed).
"""

from __future__ import annotations

import gc
import os
import time

from _support import LagProbe

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROBE_MS = 2
CHUNKS = 20_000
TARGET_MS = 16


def _script(count: int) -> list[str]:
    """Markdown-ish text in small pieces: words, list items, a paragraph break now and then, and
    a fenced code block every few hundred chunks."""
    words = (
        "the",
        "model",
        "streams",
        "**tokens**",
        "quickly",
        "while",
        "the",
        "window",
        "stays",
        "responsive",
        "`code`",
        "and",
        "*light*",
    )
    pieces: list[str] = []
    for i in range(count):
        if i % 400 == 0:
            pieces.append("\n\n```python\nfor token in stream:\n    show(token)\n```\n\n")
        elif i % 90 == 0:
            pieces.append("\n\n")
        elif i % 30 == 0:
            pieces.append("\n- ")
        else:
            pieces.append(words[i % len(words)] + " ")
    return pieces


def _split(text: str, size: int = 6) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def _code_script(lines: int) -> list[str]:
    """One fenced code block of ``lines`` lines (no blank line in it), in 6-character chunks."""
    code = "".join(f"    total += weight[{i}] * value({i}, scale=0.5)  # step {i}\n"
                   for i in range(lines))
    return _split("Here is the code:\n\n```python\ndef run():\n" + code + "```\n\nDone.")


def _list_script() -> list[str]:
    """One ~30 KB list with no blank line in it, in 6-character chunks."""
    items = "".join(f"- item {i}: **check** the `value` and move on\n" for i in range(620))
    return _split("Steps:\n\n" + items + "\nDone.")


def _table_script(rows: int) -> list[str]:
    """One table of ``rows`` rows (~40 bytes each, no blank line in it), in 6-character
    chunks."""
    body = "".join(f"| {i} | **check** the value | `x{i}` |\n" for i in range(rows))
    return _split("Results:\n\n| n | what | code |\n|---|---|---|\n" + body + "\nDone.")


def _prose_script(paragraph_words: int, size: int) -> list[str]:
    """About ``size`` characters of prose in paragraphs of ``paragraph_words`` words (one line
    each), in 6-character chunks."""
    words = ("the", "answer", "explains", "**why**", "each", "step", "matters", "and", "*how*",
             "to", "check", "it", "with", "`tests`")
    text, count, length = [], 0, 0
    while length < size:
        end = "\n\n" if count % paragraph_words == paragraph_words - 1 else " "
        text.append(words[count % len(words)] + end)
        length += len(text[-1])
        count += 1
    return _split("".join(text))


def _mixed_script(sections: int) -> list[str]:
    """An answer made of ``sections`` sections, each a heading, a paragraph, a 40-row table, a
    20-line code block and a list, in 6-character chunks: the kind of block changes often, so
    a paint sized by the speed learnt on one kind lands on another."""
    parts = []
    for s in range(sections):
        parts.append(f"## Part {s}\n\nThe model **explains** the `results` of part {s} in a "
                     "paragraph of ordinary prose, long enough to wrap once or twice.\n\n")
        parts.append("| n | what | code |\n|---|---|---|\n" + "".join(
            f"| {i} | **check** the value | `x{i}` |\n" for i in range(40)) + "\n")
        parts.append("```python\n" + "".join(f"value_{i} = compute({i})\n" for i in range(20))
                     + "```\n\n")
        parts.append("".join(f"- step {i}: *check* it\n" for i in range(8)) + "\n")
    return _split("".join(parts))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _scenario(label: str, panes: int, mode: str, pieces: list[str] | None = None) -> None:
    from PySide6.QtCore import QEvent, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from workbench.backends.scripted import ScriptedBackend, ScriptedOptions, Step
    from workbench.core.models import RenderedMessage, RunRequest
    from workbench.ui.widgets.output_view import OutputView
    from workbench.ui.workers import ChunkBatch, RunManager

    pieces = pieces or _script(CHUNKS)
    expected = "".join(pieces)
    backend = ScriptedBackend(
        ScriptedOptions(script=[Step(text=p) for p in pieces], concurrency=panes)
    )
    request = RunRequest(backend="scripted", messages=[RenderedMessage(role="user", content="go")])
    manager = RunManager(max_threads=panes)
    views = []
    for _ in range(panes):
        view = OutputView()
        view.set_mode(mode)  # type: ignore[arg-type]
        view.resize(900 // panes + 200, 600)
        view.show()
        views.append(view)
    QApplication.processEvents()

    paints = [0] * panes
    for index, view in enumerate(views):
        target = view.markdown if mode == "markdown" else view.plain
        original = view._paint

        def counting(i: int = index, paint=original) -> None:  # type: ignore[no-untyped-def]
            paints[i] += 1
            paint()

        view._paint = counting  # type: ignore[method-assign]
        del target

    lag = LagProbe(PROBE_MS)

    loop = QEventLoop()
    ended = [0]
    batches = [0]
    deltas = [0]

    def on_end(_result: object) -> None:
        ended[0] += 1

    def check_done() -> None:
        if ended[0] == panes and all(view.caught_up for view in views):
            loop.quit()

    done_check = QTimer()
    done_check.setInterval(5)
    done_check.timeout.connect(check_done)

    def on_chunk(batch: ChunkBatch) -> None:
        batches[0] += 1
        deltas[0] += batch.deltas

    lag.start()
    start = time.perf_counter()
    for view in views:
        worker = manager.start(backend, request)
        worker.signals.chunk.connect(on_chunk)
        worker.signals.ended.connect(on_end)
        view.attach(worker)
    QTimer.singleShot(120_000, loop.quit)
    done_check.start()
    loop.exec()
    elapsed = time.perf_counter() - start
    lag.stop()
    done_check.stop()
    manager.shutdown(10)

    stalls = lag.stalls
    quarter = max(1, len(stalls) // 4)
    exact = all(view.text() == expected and view.caught_up for view in views) and all(
        (view.markdown.text if mode == "markdown" else view.plain.toPlainText()) == expected
        for view in views
    )
    states = {view.state for view in views}
    print(f"{label}:")
    p99, worst = _percentile(stalls, 0.99), max(stalls)
    print(
        f"  stall p50 {_percentile(stalls, 0.5):.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms "
        f"over {len(stalls):,} probes (target p99 and max ≤ {TARGET_MS} ms: "
        f"{'met' if worst <= TARGET_MS else 'p99 met, max not' if p99 <= TARGET_MS else 'NOT met'})"
    )
    print(
        f"  stall p99 in the first quarter of the run {_percentile(stalls[:quarter], 0.99):.1f} "
        f"ms, in the last {_percentile(stalls[-quarter:], 0.99):.1f} ms (growth with the "
        "answer's length shows here)"
    )
    busy = lag.busy
    print(
        f"  GUI-thread CPU between two probes p50 {_percentile(busy, 0.5):.1f} ms, p99 "
        f"{_percentile(busy, 0.99):.1f} ms, max {max(busy):.1f} ms; p99 in the first quarter "
        f"{_percentile(busy[:quarter], 0.99):.1f} ms, in the last "
        f"{_percentile(busy[-quarter:], 0.99):.1f} ms (the stalls' own work: a loaded machine "
        "stretches the stalls, not this)"
    )
    print(
        f"  {deltas[0]:,} text events streamed and painted in {elapsed:.2f} s = "
        f"{deltas[0] / elapsed:,.0f} events/s ({len(expected):,} characters per view)"
    )
    print(
        f"  {batches[0]:,} batches crossed to the GUI thread "
        f"({deltas[0] / max(1, batches[0]):.0f} events per batch); "
        f"{sum(paints):,} repaints ({sum(paints) / panes / elapsed:.0f}/s per view)"
    )
    print(f"  every view shows exactly the text sent: {exact}; end states: {sorted(states)}")
    for view in views:
        view.close()
        view.deleteLater()
    # the views (and their long documents) go now, not in the next scenario's measured loop
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from workbench.ui import theming

    app = QApplication.instance() or QApplication([])
    theming.install(app, "light")  # type: ignore[arg-type]
    print(f"{CHUNKS:,} chunks per run, no delay between them; probe timer every {PROBE_MS} ms")
    _scenario("one view, Markdown", 1, "markdown")
    _scenario("one view, plain text", 1, "plain")
    _scenario("four views at once, Markdown", 4, "markdown")
    _scenario("one view, Markdown, a 500-line code block (30 KB)", 1, "markdown",
              _code_script(500))
    _scenario("one view, Markdown, a 2,000-line code block (120 KB)", 1, "markdown",
              _code_script(2000))
    _scenario("one view, Markdown, a 620-item list (30 KB)", 1, "markdown", _list_script())
    _scenario("one view, Markdown, a 200-row table (8 KB)", 1, "markdown", _table_script(200))
    _scenario("one view, Markdown, an 800-row table (32 KB)", 1, "markdown", _table_script(800))
    _scenario("one view, Markdown, 30 KB of prose in 60-word paragraphs", 1, "markdown",
              _prose_script(60, 30_000))
    _scenario("one view, Markdown, one 8 KB paragraph", 1, "markdown",
              _prose_script(10_000, 8_000))
    _scenario("one view, Markdown, 12 sections of prose, table, code and list (45 KB)", 1,
              "markdown", _mixed_script(12))


if __name__ == "__main__":
    main()
