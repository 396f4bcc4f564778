"""Look and feel: Fusion with a light and a dark palette that follow the system, one accent colour,
and one set of monochrome SVG icons tinted to the palette.

Qt's own palette on Linux does not switch with the desktop's dark mode, so we build both palettes
here and swap them when ``QStyleHints.colorSchemeChanged`` fires. Icons are stroked with
``currentColor`` and re-tinted on every palette change, so they stay readable in both themes.
Widgets that show icons refresh them on ``QEvent.PaletteChange`` (see :func:`icon`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QByteArray, QObject, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QActionGroup,
    QColor,
    QFont,
    QFontDatabase,
    QFontInfo,
    QGuiApplication,
    QIcon,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (
    QApplication,
    QMenu,
    QPlainTextEdit,
    QProxyStyle,
    QStyle,
    QStyleOption,
    QStyleOptionComplex,
    QStyleOptionSpinBox,
    QTextEdit,
    QWidget,
)

from workbench.core import paths

Mode = Literal["auto", "light", "dark"]
StatusKind = Literal["ok", "error", "warning", "muted", "accent"]

#: The one accent colour (selection, links, focus, the streaming dot), per theme.
ACCENT_LIGHT = QColor("#2563eb")
ACCENT_DARK = QColor("#6b9cf5")

ICON_NAMES = ("run", "stop", "copy", "rerun", "add", "remove", "settings", "history", "save")
_ICON_SIZES = (16, 20, 24, 32, 48)

_STATUS = {
    False: {"ok": "#15803d", "error": "#b91c1c", "warning": "#a16207", "muted": "#626873"},
    True: {"ok": "#4ade80", "error": "#f87171", "warning": "#facc15", "muted": "#9ca3af"},
}


def _colors(dark: bool) -> dict[QPalette.ColorRole, str]:
    R = QPalette.ColorRole
    if dark:
        return {
            R.Window: "#202124", R.WindowText: "#e8eaed", R.Base: "#17181a",
            R.AlternateBase: "#26282c", R.ToolTipBase: "#2d2f33", R.ToolTipText: "#e8eaed",
            R.PlaceholderText: "#8b8f96", R.Text: "#e8eaed", R.Button: "#2b2d31",
            R.ButtonText: "#e8eaed", R.BrightText: "#ffffff", R.Light: "#3c3f44",
            R.Midlight: "#33363b", R.Mid: "#45484e", R.Dark: "#111214", R.Shadow: "#000000",
            R.HighlightedText: "#0b1220", R.Link: ACCENT_DARK.name(), R.LinkVisited: "#b39ddb",
        }
    return {
        R.Window: "#f5f6f7", R.WindowText: "#1f2328", R.Base: "#ffffff",
        R.AlternateBase: "#f0f2f4", R.ToolTipBase: "#ffffff", R.ToolTipText: "#1f2328",
        R.PlaceholderText: "#8a9099", R.Text: "#1f2328", R.Button: "#eceef0",
        R.ButtonText: "#1f2328", R.BrightText: "#ffffff", R.Light: "#ffffff",
        R.Midlight: "#e4e6e9", R.Mid: "#c4c8cd", R.Dark: "#a0a5ab", R.Shadow: "#6b7078",
        R.HighlightedText: "#ffffff", R.Link: ACCENT_LIGHT.name(), R.LinkVisited: "#6d28d9",
    }


def palette(dark: bool) -> QPalette:
    """The full palette of one theme, disabled colours included."""
    pal = QPalette()
    for role, value in _colors(dark).items():
        pal.setColor(role, QColor(value))
    accent = ACCENT_DARK if dark else ACCENT_LIGHT
    pal.setColor(QPalette.ColorRole.Highlight, accent)
    pal.setColor(QPalette.ColorRole.Accent, accent)
    disabled = QColor("#6b6f76") if dark else QColor("#a3a8ae")
    G, R = QPalette.ColorGroup.Disabled, QPalette.ColorRole
    for role in (R.WindowText, R.Text, R.ButtonText, R.PlaceholderText):
        pal.setColor(G, role, disabled)
    pal.setColor(G, R.Highlight, QColor("#4b4f55") if dark else QColor("#c9ccd0"))
    pal.setColor(G, R.Base, QColor("#1c1d20") if dark else QColor("#f3f4f5"))
    return pal


def is_dark(pal: QPalette | None = None) -> bool:
    """Whether a palette (the application's by default) is a dark one."""
    pal = pal if pal is not None else QGuiApplication.palette()
    return pal.color(QPalette.ColorRole.Window).lightness() < 128


def accent() -> QColor:
    return ACCENT_DARK if is_dark() else ACCENT_LIGHT


def status_color(kind: StatusKind) -> QColor:
    """Colour for an honest state (finished ✓, failed ✗, cancelled, hints) in the current theme."""
    if kind == "accent":
        return accent()
    return QColor(_STATUS[is_dark()][kind])


_PREFERRED_MONO = ("DejaVu Sans Mono", "Liberation Mono", "Cascadia Mono", "Menlo", "Consolas")


def monospace_font() -> QFont:
    """The system's fixed-width font: prompts, outputs and raw prompts use it.

    fontconfig's "monospace" can resolve to a font Qt does not treat as fixed-pitch (Noto Sans
    Mono on Debian), so columns of a raw prompt would not line up: then a known fixed-pitch
    family is used instead."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setFixedPitch(True)
    if QFontInfo(font).fixedPitch():
        return font
    families = QFontDatabase.families()
    fixed = [f for f in _PREFERRED_MONO if f in families and QFontDatabase.isFixedPitch(f)]
    fixed += [f for f in families if QFontDatabase.isFixedPitch(f)]
    if fixed:
        font.setFamily(fixed[0])
    return font


def icons_dir() -> Path:
    return paths.resources_dir() / "icons"


@lru_cache(maxsize=64)
def _svg_source(name: str) -> str:
    path = icons_dir() / f"{name}.svg"
    if not path.is_file():
        raise FileNotFoundError(f"icon '{name}' is missing: expected {path}")
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=256)
def _tinted_pixmap(name: str, color: str, size: int, ratio: float) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(_svg_source(name).replace("currentColor", color).encode()))
    pixmap = QPixmap(QSize(round(size * ratio), round(size * ratio)))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    renderer.render(painter, QRectF(0, 0, pixmap.width(), pixmap.height()))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


def icon(name: str, color: QColor | None = None) -> QIcon:
    """An icon from ``resources/icons`` tinted for the current palette (text colour, with a greyed
    disabled state). Call again after a palette change: the tint is baked into the pixmaps."""
    pal = QGuiApplication.palette()
    normal = (color or pal.color(QPalette.ColorRole.WindowText)).name()
    disabled = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText).name()
    screen = QGuiApplication.primaryScreen()
    ratio = max(1.0, screen.devicePixelRatio()) if screen is not None else 1.0
    result = QIcon()
    for size in _ICON_SIZES:
        result.addPixmap(_tinted_pixmap(name, normal, size, ratio), QIcon.Mode.Normal)
        result.addPixmap(_tinted_pixmap(name, disabled, size, ratio), QIcon.Mode.Disabled)
    return result


INPUT_BORDER_DARK = QColor("#767b84")  # 3:1 against the dark window and field (non-text)


class _Style(QProxyStyle):
    """Fusion, with input fields outlined in the dark theme: Fusion draws their frame a shade
    darker than the window (1.1:1), so a field was a barely darker patch."""

    def __init__(self) -> None:
        super().__init__("Fusion")

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption,
                      painter: QPainter, widget: QWidget | None = None) -> None:
        super().drawPrimitive(element, option, painter, widget)
        editable = isinstance(widget, (QPlainTextEdit, QTextEdit)) and not widget.isReadOnly()
        if is_dark(option.palette) and (
            element == QStyle.PrimitiveElement.PE_FrameLineEdit
            or (element == QStyle.PrimitiveElement.PE_Frame and editable)
        ):
            _outline(painter, QRectF(option.rect))

    def drawComplexControl(self, control: QStyle.ComplexControl, option: QStyleOptionComplex,
                           painter: QPainter, widget: QWidget | None = None) -> None:
        super().drawComplexControl(control, option, painter, widget)
        if (control == QStyle.ComplexControl.CC_SpinBox and is_dark(option.palette)
                and isinstance(option, QStyleOptionSpinBox) and option.frame):
            _outline(painter, QRectF(option.rect))


def _outline(painter: QPainter, rect: QRectF) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(INPUT_BORDER_DARK)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 2, 2)
    painter.restore()


class Theme(QObject):
    """Applies Fusion and the palette matching the system (or a forced mode) and follows changes.

    ``changed(dark)`` fires after the palette was swapped; widgets also receive
    ``QEvent.PaletteChange`` and re-tint their icons there.
    """

    changed = Signal(bool)
    #: The mode ("auto", "light" or "dark") was set, whether or not the palette changed.
    mode_changed = Signal(str)

    def __init__(self, app: QApplication, mode: Mode = "auto") -> None:
        super().__init__(app)
        self._app = app
        self._mode: Mode = mode
        self._system = app.styleHints().colorScheme()
        app.setStyle(_Style())
        app.styleHints().colorSchemeChanged.connect(self._on_system_scheme)
        self._apply()

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def dark(self) -> bool:
        if self._mode == "auto":
            return self._system == Qt.ColorScheme.Dark
        return self._mode == "dark"

    def set_mode(self, mode: Mode) -> None:
        """Force light or dark, or follow the system again with "auto"."""
        self._mode = mode
        self._apply()
        self.mode_changed.emit(mode)

    def _on_system_scheme(self, scheme: Qt.ColorScheme) -> None:
        self._system = scheme
        if self._mode == "auto":
            self._apply()

    def _apply(self) -> None:
        dark = self.dark
        target = palette(dark)
        if self._app.palette() == target:
            return
        self._app.setPalette(target)
        self.changed.emit(dark)


def install(app: QApplication, mode: Mode = "auto") -> Theme:
    """Style ``app`` (Fusion, palette, following the system); keep the returned object alive
    (it is parented to the application)."""
    existing = app.findChild(Theme)
    if existing is not None:
        existing.set_mode(mode)
        return existing
    return Theme(app, mode)



class ThemeActions(QActionGroup):
    """Auto, Light and Dark theme as one exclusive, checkable group: the checked one is the
    theme's mode, however that was set (a method slot, so Qt drops the connection with it)."""

    def __init__(self, theme: Theme, parent: QObject) -> None:
        super().__init__(parent)
        modes: tuple[Mode, ...] = ("auto", "light", "dark")
        for mode in modes:
            action = self.addAction(f"{mode.capitalize()} theme")
            action.setCheckable(True)
            action.setData(mode)
            action.triggered.connect(lambda _checked=False, m=mode: theme.set_mode(m))
        self.follow(theme.mode)
        theme.mode_changed.connect(self.follow)

    def follow(self, mode: str) -> None:
        for action in self.actions():
            action.setChecked(action.data() == mode)


def add_theme_actions(menu: QMenu) -> ThemeActions:
    """The theme choice at the end of ``menu`` (View ▸ Auto/Light/Dark theme)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication), "menus exist only in a QApplication"
    group = ThemeActions(app.findChild(Theme) or install(app), menu)
    menu.addActions(group.actions())
    return group
