"""One editor per property type, and the delegate that picks them.

bool cells are checkboxes (the model's CheckStateRole); numbers, objectIds, uuids and
decimals are line edits that refuse what does not parse; dates are a UTC date-time
editor shown in ISO 8601; mixed values get a type picker; links are typed as the
target's primary key, or picked from a list searching the target class's string
properties; data is loaded from and saved to files through the cell's menu.
Input that cannot be saved is said in place (a red frame, a tooltip and a message) and
the editor stays open with what was typed.
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
from PySide6.QtGui import QKeyEvent, QStandardItem, QStandardItemModel, QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
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
PICKER_LIMIT = 50  # link candidates listed at once: enough to choose, cheap to query
PICK_KEY_ROLE = Qt.ItemDataRole.UserRole + 1
INVALID_STYLE = "QLineEdit { border: 2px solid #d32f2f; }"
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

    rejected = Signal(str)  # Enter on text that cannot be saved: says why
    accepted = Signal()  # Enter on text that can be saved

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

    def problem(self) -> str:
        """Why the text cannot be saved ("" when it can)."""
        try:
            self.value()
        except ValueError as exc:
            return str(exc)
        return ""

    def check(self) -> str:
        """Show in place whether the text can be saved (red frame and tooltip) and
        return the problem ("" when none)."""
        problem = self.problem()
        self.setStyleSheet(INVALID_STYLE if problem else "")
        self.setToolTip(problem)
        return problem

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            problem = self.check()
            if problem:  # the validator would swallow Enter without a word
                self.rejected.emit(problem)
                event.accept()
                return
            super().keyPressEvent(event)
            # Handled here: passed on, Enter would reach the table once the editor is
            # closed, and follow the link just set.
            event.accept()
            self.accepted.emit()
            return
        if self.styleSheet():
            self.setStyleSheet("")  # typing again: the old verdict no longer holds
            self.setToolTip("")
        super().keyPressEvent(event)


class LinkEditor(TypedLineEdit):
    """A link typed as the target's primary key, or picked from a list of targets whose
    primary key or any string property contains the typed text. A key no object has is
    a problem shown in place: the text stays for correcting."""

    def __init__(self, realm: Any, target: Any, parent: QWidget | None = None) -> None:
        pk = target.get_property(target.primary_key)
        super().__init__(str(pk.type), True, parent)
        self.setObjectName("linkEditor")
        self.realm = realm
        self.target = target
        self.setPlaceholderText(f"{target.name} {target.primary_key}, or text to search")
        self.setValidator(None)  # type: ignore[arg-type]  # search text is any text
        self.candidates = QStandardItemModel(self)
        completer = QCompleter(self.candidates, self)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        completer.setCompletionRole(PICK_KEY_ROLE)  # picking puts the key into the editor
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setCompleter(completer)
        self.textEdited.connect(self.search)

    def search(self, text: str) -> list[str]:
        """Fill the picker with the targets matching ``text``; returns their keys' text."""
        self.candidates.clear()
        text = text.strip()
        if not text:
            return []
        strings = [p.name for p in self.target.properties
                   if p.type == "string" and p.collection is None]
        terms = [f"{name} CONTAINS[c] $0" for name in strings]
        found: list[Any] = []
        try:
            if terms:
                # page(): the first matches only, not every key of the results
                found = self.realm.objects(self.target.name).filtered(
                    " OR ".join(terms), text).page(0, PICKER_LIMIT)
            exact = self.realm.object_for_primary_key(
                self.target.name, fmt.parse_value(self.type_name, text, False))
        except (ValueError, LookupError):
            exact = None
        if exact is not None and all(fmt.object_key(o) != fmt.object_key(exact) for o in found):
            found.insert(0, exact)
        keys: list[str] = []
        for obj in found:
            key = fmt.edit_text(obj[self.target.primary_key])
            words = [fmt.scalar_text(obj[name]) for name in strings
                     if name != self.target.primary_key and obj[name]]
            item = QStandardItem(" — ".join([key, *words[:2]]))
            item.setData(key, PICK_KEY_ROLE)
            self.candidates.appendRow(item)
            keys.append(key)
        completer = self.completer()
        if keys and self.hasFocus():
            completer.complete()
        return keys

    def key(self) -> Any:
        """The typed text as a primary key (raises ValueError when it is not one)."""
        return super().value()

    def value(self) -> Any:
        key = self.key()
        if key is None:
            return None
        found = self.realm.object_for_primary_key(self.target.name, key)
        if found is None:
            raise ValueError(f"no {self.target.name} has the {self.target.primary_key} "
                             f"{fmt.scalar_text(key)}: type an existing one, or text to "
                             "search and pick from the list")
        return found

    def set_value(self, value: Any) -> None:
        if fmt.is_object(value):
            value = value[self.target.primary_key]
        super().set_value(value)


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
            realm, target = self._target(index)
            if target is None or target.primary_key is None:
                return None
            link = LinkEditor(realm, target, parent)
            link.rejected.connect(self.invalidInput)
            # The picker hands Enter straight to the editor, past this delegate's filter.
            link.accepted.connect(lambda: self._commit(link))
            return link
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
        line = TypedLineEdit(prop.type, prop.optional, parent)
        line.rejected.connect(self.invalidInput)
        return line

    def eventFilter(self, editor: Any, event: QEvent) -> bool:
        # Qt commits on Enter whatever the validator accepts: a link key no object has
        # would close the editor and lose the text. Say it in place and keep editing.
        if (
            isinstance(editor, TypedLineEdit)
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        ):
            popup = editor.completer().popup() if editor.completer() else None
            if popup is not None and popup.isVisible():
                return False  # Enter picks from the list first
            problem = editor.check()
            if problem:
                editor.rejected.emit(problem)
                return True
            if isinstance(editor, LinkEditor):
                self._commit(editor)
                return True
        return bool(super().eventFilter(editor, event))

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
