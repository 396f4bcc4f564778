"""GUI stalls of the token inspector with 2,000 tokens and their top-5 alternatives.

A run with ``top_logprobs`` streams its text as any other (``bench_streaming_ui`` measures that);
the tokens are shown when it ends. So the moments that could freeze the window are: the finished
run landing in an output view whose Tokens mode is on (the text laid out, its tokens coloured),
scrolling through it a page at a time (each newly visible block coloured), and hovering token
after token (each tooltip built from its alternatives). A 2 ms timer measures how late the GUI
thread serves it while a real ``OutputView`` does each of these with 2,000 tokens; reported:
stall p50/p99/max per phase (target p99 ≤ 16 ms) and the GUI thread's CPU time between firings.

Run with ``python bench/run.py token_inspector`` (offscreen; no display needed).
"""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Callable

from _support import LagProbe

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TOKENS = 2_000
TOP = 5
PROBE_MS = 2
TARGET_MS = 16


def _tokens() -> list[object]:
    from workbench.core.logprobs import Alternative, TokenLogprob

    rng = random.Random(7)
    words = [" the", " model", " wrote", " this", " token", ",", " and", "\n", " then", " more"]
    tokens = []
    for i in range(TOKENS):
        word = words[i % len(words)] if i % 97 else "\n\n"
        logprobs = sorted((math.log(rng.uniform(0.01, 1.0)) for _ in range(TOP)), reverse=True)
        scale = math.log(sum(math.exp(x) for x in logprobs) * 1.2)
        top = tuple(Alternative(w, lp - scale) for w, lp in zip(rng.sample(words, TOP), logprobs,
                                                                 strict=True))
        tokens.append(TokenLogprob(word, top[0].logprob, word.encode(), top))
    return tokens


def _phase(name: str, app: object, steps: list[Callable[[], None]]) -> None:
    probe = LagProbe(PROBE_MS)
    probe.start()
    started = time.perf_counter()
    for step in steps:
        step()
        deadline = time.perf_counter() + 0.004  # let the probe and paint events run between
        while time.perf_counter() < deadline:
            app.processEvents()  # type: ignore[attr-defined]
    probe.stop()
    stalls = sorted(probe.stalls) or [0.0]
    busy = sorted(probe.busy) or [0.0]
    p99 = stalls[min(len(stalls) - 1, int(len(stalls) * 0.99))]
    verdict = "within" if p99 <= TARGET_MS else "OVER"
    print(f"  {name}: {len(steps)} steps in {time.perf_counter() - started:.2f} s; stall "
          f"p50 {statistics.median(stalls):.1f} ms, p99 {p99:.1f} ms, max {stalls[-1]:.1f} ms "
          f"({verdict} the {TARGET_MS} ms target); GUI CPU max {busy[-1]:.1f} ms")


def main() -> None:
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication

    from tests.storage.factories import make_result
    from workbench.ui import theming
    from workbench.ui.widgets.output_view import OutputView

    app = QApplication.instance() or QApplication([])
    theming.install(app, "light")  # type: ignore[arg-type]
    tokens = _tokens()
    text = "".join(t.token for t in tokens)  # type: ignore[attr-defined]
    result = make_result(answer=text).model_copy(update={"logprobs": tokens})
    view = OutputView()
    view.resize(900, 600)
    view.show()
    view.show_tokens(True)
    app.processEvents()
    print(f"{TOKENS:,} tokens with top-{TOP} alternatives ({len(text):,} characters); probe "
          f"timer every {PROBE_MS} ms")
    _phase("the finished run shown in Tokens mode", app, [lambda: view.show_result(result)])

    text_view = view.inspector.view
    bar = text_view.verticalScrollBar()
    pages = [lambda v=v: bar.setValue(v) for v in range(0, bar.maximum() + 1,
                                                           max(1, bar.pageStep()))]
    _phase("scrolling through it a page at a time", app, pages)

    bar.setValue(0)
    app.processEvents()
    viewport = text_view.viewport()

    def hover(point: QPoint) -> None:
        event = QHelpEvent(QEvent.Type.ToolTip, point, viewport.mapToGlobal(point))
        QApplication.sendEvent(text_view, event)

    points = [QPoint(x, y) for y in range(5, viewport.height(), 17)
              for x in range(5, viewport.width(), 60)]
    _phase("hovering tokens (tooltips with alternatives)", app,
           [lambda p=p: hover(p) for p in points])
    view.close()


if __name__ == "__main__":
    main()
