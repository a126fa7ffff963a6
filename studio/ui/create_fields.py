"""The fields of the new-object panel that are more than one typed line: links (a
primary key, completed from the target class), lists, sets and dictionaries (one
element per line, read by the type registry's text parsers) and embedded objects
(a nested group of fields).

:class:`FieldSpec` describes a field; :func:`make_editor` builds its widget. Every
editor has ``value()`` (raising ValueError that says what is wrong) and
``set_text(text)`` (typing into it, for tests and scripted use).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QCompleter,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QWidget,
)

from studio.ui import formatting as fmt
from studio.ui.delegates import DateTimeEditor, MixedEditor, TypedLineEdit
from studio.ui.wording import article

VALUE, LINK, LIST, SET, DICTIONARY, EMBEDDED = (
    "value", "link", "list", "set", "dictionary", "embedded")
COLLECTIONS = (LIST, SET, DICTIONARY)
FIELD_MIN_HEIGHT = 26  # a line edit's height at the default font, with its frame
LINES_SHOWN = 4  # a collection field's height in text lines

# A class name -> its objects a link field offers: (primary key text, what the object
# says about itself: its primary key and first string values).
LinkChoices = Callable[[str], list[tuple[str, str]]]
KEY_ROLE = Qt.ItemDataRole.UserRole + 1


class KeyCompleter(QCompleter):
    """Completes a link field from the target objects' labels (any part of the key or
    of the object's text, "Ximena" finds "59e96… — Ximena Varga") and puts only the
    primary key into the field."""

    def __init__(self, choices: list[tuple[str, str]], parent: QWidget) -> None:
        model = QStandardItemModel(parent)
        for key, label in choices:
            item = QStandardItem(label)
            item.setData(key, KEY_ROLE)
            model.appendRow(item)
        super().__init__(model, parent)
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterMode(Qt.MatchFlag.MatchContains)  # search, not only prefixes

    def pathFromIndex(self, index: QModelIndex | QPersistentModelIndex) -> str:
        return str(index.data(KEY_ROLE) or "")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the form: a property name, the type typed in, and whether it may be
    left empty. ``link_to`` names the class whose primary key the field (or each of its
    elements) holds; ``kind`` is one of value, link, list, set, dictionary, embedded;
    an embedded field has its object's fields as ``children``."""

    name: str
    type_name: str
    optional: bool = False
    default: Any = None
    link_to: str | None = None
    note: str = ""
    kind: str = VALUE
    children: tuple[FieldSpec, ...] = field(default=())


def field_hint(spec: FieldSpec) -> str:
    if spec.note:
        return spec.note
    return spec.type_name + ("?" if spec.optional else "")


def _label(spec: FieldSpec) -> QLabel:
    checkbox = spec.kind == VALUE and fmt.EDITORS[spec.type_name].kind == "checkbox"
    required = not (spec.optional or checkbox or spec.kind in COLLECTIONS)
    label = QLabel(f"{spec.name}{' *' if required else ''}  "
                   f"<span style='color:gray'>{field_hint(spec)}</span>")
    return label


def add_rows(form: QFormLayout, fields: Sequence[FieldSpec], parent: QWidget,
             link_choices: LinkChoices | None, on_return: Callable[[], None],
             prefix: str = "") -> dict[str, QWidget]:
    """One labelled row per field; returns the editors by field name."""
    editors: dict[str, QWidget] = {}
    for spec in fields:
        editor = make_editor(spec, parent, link_choices, on_return, prefix)
        editor.setObjectName(f"field_{prefix}{spec.name}")
        editor.setToolTip(field_hint(spec))
        if not isinstance(editor, QGroupBox | CollectionEditor):  # those size themselves
            editor.setMinimumHeight(max(editor.sizeHint().height(), FIELD_MIN_HEIGHT))
        editors[spec.name] = editor
        form.addRow(_label(spec), editor)
    return editors


