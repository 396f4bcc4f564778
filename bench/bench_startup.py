"""Cold start of the desktop app to an interactive main window (offscreen).

Each sample is a new Python process: from interpreter start to the first moment the event loop
runs with the window shown (a zero-delay timer firing after ``show()``), with a fresh data folder
(first start: the welcome template is installed but not run) and with an existing one. Target:
≤ 1.5 s on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = 5

_CHILD = r"""
import json, time
from workbench.app import create_application, open_main_window
from PySide6.QtCore import QTimer
app = create_application()
window = open_main_window(first_run_demo=False)
window.show()
def ready():
    print(json.dumps({"ready_at": time.time()}), flush=True)
    window.close()
    window.workspace.close()
    app.quit()
QTimer.singleShot(0, ready)
app.exec()
"""


def sample(home: Path) -> float:
    """Seconds from launching the process to the window's event loop running (wall clock, so
    the interpreter's own start-up and every import count)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "WORKBENCH_HOME": str(home)}
    launched = time.time()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["ready_at"]) - launched


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        fresh = [sample(Path(folder) / f"fresh-{i}") for i in range(SAMPLES)]
        warm_home = Path(folder) / "warm"
        sample(warm_home)
        warm = [sample(warm_home) for _ in range(SAMPLES)]
    for name, values in (("first start", fresh), ("later start", warm)):
        print(
            f"{name:12s}: median {statistics.median(values):.2f} s, "
            f"min {min(values):.2f} s, max {max(values):.2f} s "
            f"(process start to interactive window, {SAMPLES} runs; target ≤ 1.5 s)"
        )


if __name__ == "__main__":
    main()
