"""The right-hand dock: parameters, the prompt's token and cost summary, the run controls."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from workbench.ui import theming
from workbench.ui.widgets.params_panel import ParamsPanel


class RunPanel(QWidget):
    """Parameters above, then what the prompt costs, then Run ×N and Cancel."""

    def __init__(self, params: ParamsPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_button = QPushButton(theming.icon("run"), "Run", self)
        self.run_button.setToolTip("Run the prompt on the selected model (Ctrl+Enter)")
        self.run_button.setAccessibleName("Run")
        self.repeat = QSpinBox(self)
        self.repeat.setRange(1, 50)
        self.repeat.setPrefix("×")
        self.repeat.setToolTip(
            "Run the prompt this many times to see how stable its answers are; each run is saved"
        )
        self.repeat.setAccessibleName("Repeat count")
        self.cancel_button = QPushButton(theming.icon("stop"), "Cancel", self)
        self.cancel_button.setToolTip("Cancel every run in progress (Esc)")
        self.cancel_button.setAccessibleName("Cancel runs")
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.repeat)
        buttons.addWidget(self.cancel_button)
        self.token_summary = QLabel(self)
        self.token_summary.setAccessibleName("Token count and cost")
        self.token_summary.setWordWrap(True)
        layout = self._layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(params, 1)
        layout.addWidget(self.token_summary)
        layout.addLayout(buttons)

    def changeEvent(self, event: QEvent) -> None:
        # the tint is baked into the icons: a theme switch re-tints them, or Run stays dark on
        # a dark button
        if event.type() == QEvent.Type.PaletteChange:
            self.run_button.setIcon(theming.icon("run"))
            self.cancel_button.setIcon(theming.icon("stop"))
        super().changeEvent(event)

    def add_below(self, widget: QWidget) -> None:
        """A section under the run controls (the answers of Run ×N)."""
        self._layout.addWidget(widget)
