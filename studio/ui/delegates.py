"""One editor per property type, and the delegate that picks them.

bool cells are checkboxes (the model's CheckStateRole); numbers, objectIds, uuids and
decimals are line edits that refuse what does not parse; dates are a UTC date-time
editor shown in ISO 8601; mixed values get a type picker; links are typed as the
target's primary key; data is loaded from and saved to files through the cell's menu.
A click on a link, collection or backlinks cell follows it (``linkActivated``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QDate,
    QDateTime,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTime,
    QTimeZone,
    Signal,
)
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from studio.core.property_types import PROPERTY_TYPES
from studio.ui import formatting as fmt
from studio.ui.cells import KindRole, PropertyRole, ValueRole, cell_data, model_index

ModelIndex = QModelIndex | QPersistentModelIndex
ISO_FORMAT = "yyyy-MM-ddTHH:mm:ss.zzz'Z'"
FOLLOWABLE = frozenset({"link", "collection", "backlinks"})


class TypeValidator(QValidator):
    """Accepts only text that parses as the type; anything else stays "intermediate", so
    Enter cannot commit it."""

    def __init__(self, type_name: str, optional: bool, parent: Any = None) -> None:
        super().__init__(parent)
        self.type_name = type_name
        self.optional = optional

    def validate(self, text: str, pos: int) -> Any:
        if fmt.is_valid(self.type_name, text, self.optional):
            return QValidator.State.Acceptable
        return QValidator.State.Intermediate


class TypedLineEdit(QLineEdit):
    """A line edit for one primitive type; :meth:`value` returns the parsed value."""

    def __init__(self, type_name: str, optional: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.type_name = type_name
        self.optional = optional
        if type_name != "string":
            self.setValidator(TypeValidator(type_name, optional, self))
        value_type = PROPERTY_TYPES.get(type_name)
        hint = value_type.hint if value_type is not None else ""
        if optional and type_name != "string":
            hint += " (empty: null)"
        self.setPlaceholderText(hint)

    def set_value(self, value: Any) -> None:
        self.setText(fmt.edit_text(value))
        self.selectAll()

    def value(self) -> Any:
        return fmt.parse_value(self.type_name, self.text(), self.optional)


def to_qdatetime(value: datetime) -> QDateTime:
    millis = int(value.astimezone(UTC).timestamp() * 1000) if value.tzinfo else int(
        value.replace(tzinfo=UTC).timestamp() * 1000)
    return QDateTime.fromMSecsSinceEpoch(millis, QTimeZone.utc())


def from_qdatetime(value: QDateTime) -> datetime:
    return datetime.fromtimestamp(value.toMSecsSinceEpoch() / 1000, tz=UTC)


class DateTimeEditor(QDateTimeEdit):
    """A UTC date-time editor showing ISO 8601; keeps microseconds it was not asked to
    change (QDateTime has milliseconds only)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTimeZone(QTimeZone.utc())
        # Qt's default minimum is 1752-09-14, which would silently move an earlier date
        # there when the editor commits; year 100 is as early as QDateTimeEdit goes.
        self.setMinimumDateTime(QDateTime(QDate(100, 1, 1), QTime(0, 0), QTimeZone.utc()))
        self.setDisplayFormat(ISO_FORMAT)
        self.setCalendarPopup(True)
        self._original: datetime | None = None

    def set_value(self, value: datetime | None) -> None:
        self._original = value
        if value is None:
            value = datetime.now(UTC).replace(microsecond=0)
        self.setDateTime(to_qdatetime(value))

    def value(self) -> datetime:
        current = from_qdatetime(self.dateTime())
        original = self._original
        if original is not None and abs((current - original).total_seconds()) < 0.001:
            return original
        return current


class MixedEditor(QWidget):
    """A mixed value: pick its type, then type the value (links are kept, not typed)."""

    committed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.type_box = QComboBox(self)
        self.type_box.setObjectName("mixedType")
        self.type_box.addItems(list(fmt.MIXED_TYPES))
        self.line = TypedLineEdit("string", False, self)
        layout.addWidget(self.type_box)
        layout.addWidget(self.line, 1)
        self.setFocusProxy(self.line)
        self._link: Any = None
        self.type_box.currentTextChanged.connect(self._type_changed)
        self.line.returnPressed.connect(self.committed)

    def _type_changed(self, type_name: str) -> None:
        if type_name == "object":
            return
        self._link = None
        self.line.type_name = type_name
        # None removes the validator (Qt takes a null pointer); PySide6's stubs omit None.
        self.line.setValidator(
            TypeValidator(type_name, False, self.line) if type_name not in ("string", "null")
            else None  # type: ignore[arg-type]
        )
        self.line.setEnabled(type_name != "null")
        if type_name == "null":
            self.line.clear()

    def set_value(self, value: Any) -> None:
        type_name = fmt.mixed_type_of(value)
        if type_name == "object":
            if self.type_box.findText("object") < 0:
                self.type_box.addItem("object")
            self._link = value
            self.type_box.setCurrentText("object")
            self.line.setText(fmt.scalar_text(value))
            self.line.setEnabled(False)
            return
        self.type_box.setCurrentText(type_name)
        self._type_changed(type_name)
        self.line.set_value(value)

    def value(self) -> Any:
        type_name = self.type_box.currentText()
        if type_name == "object":
            return self._link
        return fmt.parse_value(type_name, self.line.text(), False)


