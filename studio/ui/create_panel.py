"""The side panel that creates objects: one typed field per property, never modal.

Links take the target's primary key (completed from the target class), lists, sets
and dictionaries one element per line, embedded objects a group of their own fields
(see :mod:`studio.ui.create_fields`). The same panel also asks for the primary key of
an object to add to a list or set of links. Fields check their input as it is typed;
"Create" (or Ctrl+Enter) submits, Esc closes. Errors from the realm (a duplicate
primary key...) show in the panel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core.schema import ObjectSchema, Property
from studio.ui import formatting as fmt
from studio.ui.create_fields import (
    EMBEDDED,
    LINK,
    FieldSpec,
    LinkChoices,
    add_rows,
    editor_value,
    set_editor_text,
)
from studio.ui.delegates import TypedLineEdit

__all__ = ["CreatePanel", "FieldSpec", "default_value", "field_for_property",
           "fields_for_class"]

PANEL_MIN_WIDTH = 320  # a field shows ~30 characters: what a value needs to be read


def default_value(type_name: str) -> Any:
    """What a new object's field of this type starts with (see :data:`fmt.EDITORS`)."""
    editor = fmt.EDITORS.get(type_name)
    return editor.new_value() if editor is not None else None


def fields_for_class(schema: ObjectSchema, classes: dict[str, ObjectSchema],
                     _seen: frozenset[str] = frozenset()) -> list[FieldSpec]:
    """The fields of a new object: primitives, mixed, links to classes with a primary key
    (typed as that key), lists, sets and dictionaries of those, and embedded objects (a
    group of their own fields). Backlinks are computed, files are set in the table, and
    collections of embedded objects are filled in the table afterwards."""
    fields: list[FieldSpec] = []
    for prop in schema.properties:
        field = field_for_property(prop, classes, _seen | {schema.name})
        if field is not None:
            fields.append(field)
    return fields


def field_for_property(prop: Property, classes: dict[str, ObjectSchema],
                       _seen: frozenset[str] = frozenset()) -> FieldSpec | None:
    editor = fmt.EDITORS.get(prop.type)
    if prop.is_backlink or (editor and editor.kind == "file"):
        return None
    collection = prop.collection
    if prop.type == "object":
        target = classes.get(prop.object_type or "")
        if target is None:
            return None
        if target.embedded:
            if collection is not None or target.name in _seen:  # (a cycle: in the table)
                return None
            return FieldSpec(prop.name, "object", True, None, target.name,
                             f"embedded {target.name}", EMBEDDED,
                             tuple(fields_for_class(target, classes, _seen)))
        if target.primary_key is None:
            return None
        pk = target.get_property(target.primary_key)
        if collection is not None:
            return FieldSpec(prop.name, pk.type, True, None, target.name,
                             f"{collection} of {target.name} (primary keys)", collection)
        return FieldSpec(prop.name, pk.type, True, None, target.name,
                         f"primary key of a {target.name}", LINK)
    if collection is not None:
        if editor is None or prop.type == "mixed":  # mixed elements: in the table
            return None
        element = prop.type + ("?" if prop.optional else "")
        return FieldSpec(prop.name, prop.type, prop.optional, None, None,
                         f"{collection} of {element}", collection)
    default = None if prop.optional else default_value(prop.type)
    if prop.is_primary_key and prop.type in ("objectId", "uuid"):
        default = default_value(prop.type)  # a fresh id: what people want almost always
    return FieldSpec(prop.name, prop.type, prop.optional and not prop.is_primary_key, default)


def _field_path(editor: QWidget, form: QWidget) -> str:
    """The dotted field name of an editor (``address.city``), from its object name or
    that of the field it is part of (a mixed value's line)."""
    widget: QWidget | None = editor
    while widget is not None and widget is not form:
        name = widget.objectName()
        if name.startswith("field_"):
            return name.removeprefix("field_")
        widget = widget.parentWidget()
    return "value"


class CreatePanel(QWidget):
    """A form built from :class:`FieldSpec` s; ``submit(values) -> bool`` does the work."""

    closed = Signal()
    formCreated = Signal(QWidget)  # the fields of a form just opened

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
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(PANEL_MIN_WIDTH)
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
        # The primary keys a link field suggests (set by the browser: the realm's).
        self.link_choices: LinkChoices | None = None

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
        # Labels above their fields: a narrow dock gives every field its whole width.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.editors = add_rows(form, fields, form_widget, self.link_choices, self.submit)
        # Enter on text a field refuses (``abc`` in an int) is said here too, with the
        # field's name: the red frame alone is easy to miss in a long form.
        for line in form_widget.findChildren(TypedLineEdit):
            field_name = _field_path(line, form_widget)
            line.rejected.connect(
                lambda problem, name=field_name: self.show_error(f"{name}: {problem}"))
        self.scroll_area.setWidget(form_widget)
        self.formCreated.emit(form_widget)
        self.error.hide()
        self.show()
        first = next(iter(self.editors.values()), None)
        if first is not None:
            first.setFocus()

    def set_text(self, name: str, text: str) -> None:
        """Type into a field (tests and scripted use); ``"address.city"`` is a field of
        an embedded object."""
        set_editor_text(self.editor(name), text)

    def editor(self, name: str) -> QWidget:
        """A field's editor by name; ``"address.city"`` reaches into an embedded group."""
        head, _, rest = name.partition(".")
        editor = self.editors[head]
        while rest:
            head, _, rest = rest.partition(".")
            editor = editor.editors[head]  # type: ignore[attr-defined]  # EmbeddedEditor
        return editor

    def values(self) -> dict[str, Any]:
        """The parsed values; raises ValueError naming the field that is wrong."""
        out: dict[str, Any] = {}
        for field in self.fields:
            try:
                out[field.name] = editor_value(self.editors[field.name])
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
