"""The naming panel of a first save sits over the template editor like a sheet: centred on the
window it covered the edges of the variable rows, leaving clipped labels ("p", "s") beside it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.conftest import ARTIFACTS
from tests.ui.prompt_typing import replace_message
from tests.ui.windows import window
from workbench.ui.dialogs.template_details import TemplateDetailsDialog
from workbench.ui.main_window import MainWindow

__all__ = ["window"]


def global_rect(widget: QWidget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def composite(window: MainWindow, dialog: QWidget, name: str) -> None:
    """The window with the dialog drawn where it is on screen (offscreen, nothing composes
    top-level windows)."""
    image = window.grab()
    painter = QPainter(image)
    painter.drawPixmap(dialog.geometry().topLeft() - window.geometry().topLeft(), dialog.grab())
    painter.end()
    ARTIFACTS.mkdir(exist_ok=True)
    assert image.save(str(ARTIFACTS / f"{name}.png"))


@pytest.mark.parametrize("size", [(1366, 800), (1280, 800)])
def test_the_naming_panel_covers_the_editor_and_no_row_edge(
    qtbot: QtBot, window: MainWindow, size: tuple[int, int]
) -> None:
    window.resize(*size)
    window.new_template()
    replace_message(qtbot, window, "Write a {{ style }} blurb for {{ product }}.")
    qtbot.waitUntil(lambda: window.variables.names() == ["product", "style"])
    qtbot.keyClick(window.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), TemplateDetailsDialog))
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, TemplateDetailsDialog)
    qtbot.waitExposed(dialog)
    sheet = dialog.frameGeometry()
    editor = global_rect(window.editor)
    assert (sheet.left(), sheet.width()) == (editor.left(), editor.width())
    assert sheet.top() == editor.top()
    # Nothing below the editor is covered: every variable row (label, field, File…) shows whole.
    assert not sheet.intersects(global_rect(window.variables))
    composite(window, dialog, f"naming_sheet_{size[0]}x{size[1]}")
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Escape)
