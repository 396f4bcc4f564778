"""Few-shot examples as an editable table, with how many are sent, their order and format."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.core.models import Example, FewShot
from workbench.core.techniques import ExampleUse
from workbench.ui.qt_models.examples_model import ExamplesModel
from workbench.ui.theming import monospace_font
from workbench.ui.widgets.code_editor import CodeEditor

K_TOOLTIP = (
    "How many examples go into the prompt (All: every one). One example is one-shot, a few are "
    "few-shot: in-context learning that calibrates the answer's format and behaviour."
)
ORDER_TOOLTIP = (
    "Fixed keeps the table's order. Shuffle mixes them with the seed, to check that the answer "
    "does not depend on the order of the examples."
)
SEED_TOOLTIP = "The shuffle's seed: the same seed gives the same order, so runs are reproducible."
FORMAT_TOOLTIP = (
    "How each example is written into the prompt, in Jinja: {{ input }}, {{ output }} and "
    "{{ rationale }}. The messages place the examples with {{ examples_block }}."
)
TABLE_TOOLTIP = (
    "Examples of the behaviour you want: input → output, with optional worked reasoning. "
    "Double-click or press F2 to edit a cell; Enter adds a line, Tab moves on."
)


def summary(use: ExampleUse, few_shot: FewShot) -> str:
    """What the folded section says: how many examples are *sent*, not merely kept: "3 of 5
    sent · shuffled, seed 42", or "none of 3 sent" when no message places them."""
    if use.total == 0:
        return "none: add examples to show the model what you want"
    if not use.placed:
        return f"none of {use.total} sent: no message has {{{{ examples_block }}}}"
    text = f"{use.sent} of {use.total} sent"
    if use.token_budget is not None:
        text = f"up to {text}, within {use.token_budget} tokens"
    if few_shot.order == "shuffle":
        text += f" · shuffled, seed {few_shot.seed}"
    return text


