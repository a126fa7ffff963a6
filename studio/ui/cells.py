"""What a cell of the object table is: the roles it answers, how it behaves (its kind),
and reading its data safely. Shared by the model, the delegates and the actions.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from studio.ui import formatting as fmt
from studio.ui.sources import Column

ModelIndex = QModelIndex | QPersistentModelIndex

# Custom roles: what delegates, actions and tests ask the model for.
ValueRole = Qt.ItemDataRole.UserRole + 1  # the Python value of the cell
PropertyRole = Qt.ItemDataRole.UserRole + 2  # the cell's Property (None for a key column)
RowObjectRole = Qt.ItemDataRole.UserRole + 3  # the row's object (or Element)
KindRole = Qt.ItemDataRole.UserRole + 4  # "value" | "link" | "collection" | "backlinks" | ...
TypeRole = Qt.ItemDataRole.UserRole + 5  # the value's type name (mixed: the current type)


def model_index(index: ModelIndex) -> QModelIndex:
    """A QModelIndex copy of ``index``, which may be a QPersistentModelIndex."""
    # PySide6 converts a QPersistentModelIndex with C++'s implicit conversion, but its
    # stubs list only QModelIndex's copy constructor.
    return QModelIndex(index)  # type: ignore[arg-type]


def cell_data(index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
    """``index.data(role)``, asked of the Python model directly.

    PySide6 6.12's ``QModelIndex.data()`` drops a reference to ``None`` each time a
    Python model returns None, and enough calls crash the interpreter ("deallocating
    None"); calling the model's own ``data`` method avoids the conversion.
    """
    model = index.model()
    if model is None or not index.isValid():
        return None
    return model.data(model_index(index), role)


# Editors that change how a cell behaves: toggled, opened through files, typed by type.
_CELL_KINDS = {"checkbox": "bool", "file": "data", "mixed": "mixed"}


def cell_kind(column: Column) -> str:
    """How a column's cells behave: shown as text, followed as links, opened, toggled."""
    prop = column.prop
    if prop is None:
        return "key"
    if prop.is_backlink:
        return "backlinks"
    if column.kind == "property" and prop.collection is not None:
        return "collection"
    if prop.type == "object":
        return "link"
    editor = fmt.EDITORS.get(prop.type)
    return _CELL_KINDS.get(editor.kind, "value") if editor is not None else "value"
