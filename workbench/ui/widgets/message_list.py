"""The chat messages of a template: one editor per message, with its role and literal switch.

Each message keeps its own editor when it is moved, and when the messages are shown again (after
an undo) only the changed text is replaced, so the cursor and focus stay where the person is.
Undo itself belongs to the template editor's history: removing a message is one step in it.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import get_args

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.models import Message, Role
from workbench.core.params import ParamCapability
from workbench.ui import theming
from workbench.ui.widgets.code_editor import CodeEditor
from workbench.ui.widgets.message_images import MessageImages

ROLES: tuple[Role, ...] = get_args(Role)
ROLE_TIPS = {
    "system": "System: the rules and persona for the whole conversation (sent first).",
    "user": "User: the request the model answers.",
    "assistant": "Assistant: a model reply, to show an example turn or to start the answer.",
}
ROLE_TOOLTIP = (
    "Who says this message. System sets the model's role and rules; user is the request; "
    "assistant is a reply the model should continue from."
)
LITERAL_TOOLTIP = (
    "Send this message exactly as written: {{ }} and {% %} are not read as Jinja, so variables "
    "are not filled in."
)


class MessageCard(QWidget):
    """One message: role, literal switch, move and remove buttons above its editor."""

    changed = Signal()
    moveRequested = Signal(object, int)  # card, -1 up / +1 down
    removeRequested = Signal(object)

    def __init__(self, message: Message, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = QComboBox(self)
        for role in ROLES:
            self.role.addItem(role, role)
            self.role.setItemData(
                self.role.count() - 1, ROLE_TIPS[role], Qt.ItemDataRole.ToolTipRole
            )
        self.role.setToolTip(ROLE_TOOLTIP)
        self.role.setAccessibleName("Message role")
        self.literal = QCheckBox("literal", self)
        self.literal.setToolTip(LITERAL_TOOLTIP)
        self.literal.setAccessibleName("Literal message")
        self.up = self._button("up", "Move up", "Move this message one place up (Alt+Up).")
        self.down = self._button("down", "Move down",
                                 "Move this message one place down (Alt+Down).")
        self.remove = self._button("close", "Remove message",
                                   "Remove this message (you can undo it).")
        self.editor = CodeEditor(self, min_lines=2, max_lines=16)
        self.images = MessageImages(self)
        self.images.watch(self.editor, self.editor.viewport())
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.setSpacing(4)
        header.addWidget(self.role)
        header.addSpacing(4)
        header.addWidget(self.literal)
        header.addWidget(self.images.button)
        header.addStretch(1)
        header.addWidget(self.up)
        header.addWidget(self.down)
        header.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.editor)
        layout.addWidget(self.images)
        self.set_message(message)
        self.role.currentIndexChanged.connect(self._role_changed)
        self.literal.toggled.connect(self._literal_toggled)
        self.editor.textChanged.connect(self.changed)
        self.images.changed.connect(self.changed)
        self.up.clicked.connect(lambda: self.moveRequested.emit(self, -1))
        self.down.clicked.connect(lambda: self.moveRequested.emit(self, 1))
        self.remove.clicked.connect(lambda: self.removeRequested.emit(self))
        for keys, delta in (("Alt+Up", -1), ("Alt+Down", 1)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda d=delta: self.moveRequested.emit(self, d))

    def _button(self, icon: str, name: str, tip: str) -> QToolButton:
        """A header button with an icon tinted for the palette (the style's own arrows were
        black on the dark theme's near-black, enabled or not)."""
        button = QToolButton(self)
        button.setProperty("icon_name", icon)
        button.setIcon(theming.icon(icon))
        button.setAutoRaise(True)
        button.setToolTip(tip)
        button.setAccessibleName(name)
        return button

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # the tint is baked into the pixmaps
            for button in (self.up, self.down, self.remove):
                button.setIcon(theming.icon(str(button.property("icon_name"))))
        super().changeEvent(event)

    def set_message(self, message: Message) -> None:
        self.role.setCurrentIndex(ROLES.index(message.role))
        self.literal.setChecked(message.literal)
        self.editor.replace_text(message.content)
        self.images.set_images(message.images)
        self._literal_toggled(message.literal, notify=False)
        self._role_changed(notify=False)

    def message(self) -> Message:
        return Message(
            role=self.role.currentData(),
            content=self.editor.toPlainText(),
            literal=self.literal.isChecked(),
            images=self.images.images() if self.images.user else [],
        )

    def _role_changed(self, _index: int = 0, *, notify: bool = True) -> None:
        role = self.role.currentData()
        self.editor.setAccessibleName(f"{role} message")
        self.images.set_user(role == "user")
        self.editor.setToolTip(ROLE_TIPS[role] + " Jinja: {{ variable }}, {% if %}…{% endif %}.")
        if notify:
            self.changed.emit()

    def _literal_toggled(self, literal: bool, *, notify: bool = True) -> None:
        if self.editor.highlighter is not None:
            self.editor.highlighter.set_enabled(not literal)
        if notify:
            self.changed.emit()


class MessageList(QWidget):
    """The messages in order, with an Add button below them."""

    changed = Signal()
    aboutToRemove = Signal()
    removed = Signal(int, object)  # index, the Message removed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards: list[MessageCard] = []
        self._vision = ParamCapability()
        #: Called with each new card's editor (the template editor routes its undo keys).
        self.prepare_editor: Callable[[CodeEditor], None] | None = None
        self._cards_layout = QVBoxLayout()
        self._cards_layout.setContentsMargins(0, 0, 0, 0)
        self._cards_layout.setSpacing(8)
        self.add_button = QPushButton("Add message", self)
        self.add_button.setToolTip(
            "Add a message at the end: a user message after a reply, else an assistant reply."
        )
        self.add_button.setAccessibleName("Add message")
        self.add_button.clicked.connect(lambda: self.add_message())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(self._cards_layout)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        layout.addLayout(row)

    def set_messages(self, messages: list[Message]) -> None:
        """Show ``messages``, reusing the cards there are (only changed text is replaced)."""
        while len(self.cards) > len(messages):
            card = self.cards.pop()
            self._cards_layout.removeWidget(card)
            card.deleteLater()
        for index, message in enumerate(messages):
            if index < len(self.cards):
                if self.cards[index].message() != message:
                    self.cards[index].set_message(message)
            else:
                self._insert(index, message)
        self._update_buttons()

    def messages(self) -> list[Message]:
        return [card.message() for card in self.cards]

    def set_vision(self, vision: ParamCapability) -> None:
        """Whether the chosen backend sends images (greys each user message's Image… button)."""
        self._vision = vision
        for card in self.cards:
            card.images.set_vision(vision)

    def add_message(self, role: Role | None = None, content: str = "") -> MessageCard:
        """Append a message and focus its editor."""
        if role is None:
            last = self.cards[-1].role.currentData() if self.cards else "assistant"
            role = "assistant" if last == "user" else "user"
        card = self._insert(len(self.cards), Message(role=role, content=content))
        self._update_buttons()
        card.editor.setFocus(Qt.FocusReason.OtherFocusReason)
        self.changed.emit()
        return card

    def insert_message(self, index: int, message: Message) -> MessageCard:
        card = self._insert(index, message)
        self._update_buttons()
        self.changed.emit()
        return card

    def _insert(self, index: int, message: Message) -> MessageCard:
        card = MessageCard(message, self)
        card.images.set_vision(self._vision)
        if self.prepare_editor is not None:
            self.prepare_editor(card.editor)
        card.changed.connect(self.changed)
        card.moveRequested.connect(self.move_card)
        card.removeRequested.connect(self.remove_card)
        self.cards.insert(index, card)
        self._cards_layout.insertWidget(index, card)
        card.show()  # at once: a layout shows a new child only on the next event-loop turn
        return card

    def move_card(self, card: MessageCard, delta: int) -> None:
        index = self.cards.index(card)
        to = index + delta
        if not 0 <= to < len(self.cards):
            return
        focused = card.focusWidget()
        self.cards.insert(to, self.cards.pop(index))
        self._cards_layout.removeWidget(card)
        self._cards_layout.insertWidget(to, card)
        self._update_buttons()
        if focused is not None:
            focused.setFocus(Qt.FocusReason.OtherFocusReason)
        self.changed.emit()

    def remove_card(self, card: MessageCard) -> None:
        self.aboutToRemove.emit()
        index = self.cards.index(card)
        message = card.message()
        self.cards.pop(index)
        self._cards_layout.removeWidget(card)
        card.deleteLater()
        self._update_buttons()
        if self.cards:
            self.cards[min(index, len(self.cards) - 1)].editor.setFocus()
        else:
            self.add_button.setFocus()
        self.changed.emit()
        self.removed.emit(index, message)

    def _update_buttons(self) -> None:
        last = len(self.cards) - 1
        for i, card in enumerate(self.cards):
            card.up.setEnabled(i > 0)
            card.down.setEnabled(i < last)
            card.setAccessibleName(f"Message {i + 1} of {last + 1}")
        self._fix_tab_order()

    def _fix_tab_order(self) -> None:
        """Tab goes through the messages in their shown order, then to Add message."""
        chain: list[QWidget] = []
        for card in self.cards:
            chain += [card.role, card.literal, card.images.button, card.editor, card.up,
                      card.down, card.remove, *[chip.remove for chip in card.images.chips]]
        chain.append(self.add_button)
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)
