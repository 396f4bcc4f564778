"""GUI stalls of the token inspector with 2,000 tokens and their top-5 alternatives, live.

The live path first: a scripted backend streams 2,000 tokens, each with its log-probability
event (top-5 alternatives), through the real ``RunWorker`` into real ``OutputView``s whose Tokens
mode is on, so each token is coloured as it lands while a timer hovers a token every 25 ms (its
tooltip built from the alternatives). Scenarios: one view at full speed (far faster than any
model: the worst case), one view paced like a fast local model (~500 tokens/s), and four views
at full speed at once (a compare view's columns). Then the moments after the run: the stored run
opened in Tokens mode (history), scrolling through it a page at a time, hovering token after
token. A 2 ms timer measures how late the GUI thread serves it; reported: stall p50/p99/max
(target p99 ≤ 16 ms), the GUI thread's CPU time between firings, how many frames showed tokens
before the run ended, and whether each view ends exactly as the run shown afresh. (One tooltip
is shown before measuring: Qt builds its tooltip window once per application, 50 ms here.)

Run with ``python bench/run.py token_inspector`` (offscreen; no display needed).
"""

from __future__ import annotations

import gc
import math
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from _support import LagProbe

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TOKENS = 2_000
TOP = 5
PROBE_MS = 2
HOVER_MS = 25
TARGET_MS = 16


def _tokens() -> list[Any]:
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


def _report(name: str, probe: LagProbe, extra: str = "") -> None:
    stalls = sorted(probe.stalls) or [0.0]
    busy = sorted(probe.busy) or [0.0]
    p99 = stalls[min(len(stalls) - 1, int(len(stalls) * 0.99))]
    busy99 = busy[min(len(busy) - 1, int(len(busy) * 0.99))]
    verdict = "within" if p99 <= TARGET_MS else "OVER"
    print(f"  {name}:{extra}\n    stall p50 {statistics.median(stalls):.1f} ms, p99 {p99:.1f} "
          f"ms, max {stalls[-1]:.1f} ms over {len(stalls):,} probes ({verdict} the {TARGET_MS} "
          f"ms target); GUI CPU between probes p99 {busy99:.1f} ms, max {busy[-1]:.1f} ms")


def _hover(view: Any, index: int) -> None:
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication

    point = view.position_of(index)
    viewport = view.viewport()
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, point,
                                            viewport.mapToGlobal(point)))


def _warm_tooltips(token: Any) -> None:
    """Show one tooltip first: Qt builds its tooltip window the first time (50 ms here), once
    per application, whichever view asks."""
    from workbench.ui.widgets.token_text import TokenTextView

    view = TokenTextView()
    view.set_tokens([token])
    view.show()
    _hover(view, 0)
    view.close()


def _same_as_afresh(view: Any, tokens: list[Any]) -> bool:
    """Whether a view ends as the run shown afresh: text, token spans and coloured ranges."""
    from PySide6.QtWidgets import QApplication

    from workbench.ui.widgets.token_text import TokenTextView

    fresh = TokenTextView()
    fresh.resize(view.size())
    fresh.set_tokens(tokens)
    while fresh.coloring or view.coloring:
        QApplication.processEvents()

    def ranges(v: Any) -> list[tuple[int, int, str]]:
        out, block = [], v.document().firstBlock()
        while block.isValid():
            out += [(block.position() + r.start, r.length, r.format.background().color().name())
                    for r in block.layout().formats()]
            block = block.next()
        return out

    same = (view.toPlainText() == fresh.toPlainText() and view.spans() == fresh.spans()
            and ranges(view) == ranges(fresh))
    fresh.deleteLater()
    return same


