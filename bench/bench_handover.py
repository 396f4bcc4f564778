"""A second launch while the app runs: ``workbench FILE`` hands the file to the running window
and exits without building a window of its own.

Real processes, offscreen: the app is started with ``python -m workbench`` on a data folder that
has been opened before, then ``python -m workbench FILE`` is launched several times against it.
Figures: from launching the app until it accepts files, and each second launch from process
start to its exit (it waits for the running app's answer), with their ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = 5


def main() -> None:
    from bench_startup import sample  # opens (and closes) the window once: a used data folder
    from PySide6.QtNetwork import QLocalServer

    from workbench.ui import single_instance

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        sample(home)
        template = Path(folder) / "handed.prompt.yaml"
        template.write_text(
            "format_version: 1\nname: Handed over\nmessages:\n- role: user\n  content: Hi\n",
            encoding="utf-8",
        )
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "WORKBENCH_HOME": str(home)}
        saved = os.environ.get("WORKBENCH_HOME")
        os.environ["WORKBENCH_HOME"] = str(home)  # server_name() and hand_over() read it
        started = time.perf_counter()
        app = subprocess.Popen(
            [sys.executable, "-m", "workbench"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not single_instance.hand_over([]):
                if app.poll() is not None or time.perf_counter() - started > 120:
                    raise RuntimeError("the app did not start listening")
                time.sleep(0.01)
            accepting = time.perf_counter() - started
            launches = []
            for _ in range(SAMPLES):
                launched = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "workbench", str(template)],
                    env=env,
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
                launches.append(time.perf_counter() - launched)
        finally:
            app.terminate()
            app.wait(timeout=30)
            QLocalServer.removeServer(single_instance.server_name())  # terminated: not closed
            if saved is None:
                os.environ.pop("WORKBENCH_HOME", None)
            else:
                os.environ["WORKBENCH_HOME"] = saved
    second = statistics.median(launches)
    print(f"app launch until it accepts files: {accepting:.2f} s")
    print(
        f"second launch handing a file over: median {second:.2f} s, min {min(launches):.2f} s, "
        f"max {max(launches):.2f} s (process start to exit 0, {SAMPLES} runs)"
    )
    print(f"ratio: a second launch takes {second / accepting:.2f}× an app launch")


if __name__ == "__main__":
    main()
