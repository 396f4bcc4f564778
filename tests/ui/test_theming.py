"""Themes: Fusion, light and dark palettes that follow the system, one accent, tinted icons."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QColor, QFontInfo, QIcon, QPalette
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (
    QApplication,
    QGridLayout,
    QLabel,
    QProxyStyle,
    QToolButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from tests.ui.runs import screenshot
from workbench.ui import theming

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    saved = qapp.palette()
    yield qapp
    theme = qapp.findChild(theming.Theme)
    if theme is not None:
        theme.set_mode("light")
    qapp.setPalette(saved)


def luminance(color: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + \
        0.0722 * channel(color.blueF())


def contrast(a: QColor, b: QColor) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def ink(icon: QIcon, mode: QIcon.Mode = QIcon.Mode.Normal) -> set[str]:
    """The colours of the opaque pixels of an icon rendered at 24 px."""
    image = icon.pixmap(24, 24, mode).toImage()
    colors = set()
    for x in range(image.width()):
        for y in range(image.height()):
            pixel = image.pixelColor(x, y)
            if pixel.alpha() == 255:
                colors.add(pixel.name())
    return colors


def test_fusion_with_light_palette_and_one_accent(app: QApplication) -> None:
    theme = theming.install(app, "light")
    style = app.style()  # Fusion, through a proxy that outlines dark inputs
    assert isinstance(style, QProxyStyle) and style.baseStyle().name().lower() == "fusion"
    assert not theme.dark and not theming.is_dark()
    palette = app.palette()
    assert palette.color(QPalette.ColorRole.Highlight) == theming.ACCENT_LIGHT
    assert palette.color(QPalette.ColorRole.Accent) == theming.ACCENT_LIGHT
    assert theming.install(app, "light") is theme  # one theme object per application


@pytest.mark.parametrize("dark", [False, True])
def test_both_palettes_are_readable(dark: bool) -> None:
    palette = theming.palette(dark)
    R = QPalette.ColorRole
    assert contrast(palette.color(R.Text), palette.color(R.Base)) >= 7
    assert contrast(palette.color(R.WindowText), palette.color(R.Window)) >= 7
    assert contrast(palette.color(R.HighlightedText), palette.color(R.Highlight)) >= 4.5
    disabled = palette.color(QPalette.ColorGroup.Disabled, R.WindowText)
    assert 1.8 <= contrast(disabled, palette.color(R.Window)) < 7  # visibly greyed, still legible
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    saved = app.palette()
    app.setPalette(palette)
    try:
        for kind in ("ok", "error", "warning", "muted", "accent"):
            color = theming.status_color(kind)  # type: ignore[arg-type]
            assert contrast(color, palette.color(R.Base)) >= 4.5, kind
            assert contrast(color, palette.color(R.Window)) >= 4.5, kind
    finally:
        app.setPalette(saved)


def test_follows_the_system_colour_scheme(qtbot: QtBot, app: QApplication) -> None:
    theme = theming.install(app, "auto")
    hints = app.styleHints()
    with qtbot.waitSignal(theme.changed, timeout=1_000) as changed:
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert changed.args == [True] and theming.is_dark()
    with qtbot.waitSignal(theme.changed, timeout=1_000):
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert not theming.is_dark()
    theme.set_mode("light")  # a forced mode ignores the system
    with qtbot.assertNotEmitted(theme.changed):
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert not theming.is_dark()


def test_icon_set_is_one_consistent_monochrome_svg_family() -> None:
    for name in theming.ICON_NAMES:
        source = (theming.icons_dir() / f"{name}.svg").read_text()
        assert 'viewBox="0 0 24 24"' in source and 'stroke="currentColor"' in source
        assert 'stroke-width="2"' in source and "#" not in source  # no colour of its own
        assert QSvgRenderer(QByteArray(source.encode())).isValid(), name
    with pytest.raises(FileNotFoundError):
        theming.icon("no-such-icon")


def test_icons_are_tinted_for_the_theme(app: QApplication) -> None:
    theme = theming.install(app, "light")
    light_text = app.palette().color(QPalette.ColorRole.WindowText).name()
    assert ink(theming.icon("run")) == {light_text}
    assert ink(theming.icon("run"), QIcon.Mode.Disabled) == {
        app.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText).name()
    }
    theme.set_mode("dark")
    dark_text = app.palette().color(QPalette.ColorRole.WindowText).name()
    assert dark_text != light_text
    assert ink(theming.icon("run")) == {dark_text}
    assert ink(theming.icon("stop", theming.accent())) == {theming.ACCENT_DARK.name()}


def test_monospace_font_for_outputs(app: QApplication) -> None:
    assert QFontInfo(theming.monospace_font()).fixedPitch()


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_icon_sheet_screenshot(qtbot: QtBot, app: QApplication, mode: str) -> None:
    theming.install(app, mode)  # type: ignore[arg-type]
    sheet = QWidget()
    qtbot.addWidget(sheet)
    grid = QGridLayout(sheet)
    grid.setSpacing(8)
    for column, name in enumerate(theming.ICON_NAMES):
        for row, enabled in enumerate((True, False)):
            button = QToolButton(sheet)
            button.setIcon(theming.icon(name))
            button.setEnabled(enabled)
            button.setAccessibleName(name)
            grid.addWidget(button, row, column)
        grid.addWidget(QLabel(name, sheet), 2, column)
    sheet.show()
    qtbot.waitExposed(sheet)
    screenshot(sheet, f"icons-{mode}")


def test_run_and_cancel_icons_follow_a_theme_switch(qtbot: QtBot, app: QApplication) -> None:
    """The bug: the Run button kept the icon tinted for the theme it was made in: after a
    switch to dark it was near-black on a dark button (contrast ~1.3:1)."""
    from workbench.ui.widgets.params_panel import ParamsPanel
    from workbench.ui.widgets.run_panel import RunPanel

    theme = theming.install(app, "light")
    panel = RunPanel(ParamsPanel())
    qtbot.addWidget(panel)
    panel.show()
    theme.set_mode("dark")
    button = app.palette().color(QPalette.ColorRole.Button)
    qtbot.waitUntil(lambda: all(
        contrast(QColor(c), button) >= 4.5 for c in ink(panel.run_button.icon())))
    assert all(contrast(QColor(c), button) >= 4.5 for c in ink(panel.cancel_button.icon(),
                                                               QIcon.Mode.Normal))


@pytest.mark.parametrize("kind", ["line edit", "spin box", "text box"])
def test_inputs_have_a_visible_border_in_the_dark_theme(
    qtbot: QtBot, app: QApplication, kind: str
) -> None:
    """The bug: Fusion draws input frames a shade darker than the dark window (1.1:1): a field
    was a barely darker patch. A border at 3:1 (non-text contrast) against window and field."""
    from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QSpinBox, QVBoxLayout

    theming.install(app, "dark")
    holder = QWidget()
    qtbot.addWidget(holder)
    field = {"line edit": QLineEdit, "spin box": QSpinBox, "text box": QPlainTextEdit}[kind]()
    field.setFixedSize(200, 60 if kind == "text box" else 28)
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(10, 10, 10, 10)
    layout.addWidget(field)
    holder.show()
    qtbot.waitExposed(holder)
    image = holder.grab().toImage()
    y = field.geometry().center().y()
    left = field.geometry().left()
    edge = [image.pixelColor(x, y) for x in range(left - 2, left + 3)]
    palette = app.palette()
    window, base = palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.Base)
    assert max(min(contrast(c, window), contrast(c, base)) for c in edge) >= 3, [
        c.name() for c in edge]
    screenshot(holder, f"dark-input-border-{kind.replace(' ', '-')}")
