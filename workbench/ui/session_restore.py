"""The window as the last session left it: the backend and model chosen in the toolbar, the theme
chosen in the View menu, the open template's variable values, the repeat count and its last
answer come back at the next start.

The document (template, unsaved edits) is the document session's; this module keeps what only
the window holds. A clean quit marks the session ended, so its unsaved edits, kept on purpose as
a draft, come back without a question; a session that never got to mark itself ended crashed
or was killed, and its drafts are offered back with a question, since the person may not
remember them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from workbench.core.errors import KnownError
from workbench.storage.repositories.runs import RunFilter
from workbench.ui import theming

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow

_CLEAN, _KEY, _VALUES = "session/clean", "session/key", "session/values"
_REPEAT, _RUN = "session/repeat", "session/run"
_BACKEND, _MODEL = "session/backend", "session/model"
_THEME = "view/theme"
_MODES = ("auto", "light", "dark")


def begin(settings: QSettings) -> bool:
    """Mark a session started; whether the previous one ended with a clean quit (a first start
    counts as clean: there is nothing to recover)."""
    clean = str(settings.value(_CLEAN, "1")) == "1"
    settings.setValue(_CLEAN, "0")
    settings.sync()
    return clean


def save(window: MainWindow, settings: QSettings) -> None:
    """Keep what the window holds beside the document, and mark the session cleanly ended."""
    settings.setValue(_KEY, window.document.draft_key)
    settings.setValue(_VALUES, json.dumps(window.variables.values()))
    settings.setValue(_REPEAT, window.repeat.value())
    outcome = window.output.outcome  # the run the output followed, not one shown from history
    settings.setValue(_RUN, outcome.run_id if outcome is not None and outcome.run_id else "")
    settings.setValue(_BACKEND, window.picker.backend_name)
    settings.setValue(_MODEL, window.picker.model)
    if (theme := _theme()) is not None:
        settings.setValue(_THEME, theme.mode)
    settings.setValue(_CLEAN, "1")
    settings.sync()


def restore_model(window: MainWindow, settings: QSettings) -> None:
    """Choose the backend and model the last session ended on, whatever document opens (a
    backend removed since leaves the default)."""
    window.picker.select(str(settings.value(_BACKEND, "")), str(settings.value(_MODEL, "")))


def restore_theme(settings: QSettings) -> None:
    """Light or dark as chosen in the View menu last time (nothing kept: as the theme is)."""
    mode = str(settings.value(_THEME, ""))
    theme = _theme()
    if theme is not None and mode in _MODES and mode != theme.mode:
        theme.set_mode(mode)  # type: ignore[arg-type]  # one of _MODES


def _theme() -> theming.Theme | None:
    app = QApplication.instance()
    return app.findChild(theming.Theme) if app is not None else None


def restore(window: MainWindow, settings: QSettings) -> None:
    """Give the open document back its values and repeat count, and show its last answer, when
    it is the document the last session ended on."""
    if str(settings.value(_KEY, "")) != window.document.draft_key:
        return
    try:
        values = json.loads(str(settings.value(_VALUES, "{}")))
        repeat = int(str(settings.value(_REPEAT, "1")))
    except ValueError:  # a settings file edited by hand: start without them
        return
    if isinstance(values, dict):  # kept by the form until its fields for them are built
        window.variables.set_values({str(k): str(v) for k, v in values.items()})
    window.repeat.setValue(repeat)
    _show_last_answer(window, str(settings.value(_RUN, "")))


def _show_last_answer(window: MainWindow, run_id: str) -> None:
    """The answer the output showed at quit; else the newest run from the window of this
    library template or template file."""
    runs = window.workspace.store.runs
    path = window.document.path
    if not run_id and (window.key or path is not None):
        mine = (RunFilter(source="hand", template_key=window.key) if window.key
                else RunFilter(source="hand", template_file=str(path)))
        latest = runs.recent(1, where=mine)
        run_id = latest[0].id if latest else ""
    if not run_id:
        return
    try:
        stored = runs.get(run_id)
    except KnownError:  # the run was deleted since
        return
    window.output.show_result(stored.result)
    window.lower_tabs.setCurrentWidget(window.output)  # as it was left: the answer in view
