"""Local server discovery: how long a search takes, and that it does not delay the first window.

1. ``discover()`` over 8 loopback ports nothing listens on (each bound then released): what
   every start costs on a machine without model servers. Target ≤ 300 ms.
2. The same search over the servers' default ports on this machine, as the app runs it.
3. Cold start to the first window shown (offscreen; a new process per sample, an existing data
   folder), with the search at start turned off and on, alternating: the search starts after
   ``show()`` in a pool thread, so the two should match. Target: ratio ≤ 1.05. With it on, the
   time until the search's result reached the GUI thread is printed too.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbench.backends.discovery import DEFAULT_PORTS, discover

RUNS = 30
SAMPLES = 5

_CHILD = r"""
import json, sys, time
from workbench.app import create_application, open_main_window
from workbench.ui.local_servers import set_search_at_start, start_at_launch
from PySide6.QtCore import QTimer
app = create_application()
search = sys.argv[1] == "on"
set_search_at_start(search)
window = open_main_window(first_run_demo=False)
window.show()
holder = start_at_launch(window)
times = {}
def ready():
    times["ready_at"] = time.time()
    if holder is None or holder.latest is not None:
        finish()
def found(_result):
    times["found_at"] = time.time()
    if "ready_at" in times:
        finish()
def finish():
    print(json.dumps(times), flush=True)
    window.close()
    window.workspace.close()
    app.quit()
if holder is not None:
    holder.found.connect(found)
QTimer.singleShot(0, ready)
app.exec()
"""


def closed_ports(count: int) -> list[int]:
    ports = []
    for _ in range(count):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
    return ports


def sample(home: Path, search: bool) -> tuple[float, float | None]:
    """Seconds from launch to the window's event loop running, and to the search's result."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "WORKBENCH_HOME": str(home)}
    launched = time.time()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, "on" if search else "off"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    times = json.loads(out.stdout.strip().splitlines()[-1])
    found = times.get("found_at")
    return times["ready_at"] - launched, None if found is None else found - launched


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {max(values) * 1000:.1f} ms"
    )


def main() -> None:
    ports = closed_ports(8)
    empty = []
    for _ in range(RUNS):
        result = discover(ports, budget_s=0.3)
        assert not result.servers, result
        empty.append(result.elapsed_s)
    print(f"nothing listening (8 ports, {RUNS} runs): {_ms(empty)}; target ≤ 300 ms")

    here = discover(budget_s=2.0)
    found = ", ".join(f"{s.label} on {s.port}" for s in here.servers) or "none"
    print(
        f"default ports on this machine ({len(DEFAULT_PORTS)}): {here.elapsed_s * 1000:.1f} ms, "
        f"found: {found}"
    )

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        sample(home, False)  # the first start installs the welcome template
        off: list[float] = []
        on: list[float] = []
        found_at: list[float] = []
        for _ in range(SAMPLES):
            off.append(sample(home, False)[0])
            ready, result = sample(home, True)
            on.append(ready)
            if result is not None:
                found_at.append(result)
    ratio = statistics.median(on) / statistics.median(off)
    print(
        f"first window, search off: median {statistics.median(off):.2f} s; search on: "
        f"median {statistics.median(on):.2f} s; ratio {ratio:.3f} (target ≤ 1.05; "
        f"{SAMPLES} runs each)"
    )
    if found_at:
        print(
            f"search result on the GUI thread: median {statistics.median(found_at):.2f} s "
            "after launch"
        )


if __name__ == "__main__":
    main()
