"""The inspector's form for one class: a row per property, built once per class and
filled again for each object shown.

Editable properties use the new-object panel's editors (:mod:`studio.ui.create_fields`:
typed lines, check boxes, date-times, mixed, links typed as a primary key, lists, sets
and dictionaries one element per line, embedded objects as a group). What has no
editor there (backlinks, data, collections of embedded objects or of mixed values) is
shown as text. Links, collections and backlinks also get a line of links that navigate
(``link:`` and ``open:`` anchors, see :func:`anchor_target`).

Each field remembers the state it was filled with, so :meth:`ClassForm.changed` knows
what the user changed and a live update never overwrites a field being edited.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from studio.core.schema import ObjectSchema, Property
from studio.ui import formatting as fmt
from studio.ui.create_fields import (
    DICTIONARY,
    EMBEDDED,
    CollectionEditor,
    EmbeddedEditor,
    LinkChoices,
    editor_value,
    field_hint,
    make_editor,
)
from studio.ui.create_panel import FieldSpec, field_for_property
from studio.ui.delegates import DateTimeEditor, MixedEditor, TypedLineEdit

LINKS_SHOWN = 20  # links listed under a collection or backlinks; the rest: "open"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a link of the inspector leads: an object, or a property opened as a table."""

    kind: str  # "object" | "collection" | "backlinks"
    class_name: str
    key: int
    prop: str = ""


def anchor_target(href: str) -> Target | None:
    """The target of an anchor written by :func:`_object_anchor` or :func:`_open_anchor`."""
    kind, _, rest = href.partition(":")
    parts = rest.split(":")
    try:
        if kind == "link" and len(parts) == 2:
            return Target("object", parts[0], int(parts[1]))
        if kind in ("collection", "backlinks") and len(parts) == 3:
            return Target(kind, parts[0], int(parts[1]), parts[2])
    except ValueError:
        return None
    return None


def _object_anchor(obj: Any) -> str:
    key = fmt.object_key(obj)
    text = html.escape(fmt.object_summary(obj))
    if key is None or obj.object_schema.embedded:
        return text
    return f"<a href='link:{fmt.object_class(obj)}:{key}'>{text}</a>"


def _open_anchor(kind: str, owner: Any, prop: Property, text: str) -> str:
    key = fmt.object_key(owner)
    if key is None:
        return html.escape(text)
    return (f"<a href='{kind}:{fmt.object_class(owner)}:{key}:{prop.name}'>"
            f"{html.escape(text)}</a>")


def editor_state(editor: QWidget) -> Any:
    """What an editor shows, comparable: equal states mean nothing was changed."""
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QLineEdit):
        return editor.text()
    if isinstance(editor, QPlainTextEdit):
        return editor.toPlainText()
    if isinstance(editor, DateTimeEditor):
        return editor.dateTime().toMSecsSinceEpoch()
    if isinstance(editor, MixedEditor):
        return editor.type_box.currentText(), editor.line.text()
    if isinstance(editor, EmbeddedEditor):
        checked = editor.isChecked() if editor.isCheckable() else True
        return checked, tuple(editor_state(e) for e in editor.editors.values())
    return None


def collection_text(spec: FieldSpec, value: Any) -> str:
    """A list, set or dictionary as the collection editor's lines (what it parses back)."""
    if value is None:
        return ""
    if spec.kind == DICTIONARY:
        return "\n".join(f"{k}: {fmt.edit_text(v)}" for k, v in value.items())
    return "\n".join(fmt.edit_text(v) for v in value)


def load_editor(editor: QWidget, spec: FieldSpec, value: Any) -> None:
    """Show ``value`` in an editor made by ``make_editor`` for ``spec``."""
    if isinstance(editor, CollectionEditor):
        editor.setPlainText(collection_text(spec, value))
    elif isinstance(editor, EmbeddedEditor):
        if editor.isCheckable():
            editor.setChecked(value is not None)
        for child in spec.children:
            child_value = value[child.name] if value is not None else child.default
            load_editor(editor.editors[child.name], child, child_value)
    elif isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, DateTimeEditor | MixedEditor):
        editor.set_value(value)
    elif isinstance(editor, TypedLineEdit):
        editor.setText(fmt.edit_text(value))  # (set_value selects it all: not wanted here)
        editor.setCursorPosition(0)


def set_editor_read_only(editor: QWidget, read_only: bool) -> None:
    """Read-only editors still let the text be selected and copied where they can."""
    if isinstance(editor, QLineEdit | QPlainTextEdit):
        editor.setReadOnly(read_only)
    elif isinstance(editor, EmbeddedEditor):
        for child in editor.editors.values():
            set_editor_read_only(child, read_only)
        if editor.isCheckable():
            editor.setEnabled(not read_only)
    else:
        editor.setEnabled(not read_only)


