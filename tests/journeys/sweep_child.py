"""The app, in a process of its own on $WORKBENCH_HOME, starting a sweep of the template it
reopens: journey 4 kills this process (SIGKILL) in the middle of the sweep.

Usage: python -m tests.journeys.sweep_child ROW_VALUES COL_VALUES REPEATS (temperature × top_p).
Prints "running" once the sweep has started."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from workbench.app import create_application, open_main_window


def main(rows: str, cols: str, repeats: int) -> int:
    create_application()
    window = open_main_window(first_run_demo=False)
    window.show()
    sweep = window.open_sweep(window.current_variant())
    sweep.rows.param.setCurrentText("temperature")
    sweep.rows.values.setText(rows)
    sweep.cols.param.setCurrentText("top_p")
    sweep.cols.values.setText(cols)
    sweep.repeats.setValue(repeats)

    def start(_estimate: object) -> None:
        if sweep.handle is None and sweep.run_button.isEnabled() and sweep.experiment is None:
            sweep.run_button.click()
            print("running", flush=True)

    sweep.estimated.connect(start)
    return QApplication.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
