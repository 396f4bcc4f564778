"""Human judgements in the compare view: thumbs, 1–5 stars and a comment under each column, and
an A/B bar that records which of two columns is better.

Ratings are saved through the store writer the moment they are given (nothing to "submit"), so a
person can rate as they read. Blind mode names columns "Output 1…N" in the A/B bar too, so the
choice is made on the text alone.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.storage.repositories import Rating
from workbench.storage.repositories.ratings import Choice
from workbench.ui import theming

STAR = "★"


class RatingBar(QWidget):
    """Thumbs, stars and a comment for one run. ``rated`` carries only the part just changed
    (the store keeps the others)."""

    rated = Signal(object, object, object)  # thumbs (-1/1 or None), stars (1-5 or None), comment

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.up = self._tool("thumb-up", "Thumbs up: a good answer")
        self.down = self._tool("thumb-down", "Thumbs down: a bad answer")
        self.thumbs_group = QButtonGroup(self)
        self.thumbs_group.setExclusive(True)
        # button ids are 1 and 2: QButtonGroup takes -1 to mean "pick an id for me"
        self.thumbs_group.addButton(self.up, 1)
        self.thumbs_group.addButton(self.down, 2)
        self.thumbs_group.idClicked.connect(lambda _id: self.rated.emit(self.thumbs(), None, None))
        self.stars: list[QToolButton] = []
        for n in range(1, 6):
            star = QToolButton(self)
            star.setText(STAR)
            star.setAutoRaise(True)
            star.setCheckable(True)
            star.setAccessibleName(f"{n} star{'s' if n > 1 else ''}")
            star.setToolTip(f"Rate {n} of 5")
            font = star.font()
            font.setPointSizeF(font.pointSizeF() * 1.4)  # a star glyph is small at text size
            star.setFont(font)
            star.clicked.connect(lambda _c=False, n=n: self._set_stars(n, emit=True))
            self.stars.append(star)
        self.comment = QLineEdit(self)
        self.comment.setPlaceholderText("Comment…")
        self.comment.setAccessibleName("Comment on this answer")
        self.comment.setToolTip("A note on this answer, saved when you press Enter or leave")
        self.comment.editingFinished.connect(self._comment_done)
        self._saved_comment = ""
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.up)
        row.addWidget(self.down)
        row.addSpacing(4)
        for star in self.stars:
            row.addWidget(star)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.comment)
        self._refresh_icons()
        self._paint_stars(0)

    def _tool(self, icon: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setCheckable(True)
        button.setAutoRaise(True)
        button.setToolTip(tip)
        button.setAccessibleName(tip.split(":")[0])
        button.setProperty("icon_name", icon)
        return button

    def _refresh_icons(self) -> None:
        for button in (self.up, self.down):
            button.setIcon(theming.icon(str(button.property("icon_name"))))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._refresh_icons()
            self._paint_stars(self.star_count())
        super().changeEvent(event)

    def star_count(self) -> int:
        return sum(1 for star in self.stars if star.isChecked())

    def thumbs(self) -> int | None:
        return {1: 1, 2: -1}.get(self.thumbs_group.checkedId())

    def _set_stars(self, count: int, *, emit: bool) -> None:
        self._paint_stars(count)
        if emit:
            self.rated.emit(None, count, None)

    def _paint_stars(self, count: int) -> None:
        gold = theming.status_color("warning").name()
        muted = theming.status_color("muted").name()
        for n, star in enumerate(self.stars, start=1):
            star.setChecked(n <= count)
            star.setStyleSheet(f"color: {gold if n <= count else muted}; border: none;")

    def _comment_done(self) -> None:
        text = self.comment.text().strip()
        if text != self._saved_comment:
            self._saved_comment = text
            self.rated.emit(None, None, text)

    def show_rating(self, rating: Rating | None) -> None:
        """Show a saved rating (or none) without emitting anything."""
        self.thumbs_group.setExclusive(False)
        self.up.setChecked(rating is not None and rating.thumbs == 1)
        self.down.setChecked(rating is not None and rating.thumbs == -1)
        self.thumbs_group.setExclusive(True)
        self._paint_stars(rating.stars or 0 if rating is not None else 0)
        self._saved_comment = rating.comment if rating is not None else ""
        self.comment.setText(self._saved_comment)


#: Buttons of the A/B bar: (choice, text, shortcut).
_CHOICES: tuple[tuple[Choice, str, str], ...] = (
    ("a", "◀ Left is better", "Alt+Left"),
    ("tie", "Tie", "Alt+Down"),
    ("b", "Right is better ▶", "Alt+Right"),
    ("both_bad", "Both bad", "Alt+Up"),
)


class PreferenceBar(QWidget):
    """Pick two columns, then say which is better (or a tie, or both bad), with a comment."""

    preferred = Signal(int, int, str, str)  # left column, right column, choice, comment

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.left = QComboBox(self)
        self.left.setAccessibleName("Left answer")
        self.right = QComboBox(self)
        self.right.setAccessibleName("Right answer")
        for combo in (self.left, self.right):
            combo.setToolTip("Which columns to judge against each other")
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.buttons: dict[Choice, QPushButton] = {}
        self.comment = QLineEdit(self)
        self.comment.setPlaceholderText("Why? (optional)")
        self.comment.setAccessibleName("Preference comment")
        self.summary = QLabel(self)
        self.summary.setAccessibleName("Preference summary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        title = QLabel("A/B:", self)
        layout.addWidget(title)
        layout.addWidget(self.left)
        layout.addWidget(QLabel("vs", self))
        layout.addWidget(self.right)
        for choice, text, keys in _CHOICES:
            button = QPushButton(text, self)
            button.setShortcut(QKeySequence(keys))
            button.setToolTip(f"Record: {text.strip('◀▶ ').lower()} ({keys})")
            button.clicked.connect(lambda _c=False, c=choice: self._choose(c))
            self.buttons[choice] = button
            layout.addWidget(button)
        layout.addWidget(self.comment, 1)
        self._names: list[str] = []

    def set_columns(self, names: list[str]) -> None:
        """The columns by the names to show (blind names in blind mode), in display order."""
        if names == self._names:
            return
        left, right = self.left.currentIndex(), self.right.currentIndex()
        self._names = list(names)
        for combo in (self.left, self.right):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.blockSignals(False)
        count = len(names)
        self.left.setCurrentIndex(left if 0 <= left < count else 0)
        self.right.setCurrentIndex(right if 0 <= right < count and right != left
                                   else min(1, count - 1))
        self.setEnabled(count >= 2)

    def pick(self, left: int, right: int) -> None:
        self.left.setCurrentIndex(left)
        self.right.setCurrentIndex(right)

    def _choose(self, choice: Choice) -> None:
        left, right = self.left.currentIndex(), self.right.currentIndex()
        if left < 0 or right < 0 or left == right:
            self.summary.setText("Pick two different columns to compare.")
            return
        self.preferred.emit(left, right, choice, self.comment.text().strip())
        self.comment.clear()

    def show_summary(self, text: str) -> None:
        self.summary.setText(text)

