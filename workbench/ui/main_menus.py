"""The main window's menu bar: every action, its shortcut and tooltip, in one place.

Separate from ``MainWindow`` because the wiring is long and declarative, while the window's own
code is about the document and its runs; the menus only call the window's public slots.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox

from workbench import __version__
from workbench.ui import child_windows, theming

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow


class MainMenus:
    """File, Edit, View, Run, Tools and Help of ``window``; ``named`` holds the menus by title."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        bar = window.menuBar()
        self.named = {
            name: bar.addMenu(name)
            for name in ("&File", "&Edit", "&View", "&Run", "&Tools", "&Help")
        }
        self._action("&File", "&New template", window.new_template, QKeySequence.StandardKey.New)
        self._action(
            "&File",
            "New from &template…",
            window.doc_actions.new_from_template,
            "Ctrl+Shift+N",
            "Start from one of the built-in templates (a technique each)",
        )
        self._action(
            "&File", "&Open file…", window.doc_actions.open_file, QKeySequence.StandardKey.Open
        )
        window.model_files.add_to(self.named["&File"], self.named["&Tools"])
        self.named["&File"].addSeparator()
        self.save_action = self._action(
            "&File",
            "&Save",
            window.save,
            QKeySequence.StandardKey.Save,
            "Save back to the template's file when it came from one, else a new version in "
            "the library (the first save asks for a name)",
        )
        self._action(
            "&File",
            "Save with &message…",
            window.doc_actions.save_with_message,
            "Ctrl+Shift+S",
            "Save a new version and say what it changes (shown in the versions list)",
        )
        self._action(
            "&File", "Save as &file…", lambda: window.doc_actions.save_as_file(),
            tip="Write the template to a .prompt.yaml file; Ctrl+S then saves to that file",
        )
        self._action(
            "&File", "A&dd to library…", window.doc_actions.add_to_library,
            tip="Save a copy in the library under a name (a file stays bound to its file)",
        )
        window.transfer.add_to(self.named["&File"])
        self.named["&File"].addSeparator()
        # Quit has no standard key outside GNOME/KDE (a bare X session, offscreen): Ctrl+Q there
        quit_key = QKeySequence.StandardKey.Quit
        self._action("&File", "&Quit", window.close,
                     quit_key if QKeySequence.keyBindings(quit_key) else "Ctrl+Q")
        self._action("&Edit", "&Undo", window.editor.undo, QKeySequence.StandardKey.Undo)
        self._action("&Edit", "&Redo", self._redo, "Ctrl+Shift+Z")
        self.named["&Edit"].addSeparator()
        self._action(
            "&Edit", "Re&name template…", lambda: window.doc_actions.rename_template(),
            tip="Give the open template a new name (in the library: F2 on its list)",
        )
        self._action(
            "&Edit", "&Description and tags…", lambda: window.doc_actions.edit_details(),
            tip="What the template is for, and the tags the library is searched by",
        )
        self._action(
            "&Edit", "De&lete template", lambda: window.doc_actions.delete_template(),
            tip="Delete the open template from the library (the library panel offers Undo)",
        )
        self.named["&Edit"].addSeparator()
        self._action(
            "&Edit",
            "&Find…",
            window.focus_search,
            QKeySequence.StandardKey.Find,
            "Search the library",
        )
        self.theme_actions = theming.add_theme_actions(self.named["&View"])
        self.named["&View"].addSeparator()
        for dock in (window.library_dock, window.history_dock, window.params_dock):
            self.named["&View"].addAction(dock.toggleViewAction())
        self.run_action = self._action("&Run", "&Run", window.run, "Ctrl+Return", "Run the prompt")
        self.run_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.cancel_action = self._action(
            "&Run", "&Cancel", window.cancel, "Esc", "Cancel the runs"
        )
        # Enabled only while runs go on (``MainWindow._active_changed``): an enabled window-wide
        # Esc made the Escape of a proposed change (Cancel the technique's diff) ambiguous, so it
        # did nothing.
        self.cancel_action.setEnabled(False)
        self.named["&Run"].addSeparator()
        self._action(
            "&Run",
            "C&ompare variants…",
            window.open_compare,
            "Ctrl+Shift+K",
            "Compare this prompt side by side with variants of it",
        )
        self._action(
            "&Run",
            "S&weep parameters…",
            lambda: window.open_sweep(window.current_variant()),
            "Ctrl+Shift+W",
            "Run this prompt over a grid of two settings, with the estimate first",
        )
        self._action("&Tools", "&Backends…", window.show_backends)
        self._action(
            "&Tools",
            "E&xperiments…",
            lambda: child_windows.open_experiments(window),
            "Ctrl+Shift+E",
            "Reopen a saved comparison, sweep or evaluation with its results",
        )
        self._action(
            "&Tools",
            "Batch &jobs…",
            lambda: child_windows.open_batch_jobs(window),
            tip="Sweeps sent through a provider's batch API: their state, results and cancel",
        )
        self._action(
            "&Tools",
            "Run an &evaluation suite…",
            window.choose_suite,
            tip="Run a suite file (or a promptfoo config) and show its scorecard",
        )
        self._action("&Help", "&About Prompt Workbench", self._about)

    def _action(
        self,
        menu_name: str,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        shown = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')} ({shown})" if shown else tip)
        action.triggered.connect(slot)
        self.named[menu_name].addAction(action)
        return action

    def _redo(self) -> None:
        """The template's redo from within the template editor or outside any text field; the
        focused text's own redo elsewhere (a variable's value)."""
        focus = self.window.focusWidget()
        redo = None if focus is None or self.window.editor.isAncestorOf(focus) else getattr(
            focus, "redo", None
        )
        (redo if callable(redo) else self.window.editor.redo)()

    def _about(self) -> None:
        QMessageBox.about(
            self.window,
            "About Prompt Workbench",
            f"<h3>Prompt Workbench {__version__}</h3><p>A local-first workbench "
            "for prompt engineering. It sends nothing anywhere except the model "
            "calls you start.</p>",
        )
