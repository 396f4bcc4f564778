"""Composition root of the desktop app: the only place besides ``ui/`` that imports Qt."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from workbench import __version__


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, styled with Fusion (light and dark palettes follow the system)."""
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Prompt Workbench")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("prompt-workbench")
    app.setStyle("Fusion")
    return app


def main() -> int:
    from workbench.ui.main_window import MainWindow

    app = create_application()
    window = MainWindow()
    window.show()
    return app.exec()
