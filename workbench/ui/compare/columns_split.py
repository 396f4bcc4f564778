"""The compare view's columns above its diff panel, with the diff giving way when height is short.

The diff opens with two fifths of the height, but the columns' pinned parts (header, repeats,
figures, rating) need a fixed height of their own: at 1366x768 a "Before running" note above
them was enough to push the rating controls out of view behind a scroll bar. The split keeps the
columns at least as tall as their minimum (the output text keeps its three lines) whenever the
diff can still keep its own minimum; only when the window is too small for both do the columns
scroll. The columns themselves sit in a ``ColumnsLayout``, which gives them the height shown.

Hiding the diff with the focus in it (its pickers, its text) let Qt pass the focus on to the
next widget in the tab chain: a column's Remove button, or round to the toolbar's repeat box (a
first-time user found the cursor there after turning Diff off). It goes back to the columns.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QApplication, QHBoxLayout, QScrollArea, QSplitter, QWidget

DIFF_SHARE = (3, 2)  # columns : diff, when the diff opens


class ColumnsLayout(QHBoxLayout):
    """The columns side by side, as tall as the view shows them.

    A scroll area sizes a widget whose layout has height-for-width to that layout's preferred
    height, not the height it shows: one word-wrapped label in any column (the repeats'
    agreement line did it; a failed run's error still wraps) made every column its preferred
    height, taller than the view, and scrolled the figures and rating controls out of sight.
    Without it the columns get the view's height (or their minimum, scrolling only then) and
    each column's own layout still gives a wrapped label the lines it needs.
    """

    def hasHeightForWidth(self) -> bool:
        return False


class ColumnsSplit(QSplitter):
    """``area`` (the scroll area of columns) above ``below`` (the diff panel); ``home`` names
    the widget of the columns that takes the focus out of a hidden diff (the first column's
    text)."""

    def __init__(self, area: QScrollArea, below: QWidget, home: Callable[[], QWidget | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.area = area
        self.below = below
        self.home = home
        self._focus_before: QWidget | None = None  # in the columns, when the diff was shown
        self.addWidget(area)
        self.addWidget(below)
        self.setChildrenCollapsible(False)
        self.setStretchFactor(0, DIFF_SHARE[0])
        self.setStretchFactor(1, DIFF_SHARE[1])
        strip = area.widget()
        assert strip is not None, "the scroll area holds the columns before the split is built"
        # a column growing (its repeats panel appears, a figure wraps) asks for a new layout
        strip.installEventFilter(self)

    def show_below(self, visible: bool) -> None:
        """Show or hide the diff; shown, it gets its share of the height, less what the
        columns need. A focus outside the diff stays where it is; one inside goes back to the
        columns before the diff hides."""
        if visible and not self.below.isVisible():
            focus = QApplication.focusWidget()
            self._focus_before = focus if focus is not None and self._in_columns(focus) else None
        elif not visible:
            self._leave_below()
        self.below.setVisible(visible)
        if visible:
            total = sum(self.sizes())
            top = total * DIFF_SHARE[0] // sum(DIFF_SHARE)
            self.setSizes([top, total - top])
            self.fit()

    def _leave_below(self) -> None:
        """A focus in the diff goes where it was in the columns when the diff was shown, or
        else to ``home``."""
        focus = QApplication.focusWidget()
        if focus is None or not self.below.isAncestorOf(focus):
            return
        target, self._focus_before = self._focus_before, None
        if target is None or not self._in_columns(target):
            target = self.home()
        if target is not None and self._in_columns(target):
            target.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            focus.clearFocus()  # no column to go to: nowhere, rather than the next widget

    def _in_columns(self, widget: QWidget) -> bool:
        """``widget`` is in the columns and can take the focus."""
        return (shiboken6.isValid(widget) and self.area.isAncestorOf(widget)
                and widget.isVisible() and widget.isEnabled()
                and widget.focusPolicy() != Qt.FocusPolicy.NoFocus)

    def columns_need(self) -> int:
        """The scroll area's height that shows the columns at their minimum without scrolling."""
        strip = self.area.widget()
        assert strip is not None
        need = strip.minimumSizeHint().height() + 2 * self.area.frameWidth()
        bar = self.area.horizontalScrollBar()
        if bar.isVisible():
            need += bar.sizeHint().height()
        return need

    def fit(self) -> None:
        """Give the columns the height they need, taken from the diff down to its minimum."""
        if not self.below.isVisible():
            return
        top, bottom = self.sizes()
        total = top + bottom
        room = total - self.below.minimumSizeHint().height()
        wanted = max(top, min(self.columns_need(), room))
        if wanted != top:
            self.setSizes([wanted, total - wanted])

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)  # shares out the new height by the stretch factors
        self.fit()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:
            self.fit()  # the splitter shared the height out again (the diff was just shown)
        return handled

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest and watched is self.area.widget():
            self.fit()
        return super().eventFilter(watched, event)