class _MultilineDelegate(QStyledItemDelegate):
    """Edits a cell in a plain-text editor (examples often span lines)."""

    def createEditor(
        self,
        parent: QWidget,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> QWidget:
        editor = QPlainTextEdit(parent)
        editor.setFont(monospace_font())
        editor.setTabChangesFocus(True)
        editor.setAccessibleName("Edit example cell")
        return editor

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        assert isinstance(editor, QPlainTextEdit)
        editor.setPlainText(str(index.data(Qt.ItemDataRole.EditRole) or ""))

    def setModelData(
        self,
        editor: QWidget,
        model: QAbstractItemModel,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        assert isinstance(editor, QPlainTextEdit)
        model.setData(index, editor.toPlainText(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(
        self,
        editor: QWidget,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        rect = option.rect
        rect.setHeight(max(rect.height(), editor.fontMetrics().lineSpacing() * 4 + 8))
        editor.setGeometry(rect)


class FewShotEditor(QWidget):
    """The examples table and the few-shot settings (k, order, seed, example format)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._few_shot = FewShot()
        self.model = ExamplesModel(parent=self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setItemDelegate(_MultilineDelegate(self.table))
        self.table.setFont(monospace_font())
        self.table.setWordWrap(True)
        self.table.setToolTip(TABLE_TOOLTIP)
        self.table.setAccessibleName("Few-shot examples")
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setFont(self.font())
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setFont(self.font())
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.verticalHeader().sectionResized.connect(self._fit_table)

        self.add_button = QPushButton("Add example", self)
        self.add_button.setToolTip("Add an empty example at the end and start typing its input.")
        self.add_button.setAccessibleName("Add example")
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip("Remove the selected examples.")
        self.remove_button.setAccessibleName("Remove selected examples")
        self.up_button = QPushButton("Move up", self)
        self.up_button.setAccessibleName("Move example up")
        self.up_button.setToolTip(
            "Move the current example one place up. With a fixed order and fewer examples used "
            "than written, the first ones are the ones used."
        )
        self.down_button = QPushButton("Move down", self)
        self.down_button.setAccessibleName("Move example down")
        self.down_button.setToolTip("Move the current example one place down.")

        self.k = QSpinBox(self)
        self.k.setRange(-1, 999)
        self.k.setSpecialValueText("All")  # the minimum, -1, stands for "every example"
        self.k.setToolTip(K_TOOLTIP)
        self.k.setAccessibleName("Examples used")
        self.k.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.order = QComboBox(self)
        self.order.addItem("Fixed", "fixed")
        self.order.addItem("Shuffle", "shuffle")
        self.order.setToolTip(ORDER_TOOLTIP)
        self.order.setAccessibleName("Example order")
        self.seed = QSpinBox(self)
        self.seed.setRange(-(2**31), 2**31 - 1)
        self.seed.setToolTip(SEED_TOOLTIP)
        self.seed.setAccessibleName("Shuffle seed")
        self.seed.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.format = CodeEditor(self, min_lines=2, max_lines=6, line_numbers=False)
        self.format.setToolTip(FORMAT_TOOLTIP)
        self.format.setAccessibleName("Example format")

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addSpacing(8)
        buttons.addWidget(self.up_button)
        buttons.addWidget(self.down_button)
        buttons.addStretch(1)
        settings = QHBoxLayout()
        settings.setSpacing(8)
        for label, widget in (("Use", self.k), ("Order", self.order), ("Seed", self.seed)):
            caption = QLabel(label, self)
            caption.setBuddy(widget)
            caption.setToolTip(widget.toolTip())
            settings.addWidget(caption)
            settings.addWidget(widget)
        settings.addStretch(1)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setSpacing(4)
        format_label = QLabel("Format", self)
        format_label.setBuddy(self.format)
        format_label.setToolTip(FORMAT_TOOLTIP)
        form.addRow(format_label, self.format)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addLayout(settings)
        layout.addLayout(form)

        self.add_button.clicked.connect(self.add_example)
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_current(-1))
        self.down_button.clicked.connect(lambda: self.move_current(1))
        for signal in (
            self.model.dataChanged, self.model.rowsInserted, self.model.rowsRemoved,
            self.model.rowsMoved, self.model.modelReset,
        ):
            signal.connect(self._emit_changed)
        self.model.rowsInserted.connect(self._fit_table)
        self.model.rowsRemoved.connect(self._fit_table)
        self.model.modelReset.connect(self._fit_table)
        self.k.valueChanged.connect(self._emit_changed)
        self.order.currentIndexChanged.connect(self._order_changed)
        self.seed.valueChanged.connect(self._emit_changed)
        self.format.textChanged.connect(self._emit_changed)
        self._loading = False
        self._order_changed(notify=False)

    # --- the values -----------------------------------------------------------------------

    def set_values(self, examples: list[Example], few_shot: FewShot) -> None:
        self._loading = True
        try:
            self._few_shot = few_shot
            self.model.set_examples(examples)
            self.k.setValue(-1 if few_shot.k is None else few_shot.k)
            self.order.setCurrentIndex(self.order.findData(few_shot.order))
            self.seed.setValue(few_shot.seed)
            self.format.setPlainText(few_shot.example_format)
        finally:
            self._loading = False
        self._order_changed(notify=False)

    def examples(self) -> list[Example]:
        return self.model.examples()

    def few_shot(self) -> FewShot:
        """The settings shown, with the ones this editor does not show kept as loaded."""
        return self._few_shot.model_copy(
            update={
                "k": None if self.k.value() < 0 else self.k.value(),
                "order": self.order.currentData(),
                "seed": self.seed.value(),
                "example_format": self.format.toPlainText(),
            }
        )

    # --- actions --------------------------------------------------------------------------

    def add_example(self) -> None:
        row = self.model.append()
        index = self.model.index(row, 0)
        self.table.setCurrentIndex(index)
        self.table.setFocus()
        self.table.edit(index)

    def remove_selected(self) -> None:
        selected = self.table.selectionModel().selectedIndexes()
        rows = sorted({i.row() for i in selected}, reverse=True)
        if not rows and self.table.currentIndex().isValid():
            rows = [self.table.currentIndex().row()]
        for row in rows:
            self.model.removeRows(row, 1)

    def move_current(self, delta: int) -> None:
        """Move the current example ``delta`` places, keeping it current."""
        index = self.table.currentIndex()
        if not index.isValid():
            return
        to = index.row() + delta
        if self.model.move(index.row(), to):
            self.table.setCurrentIndex(self.model.index(to, index.column()))

    def _fit_table(self, *_args: object) -> None:
        """As tall as its rows (at least two, at most ~10 lines), so the section does not
        scroll inside the editor's own scrolling."""
        line = self.table.verticalHeader().defaultSectionSize()
        rows = self.table.verticalHeader().length()
        body = min(max(rows, 2 * line), 10 * line)
        frame = 2 * self.table.frameWidth()
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + body + frame)

    def _order_changed(self, _index: int = 0, *, notify: bool = True) -> None:
        self.seed.setEnabled(self.order.currentData() == "shuffle")
        if notify:
            self._emit_changed()

    def _emit_changed(self, *_args: object) -> None:
        if not self._loading:
            self.changed.emit()