def make_editor(spec: FieldSpec, parent: QWidget, link_choices: LinkChoices | None,
                on_return: Callable[[], None], prefix: str = "") -> QWidget:
    if spec.kind in COLLECTIONS:
        return CollectionEditor(spec, parent, link_choices)
    if spec.kind == EMBEDDED:
        return EmbeddedEditor(spec, parent, link_choices, on_return, prefix)
    editor = fmt.EDITORS[spec.type_name].kind
    if editor == "checkbox":
        box = QCheckBox(parent)
        box.setChecked(bool(spec.default))
        return box
    if editor == "datetime" and not spec.optional:
        date = DateTimeEditor(parent)
        date.set_value(spec.default)
        return date
    if editor == "mixed":
        mixed = MixedEditor(parent)
        mixed.set_value(spec.default)
        return mixed
    line = TypedLineEdit(spec.type_name, spec.optional, parent)
    if spec.default is not None:
        line.set_value(spec.default)
    if spec.link_to and link_choices is not None:
        choices = link_choices(spec.link_to)
        if choices:
            line.setCompleter(KeyCompleter(choices, line))
        line.setPlaceholderText(f"primary key of {article(spec.link_to)}, or text to search")
    line.returnPressed.connect(on_return)
    return line


def editor_value(editor: QWidget) -> Any:
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    return editor.value()  # type: ignore[attr-defined]  # every other editor has value()


def set_editor_text(editor: QWidget, text: str) -> None:
    if isinstance(editor, TypedLineEdit):
        editor.setText(text)
    elif isinstance(editor, QCheckBox):
        editor.setChecked(text.lower() in ("true", "1", "yes"))
    elif isinstance(editor, MixedEditor):
        editor.line.setText(text)
    elif isinstance(editor, CollectionEditor):
        editor.setPlainText(text)
    else:
        raise TypeError(f"{editor.objectName()} is not typed as text")


class CollectionEditor(QPlainTextEdit):
    """A list, set or dictionary: one element per line (``key: value`` for a
    dictionary), each read by its type's parser; empty lines are skipped."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None,
                 link_choices: LinkChoices | None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.setTabChangesFocus(True)  # Tab moves on, as in the line edits
        element = f"primary key of {article(spec.link_to)}" if spec.link_to else spec.type_name
        self.setPlaceholderText(
            f"one '{'key: ' if spec.kind == DICTIONARY else ''}{element}' per line")
        line_height = self.fontMetrics().lineSpacing()
        # Room for a few elements (more scroll); never below what Qt needs for the frame.
        self.setFixedHeight(max(line_height * LINES_SHOWN + 12,
                                super().minimumSizeHint().height()))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(self.placeholderText())

    def value(self) -> list[Any] | dict[str, Any]:
        spec = self.spec
        lines = [(n, line) for n, line in enumerate(self.toPlainText().splitlines(), 1)
                 if line.strip()]
        element_optional = spec.optional and not spec.link_to
        if spec.kind == DICTIONARY:
            out: dict[str, Any] = {}
            for n, line in lines:
                key, sep, text = line.partition(":")
                if not sep or not key.strip():
                    raise ValueError(f"line {n}: write 'key: value'")
                out[key.strip()] = self._parse(n, text.strip(), element_optional)
            return out
        values = [self._parse(n, line.strip() if spec.type_name != "string" else line,
                              element_optional) for n, line in lines]
        if spec.kind == SET:
            unique: list[Any] = []
            for value in values:
                if value not in unique:
                    unique.append(value)
            return unique
        return values

    def _parse(self, n: int, text: str, optional: bool) -> Any:
        try:
            return fmt.parse_value(self.spec.type_name, text, optional)
        except ValueError as exc:
            raise ValueError(f"line {n}: {exc}") from None


class EmbeddedEditor(QGroupBox):
    """An embedded object: its own fields in a group. An optional one is created only
    when its box is ticked."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None,
                 link_choices: LinkChoices | None, on_return: Callable[[], None],
                 prefix: str = "") -> None:
        super().__init__(f"{spec.link_to or spec.type_name}", parent)
        self.spec = spec
        if spec.optional:
            self.setCheckable(True)
            self.setChecked(False)
            self.setTitle(f"create a {spec.link_to}")
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self.editors = add_rows(form, spec.children, self, link_choices, on_return,
                                prefix=f"{prefix}{spec.name}.")

    def value(self) -> dict[str, Any] | None:
        if self.isCheckable() and not self.isChecked():
            return None
        out: dict[str, Any] = {}
        for child in self.spec.children:
            try:
                out[child.name] = editor_value(self.editors[child.name])
            except ValueError as exc:
                raise ValueError(f"{child.name}: {exc}") from None
        return out
