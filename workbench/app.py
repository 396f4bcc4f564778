"""Composition root of the desktop app: the only place besides ``ui/`` that imports Qt.

It opens the workspace, styles the application, restores or recovers what the user was doing,
and on the very first start opens the welcome template and runs it on the embedded model, so a
new user sees a streamed answer seconds after opening the app.
"""

from __future__ import annotations

import gc
import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from workbench import __version__
from workbench.core.errors import KnownError

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow

log = logging.getLogger(__name__)


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, styled with Fusion and a palette that follows the system."""
    from workbench.ui import app_icon, theming

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Prompt Workbench")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("prompt-workbench")
    # Every window shows the app's icon; the desktop file name lets Wayland and X11 desktops
    # match the windows to the installed entry (``workbench --install-desktop-entry``).
    app.setWindowIcon(app_icon.app_icon())
    app.setDesktopFileName(app_icon.NAME)
    theming.install(app)
    return app


def _crash_dialog(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    """A bug: logged with its traceback and shown, never a silent exit."""
    text = "".join(traceback.format_exception(kind, error, tb))
    log.error("unhandled error\n%s", text)
    if isinstance(error, KnownError):
        QMessageBox.warning(None, "Prompt Workbench", str(error))
        return
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "Prompt Workbench hit a bug",
        f"{kind.__name__}: {error}\n\nYour work is autosaved. The details below help fix it.",
    )
    box.setDetailedText(text)
    box.exec()


def open_main_window(*, first_run_demo: bool = True, file: Path | None = None) -> MainWindow:
    """Open the workspace and its window, shown: ``file`` (given on the command line), else
    recovered drafts or the last template; on the first start the welcome template, run once on
    the embedded model (not when a file was given: that file is what the person wants to
    see)."""
    from workbench.services.workspace import Workspace
    from workbench.ui import child_windows, session_restore
    from workbench.ui.main_window import MainWindow
    from workbench.ui.window_support import window_settings

    workspace = Workspace()
    first = workspace.is_first_start()
    if first:
        workspace.install_welcome()
    window = MainWindow(workspace)
    window.show()  # first: a question (a draft after a crash) is asked over it, never alone
    settings = window_settings()
    clean = session_restore.begin(settings)
    session_restore.restore_model(window, settings)
    session_restore.restore_theme(settings)
    # A file given: it is what the person wants to see. Kept edits of library templates and
    # files stay kept (they come back when those are opened), so nothing is asked; only a new
    # template's, which nothing else can reopen, comes back first. A file that cannot be read
    # leaves the start as it would be without it.
    recovered = file is not None and window.recover_drafts(ask=not clean, untitled_only=True)
    opened = file is not None and window.open_path(file)
    if opened:
        window.doc_actions.say_kept_drafts()
    elif not recovered:
        recovered = window.recover_drafts(ask=not clean)
    if not recovered and not opened:  # the document the last session ended on
        last_file = Path(str(settings.value("lastFile", "") or ""))
        recovered = last_file.is_file() and window.open_path(last_file)
    if not recovered and not opened:
        last = str(settings.value("lastTemplate", "") or "")
        keys = window.library.template_keys()
        key = last if last in keys else (keys[0] if keys else None)
        if key:
            window.open_library_template(key)
        else:
            window.new_template()
    if not opened:  # the last session's values and answer belong to its own document
        session_restore.restore(window, settings)
    if first and first_run_demo and file is None:
        window.run()
    # Batch jobs an earlier session sent are followed again, once the window is up.
    QTimer.singleShot(0, window, lambda: child_windows.resume_batch_polling(window))
    return window


def main(file: str | None = None) -> int:
    """The desktop app, with ``file`` open; when it already runs (same user and data folder),
    the running one opens ``file`` and comes to the front, and this process exits at once."""
    from workbench.ui import single_instance

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    path = Path(file).absolute() if file else None  # the running app has its own directory
    files = [str(path)] if path else []
    try:
        if single_instance.hand_over(files):
            _say_handed_over(file)
            return 0
    except KnownError as err:
        print(f"workbench: {err}", file=sys.stderr)
        return 1
    app = create_application()
    sys.excepthook = _crash_dialog
    server = single_instance.InstanceServer(app)
    if not server.listen():  # another launch won the race to listen: hand over to it
        if not single_instance.hand_over(files):
            return 1
        _say_handed_over(file)
        return 0
    app.aboutToQuit.connect(server.close)
    try:
        window = open_main_window(file=path)
    except KnownError as err:
        QMessageBox.critical(None, "Prompt Workbench cannot start", str(err))
        return 1
    server.files_received.connect(lambda paths: _open_handed_over(window, paths))
    window.show()
    from workbench.ui.local_servers import start_at_launch
    from workbench.ui.quit_signals import QuitOnSignals

    start_at_launch(window)  # a background search of loopback ports, after the window is up

    QuitOnSignals(window)  # logout's SIGTERM and Ctrl+C quit as Ctrl+Q does
    # Modules, Qt wrappers, settings and the window live until exit: moved out of the cyclic
    # GC's generations, its full collections stop re-scanning them while runs stream.
    gc.freeze()
    code = app.exec()
    from workbench.ui.widgets import render_process

    render_process.shutdown()  # the preview's helper process for big templates
    window.workspace.close()
    return code


def _say_handed_over(file: str | None) -> None:
    """One line on the terminal, so a launch that builds no window does not look like one
    that did nothing (the running window says itself whether the file could be read)."""
    if file:
        print(f"workbench: opened {file} in the running Prompt Workbench window")
    else:
        print("workbench: brought the running Prompt Workbench window to the front")


def _open_handed_over(window: MainWindow, files: list[str]) -> None:
    """A second launch's files: the window comes to the front and opens them."""
    from workbench.ui.single_instance import bring_to_front

    bring_to_front(window)
    for file in files:
        window.open_path(Path(file))
