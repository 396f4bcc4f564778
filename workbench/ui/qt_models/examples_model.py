"""The few-shot examples of a template as an editable Qt table (input, output, rationale).

The rows are ``Example`` values (immutable pydantic models); an edit replaces the row's example,
so ``examples()`` can be handed to the template without copying.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from workbench.core.models import Example

Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("input", "output", "rationale")
HEADERS = ("Input", "Output", "Rationale")
TOOLTIPS = (
    "What the example gives the model: a question, a text, a data record.",
    "The answer you want for that input, written exactly as the model should answer.",
    "Optional worked reasoning that leads to the output; chain-of-thought techniques show it "
    "so the model reasons the same way.",
)


class ExamplesModel(QAbstractTableModel):
    """Rows of ``Example``; every cell is editable text."""

    def __init__(self, examples: list[Example] | None = None, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self._rows: list[Example] = list(examples or [])

    # --- the data -----------------------------------------------------------------------

    def examples(self) -> list[Example]:
        return list(self._rows)

    def set_examples(self, examples: list[Example]) -> None:
        self.beginResetModel()
        self._rows = list(examples)
        self.endResetModel()

    def append(self, example: Example | None = None) -> int:
        """Add a row (empty unless given) at the end; returns its row number."""
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(example or Example(input="", output=""))
        self.endInsertRows()
        return row

    def move(self, row: int, to: int) -> bool:
        """Move one row to position ``to`` (0 ≤ to < rowCount)."""
        if not (0 <= row < len(self._rows) and 0 <= to < len(self._rows)) or row == to:
            return False
        # Qt's destination is the row the item goes *before*, in the old numbering.
        destination = to + 1 if to > row else to
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), destination)
        self._rows.insert(to, self._rows.pop(row))
        self.endMoveRows()
        return True

    # --- QAbstractTableModel ------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        value = getattr(self._rows[index.row()], COLUMNS[index.column()])
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return value
        if role == Qt.ItemDataRole.ToolTipRole:
            return value or TOOLTIPS[index.column()]
        return None

    def setData(
        self, index: Index, value: object, role: int = Qt.ItemDataRole.EditRole
    ) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        text = "" if value is None else str(value)
        row = self._rows[index.row()]
        field = COLUMNS[index.column()]
        if getattr(row, field) == text:
            return False
        self._rows[index.row()] = row.model_copy(update={field: text})
        self.dataChanged.emit(index, index, [role, Qt.ItemDataRole.DisplayRole])
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable
        )

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return TOOLTIPS[section]
        elif role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    def removeRows(self, row: int, count: int, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or count < 1 or row < 0 or row + count > len(self._rows):
            return False
        self.beginRemoveRows(QModelIndex(), row, row + count - 1)
        del self._rows[row : row + count]
        self.endRemoveRows()
        return True
