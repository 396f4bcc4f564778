"""Windows the main window opens beside itself: compare, sweep, and evaluation suites.

Each is imported when first opened (the compare view alone costs ~0.4 s of start-up) and closed
with the main window.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from workbench.core.experiments import Variant
from workbench.core.grid import TemplateChoice

if TYPE_CHECKING:
    from workbench.ui.compare.compare_view import CompareView
    from workbench.ui.compare.sweep_view import SweepView
    from workbench.ui.main_window import MainWindow


def _keep(window: MainWindow, child: QWidget, width: int, height: int) -> None:
    child.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    child.resize(width, height)
    child.show()
    window.child_windows.append(child)


def _template_versions(window: MainWindow) -> list[TemplateChoice]:
    """The library's versions of the window's template: key, number, message and template."""
    if not window.key:
        return []
    return [TemplateChoice(template=v.template(), key=v.key, version=v.number, message=v.message)
            for v in window.workspace.library.versions(window.key)]


def open_compare(window: MainWindow) -> CompareView:
    """A compare window whose column A is the window's current prompt."""
    from workbench.ui.compare.compare_view import CompareView

    view = CompareView(window.runs)
    view.setWindowTitle(f"Compare — {window.editor.template().name}")
    if window.key:
        view.set_template_versions(_template_versions(window))
    view.set_backends(window.picker.backend_names())
    view.add_variant(window.current_variant())
    view.sweepRequested.connect(lambda variant: open_sweep(window, variant))
    view.message.connect(lambda text: window.statusBar().showMessage(text, 10_000))
    view.saved.connect(lambda _id: window.history.refresh())
    _keep(window, view, 1366, 760)
    return view


def open_sweep(window: MainWindow, variant: Variant) -> SweepView:
    """A sweep around ``variant`` over two axes: parameters, models of the window's backends,
    versions of its template, or variable sets."""
    from workbench.ui.compare.sweep_view import SweepView

    view = SweepView(window.workspace.runner)
    view.setWindowTitle(f"Sweep — {variant.template.name}")
    view.set_backends(window.picker.backend_names())
    view.set_template_versions(_template_versions(window))
    view.set_base(variant)
    _keep(window, view, 1100, 760)
    return view


def open_suite(window: MainWindow, path: Path) -> QWidget:
    """Run the evaluation suite at ``path``: progress, then its scorecard."""
    from workbench.ui.evaluation.suite_window import SuiteWindow

    view = SuiteWindow(window.workspace, path, backends=window.picker.backend_names())
    _keep(window, view, 1280, 720)  # fits a 1366×768 screen
    return view
