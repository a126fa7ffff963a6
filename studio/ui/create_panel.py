"""The side panel that creates objects: one typed field per property, never modal.

The same panel also asks for the primary key of an object to add to a list or set
of links. Fields check their input as it is typed; "Create" (or Ctrl+Enter) submits,
Esc closes. Errors from the realm (a duplicate primary key...) show in the panel.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core.schema import ObjectSchema, Property
from studio.primitives.objectid import ObjectId
from studio.ui.delegates import DateTimeEditor, MixedEditor, TypedLineEdit

_DEFAULTS: dict[str, Callable[[], Any]] = {
    "bool": lambda: False,
    "int": lambda: 0,
    "float": lambda: 0.0,
    "double": lambda: 0.0,
    "string": lambda: "",
    "date": lambda: datetime.now(UTC).replace(microsecond=0),
    "objectId": ObjectId,
    "uuid": uuid.uuid4,
    "decimal128": lambda: Decimal(0),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the form: a property name, the type typed in, and whether it may be
    left empty. ``link_to`` names the class whose primary key the field holds."""

    name: str
    type_name: str
    optional: bool = False
    default: Any = None
    link_to: str | None = None
    note: str = ""


def default_value(type_name: str) -> Any:
    make = _DEFAULTS.get(type_name)
    return make() if make is not None else None


def fields_for_class(schema: ObjectSchema, classes: dict[str, ObjectSchema]) -> list[FieldSpec]:
    """The fields of a new object: primitives, mixed, and links to classes with a primary
    key (typed as that key). Collections, embedded objects and backlinks are filled in
    the table afterwards."""
    fields: list[FieldSpec] = []
    for prop in schema.properties:
        field = field_for_property(prop, classes)
        if field is not None:
            fields.append(field)
    return fields


def field_for_property(prop: Property, classes: dict[str, ObjectSchema]) -> FieldSpec | None:
    if prop.is_backlink or prop.collection is not None or prop.type == "data":
        return None
    if prop.type == "object":
        target = classes.get(prop.object_type or "")
        if target is None or target.embedded or target.primary_key is None:
            return None
        pk = target.get_property(target.primary_key)
        return FieldSpec(prop.name, pk.type, True, None, target.name,
                         f"primary key of a {target.name}")
    default = None if prop.optional else default_value(prop.type)
    if prop.is_primary_key and prop.type in ("objectId", "uuid"):
        default = default_value(prop.type)  # a fresh id: what people want almost always
    return FieldSpec(prop.name, prop.type, prop.optional and not prop.is_primary_key, default)


class CreatePanel(QWidget):
    """A form built from :class:`FieldSpec` s; ``submit(values) -> bool`` does the work."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("createPanel")
        outer = QVBoxLayout(self)
        self.title = QLabel(self)
        self.title.setObjectName("createTitle")
        self.title.setStyleSheet("QLabel { font-weight: bold; font-size: 14px; }")
        outer.addWidget(self.title)
        self.scroll_area = QScrollArea(self)  # not "scroll": that is QWidget.scroll()
        self.scroll_area.setWidgetResizable(True)
        outer.addWidget(self.scroll_area, 1)
        self.error = QLabel(self)
        self.error.setObjectName("createError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("QLabel { color: #d32f2f; }")
        self.error.hide()
        outer.addWidget(self.error)
        buttons = QHBoxLayout()
        self.submit_button = QPushButton("Create", self)
        self.submit_button.setObjectName("createSubmit")
        self.submit_button.setDefault(True)
        self.submit_button.setToolTip("Ctrl+Enter")
        self.cancel_button = QPushButton("Close", self)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.submit_button)
        outer.addLayout(buttons)
        self.submit_button.clicked.connect(self.submit)
        self.cancel_button.clicked.connect(self.close_panel)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.submit,
                      context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence("Esc"), self, self.close_panel,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.fields: list[FieldSpec] = []
        self.editors: dict[str, QWidget] = {}
        self._on_submit: Callable[[dict[str, Any]], bool] | None = None

    def open_form(self, title: str, fields: list[FieldSpec],
                  on_submit: Callable[[dict[str, Any]], bool], submit_label: str = "Create"
                  ) -> None:
        self.title.setText(title)
        self.submit_button.setText(submit_label)
        self.fields = fields
        self._on_submit = on_submit
        self.editors = {}
        form_widget = QWidget()
        form = QFormLayout(form_widget)
        for field in fields:
            editor = self._editor(field)
            editor.setObjectName(f"field_{field.name}")
            self.editors[field.name] = editor
            label = field.name + ("" if field.optional or field.type_name == "bool" else " *")
            hint = field.note or field.type_name + ("?" if field.optional else "")
            editor.setToolTip(hint)
            form.addRow(QLabel(f"{label}  <span style='color:gray'>{hint}</span>"), editor)
        self.scroll_area.setWidget(form_widget)
        self.error.hide()
        self.show()
        first = next(iter(self.editors.values()), None)
        if first is not None:
            first.setFocus()

    def _editor(self, field: FieldSpec) -> QWidget:
        if field.type_name == "bool":
            box = QCheckBox(self)
            box.setChecked(bool(field.default))
            return box
        if field.type_name == "date" and not field.optional:
            date = DateTimeEditor(self)
            date.set_value(field.default)
            return date
        if field.type_name == "mixed":
            mixed = MixedEditor(self)
            mixed.set_value(field.default)
            return mixed
        line = TypedLineEdit(field.type_name, field.optional, self)
        if field.default is not None:
            line.set_value(field.default)
        line.returnPressed.connect(self.submit)
        return line

    def set_text(self, name: str, text: str) -> None:
        """Type into a field (tests and scripted use)."""
        editor = self.editors[name]
        if isinstance(editor, TypedLineEdit):
            editor.setText(text)
        elif isinstance(editor, QCheckBox):
            editor.setChecked(text.lower() in ("true", "1", "yes"))
        elif isinstance(editor, MixedEditor):
            editor.line.setText(text)
        else:
            raise TypeError(f"field {name} is not typed as text")

    def values(self) -> dict[str, Any]:
        """The parsed values; raises ValueError naming the field that is wrong."""
        out: dict[str, Any] = {}
        for field in self.fields:
            editor = self.editors[field.name]
            try:
                if isinstance(editor, QCheckBox):
                    out[field.name] = editor.isChecked()
                else:  # the other editors _editor() makes all have value()
                    out[field.name] = editor.value()  # type: ignore[attr-defined]
            except ValueError as exc:
                raise ValueError(f"{field.name}: {exc}") from None
        return out

    def submit(self) -> None:
        if self._on_submit is None or self.isHidden():
            return
        try:
            values = self.values()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self.error.hide()
        if self._on_submit(values):
            self.close_panel()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def close_panel(self) -> None:
        self.hide()
        self._on_submit = None
        self.closed.emit()