def _streamed(label: str, tokens: list[Any], panes: int, pace_every: int = 0) -> None:
    """``tokens`` streamed into ``panes`` views in Tokens mode (a 20 ms pause every
    ``pace_every`` tokens; 0: full speed), hovering the newest token meanwhile."""
    from PySide6.QtCore import QEvent, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from workbench.backends.scripted import ScriptedBackend, ScriptedOptions, Step
    from workbench.core.models import Params, RenderedMessage, RunRequest
    from workbench.ui.widgets.output_view import OutputView
    from workbench.ui.workers import RunManager

    script = []
    for i, t in enumerate(tokens):
        script.append(Step(text=t.token, logprob=t.logprob, top=tuple(t.top)))
        if pace_every and i % pace_every == pace_every - 1:
            script.append(Step(delay_s=0.02))
    backend = ScriptedBackend(ScriptedOptions(script=script, concurrency=panes))
    request = RunRequest(backend="scripted", params=Params(top_logprobs=TOP),
                         messages=[RenderedMessage(role="user", content="go")])
    manager = RunManager(max_threads=panes)
    views = []
    for _ in range(panes):
        view = OutputView()
        view.resize(900 // panes + 200, 600)
        view.show()
        view.show_tokens(True)
        views.append(view)
    QApplication.processEvents()
    live_frames = [0] * panes  # frames that showed tokens before the run ended
    for i, view in enumerate(views):
        catch_up = view.inspector.catch_up

        def counting(i: int = i, view: Any = view, catch_up: Any = catch_up) -> None:
            catch_up()
            live_frames[i] += view.state == "streaming"

        view.inspector.catch_up = counting  # type: ignore[method-assign]
    hovers = [0]

    def hover() -> None:
        text_view = views[0].inspector.view
        if text_view.tokens:
            _hover(text_view, len(text_view.tokens) - 1)
            hovers[0] += 1

    hover_timer = QTimer()
    hover_timer.setInterval(HOVER_MS)
    hover_timer.timeout.connect(hover)
    loop = QEventLoop()

    def check_done() -> None:
        if all(v.state == "finished" and v.caught_up and not v.inspector.view.coloring
               for v in views):
            loop.quit()

    done_check = QTimer()
    done_check.setInterval(5)
    done_check.timeout.connect(check_done)
    probe = LagProbe(PROBE_MS)
    probe.start()
    started = time.perf_counter()
    for view in views:
        view.attach(manager.start(backend, request))
    hover_timer.start()
    done_check.start()
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    elapsed = time.perf_counter() - started
    probe.stop()
    hover_timer.stop()
    done_check.stop()
    manager.shutdown(10)
    exact = all(_same_as_afresh(v.inspector.view, tokens) for v in views)
    _report(label, probe, f" {elapsed:.2f} s; tokens shown live in {min(live_frames)}–"
            f"{max(live_frames)} frames per view before the end; {hovers[0]} tooltips; every view "
            f"ends as the run shown afresh: {exact}")
    for view in views:
        view.close()
        view.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def _phase(name: str, app: Any, steps: list[Callable[[], None]]) -> None:
    probe = LagProbe(PROBE_MS)
    probe.start()
    started = time.perf_counter()
    for step in steps:
        step()
        deadline = time.perf_counter() + 0.004  # let the probe and paint events run between
        while time.perf_counter() < deadline:
            app.processEvents()
    probe.stop()
    _report(name, probe, f" {len(steps)} steps in {time.perf_counter() - started:.2f} s")


def main() -> None:
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    from tests.storage.factories import make_result
    from workbench.ui import theming
    from workbench.ui.widgets.output_view import OutputView

    app = QApplication.instance() or QApplication([])
    theming.install(app, "light")  # type: ignore[arg-type]
    tokens = _tokens()
    text = "".join(t.token for t in tokens)
    print(f"{TOKENS:,} tokens with top-{TOP} alternatives ({len(text):,} characters); probe "
          f"timer every {PROBE_MS} ms")
    _warm_tooltips(tokens[0])
    print("While the run streams (Tokens mode on, the newest token hovered every "
          f"{HOVER_MS} ms):")
    _streamed("one view, full speed", tokens, 1)
    _streamed("one view, ~500 tokens/s (20 ms pause every 10 tokens)", tokens, 1, 10)
    _streamed("four views at once (compare columns), full speed", tokens, 4)

    print("After the run:")
    result = make_result(answer=text).model_copy(update={"logprobs": tokens})
    view = OutputView()
    view.resize(900, 600)
    view.show()
    view.show_tokens(True)
    app.processEvents()
    _phase("the stored run opened in Tokens mode", app, [lambda: view.show_result(result)])
    text_view = view.inspector.view
    bar = text_view.verticalScrollBar()
    pages = [lambda v=v: bar.setValue(v) for v in range(0, bar.maximum() + 1,
                                                           max(1, bar.pageStep()))]
    _phase("scrolling through it a page at a time", app, pages)
    bar.setValue(0)
    app.processEvents()
    viewport = text_view.viewport()
    points = [QPoint(x, y) for y in range(5, viewport.height(), 17)
              for x in range(5, viewport.width(), 60)]

    def hover_at(point: QPoint) -> None:
        index = text_view.token_at(point)
        if index is not None:
            _hover(text_view, index)

    _phase("hovering tokens (tooltips with alternatives)", app,
           [lambda p=p: hover_at(p) for p in points])
    view.close()


if __name__ == "__main__":
    main()
