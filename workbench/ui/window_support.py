"""Small pieces of the main window that need no window: its settings file and the one-line
summaries it shows."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QObject, QSettings, Qt
from PySide6.QtGui import QGuiApplication, QTextCursor
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QWidget,
)

from workbench.core.errors import KnownError, MissingVariableError, TemplateError
from workbench.core.model_table import NO_CHARGE
from workbench.core.models import Params, PromptTemplate, RunResult
from workbench.core.paths import config_dir
from workbench.core.tokens import format_count
from workbench.services.document import SaveJob, save_in_process, save_template
from workbench.storage.library import Library, TemplateVersion
from workbench.ui.background import on_gui
from workbench.ui.widgets.preview_compute import give_values
from workbench.ui.widgets.preview_panel import Preview, format_money
from workbench.ui.widgets.render_process import in_helper, is_big


def on_gui_when_done(owner: QObject) -> Callable[[Future[Any], Callable[[], None]], None]:
    """``when_done(future, fn)``, called on the GUI thread: once ``future`` (a writer-thread
    job) is done, ``fn`` runs on the GUI thread, through the one background mechanism
    (``background.on_gui``: nothing once ``owner`` is gone). ``fn`` reads the outcome itself."""

    def when_done(future: Future[Any], fn: Callable[[], None]) -> None:
        landed: Future[None] = Future()
        future.add_done_callback(lambda _done: landed.set_result(None))
        on_gui(landed, owner, lambda _none: fn())

    return when_done


def big_save_job(library: Library) -> SaveJob:
    """Saves for the document: a big template is saved by the helper process (its YAML is
    seconds of pure Python, which on any thread of this process would take the GIL from the
    GUI thread every few ms); the writer thread waits for it with the GIL released."""

    def save(
        template: PromptTemplate, key: str, message: str
    ) -> tuple[TemplateVersion, PromptTemplate]:
        if is_big(template):
            result = in_helper(
                save_in_process, str(library.db.path), str(library.folder), template, key, message
            )
            if result is not None:
                ok, payload = result
                if not ok:
                    raise KnownError(payload[0], hint=payload[1])
                done: tuple[TemplateVersion, PromptTemplate] = payload
                return done
        return save_template(library, template, key, message)

    return save


def ask_on(
    window: QWidget,
    title: str,
    text: str,
    buttons: QMessageBox.StandardButton,
    *,
    icon: QMessageBox.Icon = QMessageBox.Icon.Question,
    default: QMessageBox.StandardButton = QMessageBox.StandardButton.NoButton,
    names: dict[QMessageBox.StandardButton, str] | None = None,
) -> QMessageBox.StandardButton:
    """Ask a question window-modally on ``window`` (a sheet on macOS), waiting for the answer:
    it belongs to that window, and never stands alone on the screen."""
    box = QMessageBox(icon, title, text, buttons, window)
    for button, name in (names or {}).items():
        box.button(button).setText(name)
    if default != QMessageBox.StandardButton.NoButton:
        box.setDefaultButton(default)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    answer = QMessageBox.StandardButton(box.exec())
    box.deleteLater()
    return answer


def replace_after_asking(editor: QPlainTextEdit, text: str, title: str, question: str) -> bool:
    """Put ``text`` in ``editor`` as one edit Ctrl+Z undoes, asking first (``question``) when
    it would replace other text written there; False when the person kept theirs."""
    current = editor.toPlainText()
    if current.strip() and current != text and ask_on(
        editor.window(), title, f"{question} Ctrl+Z in the editor brings it back.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        default=QMessageBox.StandardButton.Cancel,
        names={QMessageBox.StandardButton.Yes: "Replace"},
    ) != QMessageBox.StandardButton.Yes:
        return False
    cursor = editor.textCursor()  # an edit, not setPlainText: Ctrl+Z undoes it
    cursor.select(QTextCursor.SelectionType.Document)
    cursor.insertText(text)
    return True


def window_settings() -> QSettings:
    """Window layout, kept beside the other settings (so WORKBENCH_HOME isolates it)."""
    return QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)


DOCK_MIN_WIDTH = 200  # below this the library and history lists scroll sideways
LEFT_DOCK_WIDTH = 360  # first start: room for the history's time, prompt, output and rating
HISTORY_SHARE = 0.6  # first start: of the left column's height, so history shows ~15 runs


def restore_layout(window: QMainWindow, split: QSplitter) -> None:
    """Docks, geometry and the editor/output split as the last session left them, the window
    kept within the screen it opens on (a session on a larger screen saved a larger one)."""
    settings = window_settings()
    geometry = settings.value("geometry")
    state = settings.value("state")
    sizes = settings.value("centreSplit")
    docks = window.findChildren(QDockWidget)
    for dock in docks:
        dock.setMinimumWidth(DOCK_MIN_WIDTH)
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
        fit_to_screen(window)
    if isinstance(state, QByteArray):
        window.restoreState(state)
    else:
        left_area = Qt.DockWidgetArea.LeftDockWidgetArea
        left = [d for d in docks if window.dockWidgetArea(d) == left_area]
        window.resizeDocks(left, [LEFT_DOCK_WIDTH] * len(left), Qt.Orientation.Horizontal)
        history = [d for d in left if d.objectName() == "historyDock"]
        if len(left) == 2 and history:
            library = next(d for d in left if d is not history[0])
            height = window.height()
            shares = [round(height * (1 - HISTORY_SHARE)), round(height * HISTORY_SHARE)]
            window.resizeDocks([library, history[0]], shares, Qt.Orientation.Vertical)
    if isinstance(sizes, QByteArray):
        split.restoreState(sizes)


def fit_to_screen(window: QWidget) -> None:
    """Shrink and move ``window`` into its screen's available area."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    area = screen.availableGeometry()
    frame = window.geometry()
    width, height = min(frame.width(), area.width()), min(frame.height(), area.height())
    x = min(max(frame.x(), area.x()), area.x() + area.width() - width)
    y = min(max(frame.y(), area.y()), area.y() + area.height() - height)
    if (x, y, width, height) != (frame.x(), frame.y(), frame.width(), frame.height()):
        window.setGeometry(x, y, width, height)


