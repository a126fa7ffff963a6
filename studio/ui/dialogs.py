"""Small non-modal dialogs of the browser: add a class, add a property.

Schema changes are additive (as Realm allows without a migration): a new class, or a
new property on a class. The dialogs build Realm's JSON schema form and hand it to
the browser, which applies it in a write transaction and reports errors back here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from studio.core.property_types import SCHEMA_TYPES
from studio.core.schema import INDEXABLE_TYPES, PRIMARY_KEY_TYPES, ObjectSchema


def _preferred_first(preferred: tuple[str, ...], names: tuple[str, ...]) -> tuple[str, ...]:
    return (*preferred, *(n for n in names if n not in preferred))


# Every type of the registry; the ones people pick most often first.
PRIMITIVES = _preferred_first(("string", "int", "double", "float", "bool", "date"), SCHEMA_TYPES)
PK_TYPES = _preferred_first(("objectId", "uuid", "string"),
                            tuple(n for n in SCHEMA_TYPES if n in PRIMARY_KEY_TYPES))
LINK = "link to object"
BACKLINKS = "linkingObjects (backlinks)"

Apply = Callable[[dict[str, Any]], str | None]  # returns an error text, or None when done


class _SchemaDialog(QDialog):
    def __init__(self, title: str, parent: QWidget | None, apply: Apply) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setModal(False)
        self._apply = apply
        self.layout_ = QVBoxLayout(self)
        self.form = QFormLayout()
        self.layout_.addLayout(self.form)
        self.error = QLabel(self)
        self.error.setObjectName("dialogError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("QLabel { color: #d32f2f; }")
        self.error.hide()
        self.layout_.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.try_accept)
        self.buttons.rejected.connect(self.reject)
        self.layout_.addWidget(self.buttons)

    # Subclasses define spec() -> dict, the schema entry the dialog's fields describe.
    # (Qt's metaclass rules out abc here, so the check is made when a subclass is defined.)
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not callable(getattr(cls, "spec", None)):
            raise TypeError(f"{cls.__name__} must define spec()")

    if TYPE_CHECKING:  # declared for mypy only: a runtime default would defeat the check above

        def spec(self) -> dict[str, Any]: ...

    def try_accept(self) -> None:
        try:
            spec = self.spec()
        except ValueError as exc:
            self._show_error(str(exc))
            return
        problem = self._apply(spec)
        if problem:
            self._show_error(problem)
            return
        self.accept()

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()


class AddClassDialog(_SchemaDialog):
    """A new class: its name, embedded or not, and its primary key."""

    def __init__(self, parent: QWidget | None, apply: Apply) -> None:
        super().__init__("Add class", parent, apply)
        self.setObjectName("addClassDialog")
        self.name = QLineEdit(self)
        self.name.setObjectName("className")
        self.name.setPlaceholderText("e.g. Person")
        self.embedded = QCheckBox("Embedded (objects live inside a parent object)", self)
        self.pk_name = QLineEdit("_id", self)
        self.pk_type = QComboBox(self)
        self.pk_type.addItems([*PK_TYPES, "(no primary key)"])
        self.form.addRow("Name", self.name)
        self.form.addRow("", self.embedded)
        self.form.addRow("Primary key", self.pk_name)
        self.form.addRow("Primary key type", self.pk_type)
        self.embedded.toggled.connect(self._embedded_toggled)

    def _embedded_toggled(self, embedded: bool) -> None:
        self.pk_name.setEnabled(not embedded)
        self.pk_type.setEnabled(not embedded)

    def spec(self) -> dict[str, Any]:
        name = self.name.text().strip()
        if not name:
            raise ValueError("give the class a name")
        if self.embedded.isChecked():
            return {"name": name, "embedded": True, "properties": {}}
        pk_type = self.pk_type.currentText()
        pk_name = self.pk_name.text().strip()
        if pk_type not in PK_TYPES:
            return {"name": name, "properties": {}}
        if not pk_name:
            raise ValueError("name the primary key, or choose (no primary key)")
        return {"name": name, "primaryKey": pk_name, "properties": {pk_name: pk_type}}


class AddPropertyDialog(_SchemaDialog):
    """A new property of ``schema``: a primitive, a link, a collection, or backlinks."""

    def __init__(self, parent: QWidget | None, schema: ObjectSchema,
                 classes: list[ObjectSchema], apply: Apply) -> None:
        super().__init__(f"Add property to {schema.name}", parent, apply)
        self.setObjectName("addPropertyDialog")
        self.schema = schema
        self.classes = {c.name: c for c in classes}
        self.name = QLineEdit(self)
        self.name.setObjectName("propertyName")
        self.type = QComboBox(self)
        self.type.setObjectName("propertyType")
        self.type.addItems([*PRIMITIVES, LINK, BACKLINKS])
        self.target = QComboBox(self)
        self.target.addItems(sorted(self.classes))
        self.origin = QComboBox(self)
        self.collection = QComboBox(self)
        self.collection.addItems(["single value", "list", "set", "dictionary"])
        self.optional = QCheckBox("Optional (may be null)", self)
        self.optional.setChecked(True)
        self.indexed = QCheckBox("Indexed (faster queries)", self)
        self.form.addRow("Name", self.name)
        self.form.addRow("Type", self.type)
        self.form.addRow("Target class", self.target)
        self.form.addRow("Origin property", self.origin)
        self.form.addRow("Kind", self.collection)
        self.form.addRow("", self.optional)
        self.form.addRow("", self.indexed)
        self.type.currentTextChanged.connect(self._update)
        self.target.currentTextChanged.connect(self._update)
        self.collection.currentTextChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        kind = self.type.currentText()
        link = kind in (LINK, BACKLINKS)
        self.target.setEnabled(link)
        self.origin.setEnabled(kind == BACKLINKS)
        self.collection.setEnabled(kind != BACKLINKS)
        if kind == BACKLINKS:
            self.origin.clear()
            target = self.classes.get(self.target.currentText())
            if target is not None:
                self.origin.addItems([
                    p.name for p in target.properties
                    if p.type == "object" and p.object_type == self.schema.name
                    and p.collection in (None, "list", "set")
                ])
        single = self.collection.currentText() == "single value"
        self.optional.setEnabled(kind not in (LINK, BACKLINKS, "mixed") or not single)
        self.indexed.setEnabled(single and kind in INDEXABLE_TYPES)

    def spec(self) -> dict[str, Any]:
        name = self.name.text().strip()
        if not name:
            raise ValueError("give the property a name")
        if self.schema.get(name) is not None:
            raise ValueError(f"{self.schema.name} already has a property {name!r}")
        kind = self.type.currentText()
        if kind == BACKLINKS:
            origin = self.origin.currentText()
            if not origin:
                raise ValueError(
                    f"{self.target.currentText()} has no link to {self.schema.name} to follow back"
                )
            prop: Any = {"type": "linkingObjects", "objectType": self.target.currentText(),
                         "property": origin}
        else:
            base = self.target.currentText() if kind == LINK else kind
            collection = self.collection.currentText()
            optional = self.optional.isChecked() and self.optional.isEnabled()
            suffix = {"list": "[]", "set": "<>", "dictionary": "{}"}.get(collection, "")
            if kind == LINK and not suffix:
                text = base + "?"
            else:
                text = base + ("?" if optional and kind != LINK else "") + suffix
            prop = {"type": text}
            if self.indexed.isChecked() and self.indexed.isEnabled():
                prop["indexed"] = True
        updated = self.schema.to_json()
        updated["properties"] = [*updated["properties"], {"name": name, **prop}]
        return updated

