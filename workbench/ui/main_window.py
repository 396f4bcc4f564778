"""The main window."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow

from workbench import __version__


class MainWindow(QMainWindow):
    """The workbench's main window (the full editor lands with the desktop issue)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Prompt Workbench")
        label = QLabel(
            f"<h2>Prompt Workbench {__version__}</h2>"
            "<p>A local-first workbench for prompt engineering.</p>"
            "<p>The command line already renders, counts and runs prompts: "
            "<code>workbench --help</code>.</p>"
        )
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setAccessibleName("About Prompt Workbench")
        self.setCentralWidget(label)
        self.resize(960, 640)