def save_layout(
    window: QMainWindow, split: QSplitter, last_template: str | None, last_file: Path | None
) -> None:
    """Docks, geometry and split, and the document to open at the next start: a library
    template's key or a file's path."""
    settings = window_settings()
    settings.setValue("geometry", window.saveGeometry())
    settings.setValue("state", window.saveState())
    settings.setValue("centreSplit", split.saveState())
    settings.setValue("lastTemplate", last_template or "")
    settings.setValue("lastFile", str(last_file) if last_file is not None else "")
    settings.sync()


def params_of(result: RunResult) -> Params:
    """The parameters a run was asked for (for runs stored without them: what was sent plus
    what the backend ignored)."""
    if result.request.requested_params is not None:
        return result.request.requested_params
    values = {**result.request.sent_params, **result.request.ignored_params}
    known = {k: v for k, v in values.items() if k in Params.model_fields}
    try:
        return Params.model_validate(known)
    except ValueError:
        return Params()


def error_summary(error: TemplateError, missing: list[str] | None = None) -> str:
    """The token summary's line for a template that does not render (``missing``: every
    variable without a value, when known)."""
    if isinstance(error, MissingVariableError):
        return f"{give_values(missing or [error.name])} to see the token count."
    return "Fix the template to see its token count."


def preview_summary(preview: Preview) -> str:
    """One line under the parameters: tokens (exact or ≈), context fit and cost."""
    if preview.error is not None:
        return error_summary(preview.error, preview.missing)
    label = "exact" if preview.exact else "estimate"
    parts = [f"{format_count(preview.total, preview.exact)} tokens {label} · {preview.tokenizer}"]
    fit = preview.fit
    if fit is not None:
        state = "" if fit.fits else f", {fit.overflow:,} over"
        parts.append(f"{fit.needed:,}/{fit.context_window:,} ctx{state}")
    if preview.cost is not None and preview.cost.price == NO_CHARGE:
        parts.append("free (local)")  # as the Preview tab says it
    elif preview.cost is not None:
        approx = "" if preview.cost.exact else "≈ "
        parts.append(f"{approx}{format_money(preview.cost.total, preview.cost.currency)}")
    return " · ".join(parts)
