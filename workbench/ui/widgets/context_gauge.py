"""A bar showing prompt + answer budget against the model's context window.

The prompt is the solid part, the answer budget (max tokens) the lighter part after it. The bar
turns the warning colour above 90 % and the error colour when the two do not fit.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from workbench.core.tokens import ContextFit
from workbench.ui.theming import status_color
from workbench.ui.widgets.palette_colors import tint

NEAR_FULL = 0.9
GAUGE_TOOLTIP = (
    "Prompt tokens (solid) plus the answer's budget, max tokens (light), against the model's "
    "context window. When they do not fit, the answer is cut short or the request fails. With "
    "no max tokens set, only the prompt is counted: the answer may use the rest of the window."
)


def fit_tooltip(fit: ContextFit | None) -> str:
    """What the figures of ``fit`` add up to, then the general explanation."""
    if fit is None:
        return GAUGE_TOOLTIP
    if fit.max_tokens:
        sum_ = (
            f"{fit.prompt_tokens:,} prompt tokens + {fit.max_tokens:,} max tokens for the answer "
            f"= {fit.needed:,} of the {fit.context_window:,}-token window."
        )
    else:
        left = max(0, fit.context_window - fit.prompt_tokens)
        sum_ = (
            f"{fit.prompt_tokens:,} prompt tokens of the {fit.context_window:,}-token window. "
            f"No max tokens set, so only the prompt is counted: the answer may use the other "
            f"{left:,}. Set Max tokens to reserve (and cap) its room."
        )
    return f"{sum_}\n\n{GAUGE_TOOLTIP}"


class ContextGauge(QWidget):
    """Paints a ``ContextFit``; empty when the window is unknown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fit: ContextFit | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(80)
        self.setAccessibleName("Context window")
        self.setToolTip(GAUGE_TOOLTIP)

    @property
    def fit(self) -> ContextFit | None:
        return self._fit

    @property
    def state(self) -> str:
        """"unknown", "ok", "near" (above 90 %) or "over" (does not fit)."""
        if self._fit is None:
            return "unknown"
        if not self._fit.fits:
            return "over"
        return "near" if self._fit.needed > NEAR_FULL * self._fit.context_window else "ok"

    def set_fit(self, fit: ContextFit | None) -> None:
        self._fit = fit
        self.setToolTip(fit_tooltip(fit))
        if fit is None:
            self.setAccessibleDescription("context window unknown")
        else:
            self.setAccessibleDescription(
                f"{fit.prompt_tokens:,} prompt + {fit.max_tokens:,} answer tokens of "
                f"{fit.context_window:,}" + ("" if fit.fits else f", {fit.overflow:,} too many")
            )
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(160, 8)

    def minimumSizeHint(self) -> QSize:
        return QSize(80, 8)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        radius = rect.height() / 2
        painter.setPen(palette.color(palette.ColorRole.Mid))
        painter.setBrush(palette.color(palette.ColorRole.Base))
        painter.drawRoundedRect(rect, radius, radius)
        fit = self._fit
        if fit is None:
            return
        state = self.state
        if state == "over":
            color = status_color("error")
        elif state == "near":
            color = status_color("warning")
        else:
            color = palette.color(palette.ColorRole.Highlight)
        scale = rect.width() / max(fit.needed, fit.context_window)
        prompt_width = max(fit.prompt_tokens * scale, 2.0 if fit.prompt_tokens else 0.0)
        budget_width = fit.max_tokens * scale
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setClipRect(rect)
        painter.setBrush(tint(color, 110))
        painter.drawRoundedRect(
            QRectF(rect.left(), rect.top(), prompt_width + budget_width, rect.height()),
            radius, radius,
        )
        painter.setBrush(color)
        painter.drawRoundedRect(
            QRectF(rect.left(), rect.top(), prompt_width, rect.height()), radius, radius
        )
        if state == "over":  # mark where the window ends
            x = rect.left() + fit.context_window * scale
            painter.setPen(palette.color(palette.ColorRole.Text))
            painter.drawLine(round(x), round(rect.top()), round(x), round(rect.bottom()))