class ValueDelegate(QStyledItemDelegate):
    """Creates the editor that fits each cell's type and follows links on click."""

    linkActivated = Signal(QModelIndex)
    invalidInput = Signal(str)

    # None means "no editor" (Qt's null pointer), which PySide6's stubs do not allow for.
    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,  # type: ignore[override]
                     index: ModelIndex) -> QWidget | None:
        prop = cell_data(index, PropertyRole)
        kind = cell_data(index, KindRole)
        if kind in ("collection", "backlinks", "data", "bool"):
            return None
        if kind == "key" or prop is None:
            return TypedLineEdit("string", False, parent)
        if prop.type == "object":
            pk_type = self._target_pk_type(index)
            return TypedLineEdit(pk_type or "string", True, parent) if pk_type else None
        editor_kind = fmt.EDITORS[prop.type].kind if prop.type in fmt.EDITORS else "line"
        if editor_kind == "mixed":
            editor = MixedEditor(parent)
            editor.committed.connect(lambda: self._commit(editor))
            return editor
        if editor_kind == "datetime":
            return DateTimeEditor(parent)
        if prop.type == "string":
            value = cell_data(index, ValueRole)
            if isinstance(value, str) and "\n" in value:
                return QPlainTextEdit(parent)  # a line edit would flatten the lines
        return TypedLineEdit(prop.type, prop.optional, parent)

    def _commit(self, editor: QWidget) -> None:
        self.commitData.emit(editor)
        self.closeEditor.emit(editor, QStyledItemDelegate.EndEditHint.NoHint)

    @staticmethod
    def _target(index: ModelIndex) -> Any:
        model = index.model()
        prop = cell_data(index, PropertyRole)
        source = getattr(model, "source", None)
        realm = getattr(source, "realm", None)
        if realm is None or prop is None:
            return None, None
        target = next((s for s in realm.schema if s.name == prop.object_type), None)
        return realm, target

    def _target_pk_type(self, index: ModelIndex) -> str | None:
        _realm, target = self._target(index)
        if target is None or target.primary_key is None:
            return None
        return str(target.get_property(target.primary_key).type)

    def setEditorData(self, editor: QWidget, index: ModelIndex) -> None:
        value = cell_data(index, ValueRole)
        if isinstance(editor, QPlainTextEdit):
            editor.setPlainText(value or "")
        elif hasattr(editor, "set_value"):
            editor.set_value(value)
        else:
            super().setEditorData(editor, index)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel,
                     index: ModelIndex) -> None:
        try:
            if isinstance(editor, QPlainTextEdit):
                value: Any = editor.toPlainText()
            else:  # the other editors createEditor() makes all have value()
                value = editor.value()  # type: ignore[attr-defined]
        except ValueError as exc:
            self.invalidInput.emit(str(exc))
            return
        prop = cell_data(index, PropertyRole)
        kind = cell_data(index, KindRole)
        is_link = prop is not None and prop.type == "object" and kind == "link"
        if is_link and value is not None:
            realm, target = self._target(index)
            found = realm.object_for_primary_key(target.name, value) if target else None
            if found is None:
                self.invalidInput.emit(
                    f"no {prop.object_type} has the primary key {fmt.scalar_text(value)}"
                )
                return
            value = found
        old = cell_data(index, ValueRole)
        if value == old and type(value) is type(old):
            return  # unchanged: no write, no undo step
        model.setData(index, value, Qt.ItemDataRole.EditRole)

    def editorEvent(self, event: QEvent, model: QAbstractItemModel,
                    option: QStyleOptionViewItem, index: ModelIndex) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and getattr(event, "button", lambda: None)() == Qt.MouseButton.LeftButton
            and is_followable(index)
        ):
            self.linkActivated.emit(model_index(index))
            return True
        return super().editorEvent(event, model, option, index)


def is_followable(index: ModelIndex) -> bool:
    """A link with a target, a collection, backlinks, or a mixed value holding a link."""
    kind = cell_data(index, KindRole)
    if kind in ("collection", "backlinks"):
        return True
    if kind in ("link", "mixed"):
        return fmt.is_object(cell_data(index, ValueRole))
    return False