class Field:
    """One property's row: its editor (or a read-only text) and its line of links."""

    def __init__(self, prop: Property, spec: FieldSpec | None, editor: QWidget,
                 links: QLabel) -> None:
        self.prop = prop
        self.spec = spec
        self.editor = editor
        self.links = links
        self.loaded: Any = None  # the editor state it was filled with

    @property
    def editable(self) -> bool:
        return self.spec is not None

    @property
    def dirty(self) -> bool:
        return self.spec is not None and editor_state(self.editor) != self.loaded

    @property
    def embedded(self) -> bool:
        return self.spec is not None and self.spec.kind == EMBEDDED


class ClassForm(QWidget):
    """The form of one class (object name ``inspectorForm_<Class>``)."""

    linkActivated = Signal(str)  # an anchor's href (see anchor_target)

    def __init__(self, schema: ObjectSchema, classes: dict[str, ObjectSchema],
                 link_choices: LinkChoices | None, on_return: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.schema = schema
        self.setObjectName(f"inspectorForm_{schema.name}")
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setContentsMargins(0, 0, 0, 0)
        self.fields: dict[str, Field] = {}
        for prop in schema.properties:
            spec = None if prop.is_primary_key else field_for_property(prop, classes)
            if spec is not None:
                editor = make_editor(spec, self, link_choices, on_return, "")
                hint = field_hint(spec)
            else:
                editor = QLabel(self)
                editor.setWordWrap(True)
                editor.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                hint = fmt.type_label(prop)
            editor.setObjectName(f"inspect_{prop.name}")
            editor.setToolTip(hint)
            links = QLabel(self)
            links.setObjectName(f"inspectLinks_{prop.name}")
            links.setWordWrap(True)
            links.setTextFormat(Qt.TextFormat.RichText)
            links.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                          | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
            links.linkActivated.connect(self.linkActivated)
            links.hide()
            marks = (" · primary key" if prop.is_primary_key
                     else " · indexed" if prop.indexed else "")
            label = QLabel(f"{html.escape(prop.name)}  <span style='color:gray'>"
                           f"{html.escape(fmt.type_label(prop))}{marks}</span>", self)
            form.addRow(label, editor)
            form.addRow(links)
            self.fields[prop.name] = Field(prop, spec, editor, links)

    def set_read_only(self, read_only: bool) -> None:
        for field in self.fields.values():
            if field.editable:
                set_editor_read_only(field.editor, read_only)

    def load(self, obj: Any, keep_changes: bool = False) -> None:
        """Fill every field from ``obj``; ``keep_changes`` leaves fields the user changed."""
        for field in self.fields.values():
            if keep_changes and field.dirty:
                continue
            value = obj[field.prop.name]
            if field.spec is not None:
                load_editor(field.editor, field.spec, value)
                field.loaded = editor_state(field.editor)
            elif isinstance(field.editor, QLabel):
                field.editor.setText(self._text(field.prop, value))
            self._load_links(field, obj, value)

    def _text(self, prop: Property, value: Any) -> str:
        if prop.is_backlink:
            return fmt.backlinks_text(len(value), prop.object_type or "")
        if prop.collection is not None:
            return fmt.collection_preview(value)
        if prop.type == "data" and value is not None:
            return f"{fmt.format_size(len(value))} of data (load and save it in the table)"
        return fmt.scalar_text(value)

    def _load_links(self, field: Field, obj: Any, value: Any) -> None:
        prop = field.prop
        anchors: list[str] = []
        if prop.is_backlink or (prop.collection is not None and prop.type == "object"):
            items = list(value) if prop.collection != "dictionary" else list(value.values())
            anchors = [_object_anchor(v) for v in items[:LINKS_SHOWN] if fmt.is_object(v)]
            if len(items) > LINKS_SHOWN:
                anchors.append(f"… {len(items) - LINKS_SHOWN} more")
        elif prop.type == "object" and fmt.is_object(value) and not field.embedded:
            anchors = [_object_anchor(value)]
        if prop.is_backlink or prop.collection is not None:
            kind = "backlinks" if prop.is_backlink else "collection"
            anchors.append(_open_anchor(kind, obj, prop, "open as a table"))
        field.links.setText(" · ".join(anchors))
        field.links.setVisible(bool(anchors))

    def changed(self) -> dict[str, Any]:
        """The values of the fields the user changed (raises ValueError naming one that
        cannot be read)."""
        out: dict[str, Any] = {}
        for name, field in self.fields.items():
            if not field.dirty:
                continue
            try:
                out[name] = editor_value(field.editor)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return out

    @property
    def dirty(self) -> bool:
        return any(f.dirty for f in self.fields.values())
