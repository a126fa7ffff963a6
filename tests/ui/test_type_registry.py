"""The Studio's per-type pieces cover exactly the registry's types (studio.core.property_types):
code generation has a name for each in every language, each has an editor, and what
an editor shows reads back to the same value, as a CSV cell would."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from studio.core.csv_values import TEXT_PARSERS
from studio.core.errors import BadValueError
from studio.core.property_types import MIXED, PROPERTY_TYPES, SCHEMA_TYPES, PropertyType
from studio.core.schema import PRIMARY_KEY_TYPES, parse_schema
from studio.ui import codegen
from studio.ui import formatting as fmt
from studio.ui.create_panel import default_value
from studio.ui.delegates import DateTimeEditor, MixedEditor, TypedLineEdit
from studio.ui.dialogs import PK_TYPES, PRIMITIVES

# Qt's date-time editor starts at year 100; earlier dates are typed as text in a mixed field.
EARLIEST_EDITABLE_DATE = datetime(100, 1, 1, tzinfo=UTC)
TYPES = list(PROPERTY_TYPES.values())
IDS = list(PROPERTY_TYPES)


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN, -0.0 not 0.0 and the Python type kept (True is not 1)."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        if math.copysign(1, a) != math.copysign(1, b):
            return False
    if isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_nan() and b.is_nan():
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("language", sorted(codegen.TYPE_TABLES))
def test_codegen_names_exactly_the_registry_types(language: str) -> None:
    assert set(codegen.TYPE_TABLES[language]) == set(SCHEMA_TYPES)


def test_codegen_covers_every_language() -> None:
    # JavaScript writes the schema's own type strings; every other language has a table.
    assert set(codegen.TYPE_TABLES) | {"javascript"} == set(codegen.LANGUAGES)


@pytest.mark.parametrize("language", sorted(codegen.LANGUAGES))
def test_codegen_writes_a_model_with_every_type(language: str) -> None:
    properties = {}
    for name in SCHEMA_TYPES:
        properties[f"r_{name}"] = name
        properties[f"l_{name}"] = f"{name}[]"
        if name != MIXED:
            properties[f"o_{name}"] = f"{name}?"
    schema = parse_schema([{"name": "AllTypes", "properties": properties}])
    code = codegen.generate(schema, language)
    for name in properties:
        assert name in code
    if language == "python":
        namespace: dict[str, Any] = {}
        exec(compile(code, "<generated>", "exec"), namespace)
        assert parse_schema(namespace["SCHEMA"]) == schema


def test_every_type_has_an_editor() -> None:
    assert set(fmt.EDITORS) == set(SCHEMA_TYPES)
    kinds = {"checkbox", "line", "datetime", "file", "mixed"}
    assert {e.kind for e in fmt.EDITORS.values()} <= kinds


@pytest.mark.parametrize("ptype", TYPES, ids=IDS)
def test_what_an_editor_shows_reads_back(ptype: PropertyType) -> None:
    for value in ptype.examples:
        text = fmt.edit_text(value)
        assert same(TEXT_PARSERS[ptype.name](text), value)  # a CSV cell reads it the same
        if ptype.value_classes:
            assert fmt.mixed_type_of(value) == ptype.name
            assert isinstance(fmt.scalar_text(value), str)
        if text == "" and ptype.name != "string":
            # An empty field is null, or "required" (empty data is loaded from a file).
            assert fmt.parse_value(ptype.name, text, optional=True) is None
            assert not fmt.is_valid(ptype.name, text)
            continue
        assert same(fmt.parse_value(ptype.name, text), value), (value, text)
        assert fmt.is_valid(ptype.name, text)


@pytest.mark.parametrize("ptype", TYPES, ids=IDS)
def test_the_editor_and_csv_parsers_agree(ptype: PropertyType) -> None:
    texts = ["", " ", "true", "0", "1_000", "-7", "nan", "Infinity", "1e3", "x",
             "2024-05-01T10:00:00z", "2024-05-01", "AAH/", "65f1c0ffee00000000000001",
             "123e4567-e89b-12d3-a456-426614174000", "1.50", " 12 "]
    for text in texts:
        if not text.strip() and ptype.name != "string":
            continue  # empty cells and fields are null or "required", decided by the caller
        try:
            csv_value: Any = TEXT_PARSERS[ptype.name](text)
        except BadValueError:
            csv_value = BadValueError
        try:
            ui_value: Any = fmt.parse_value(ptype.name, text)
        except ValueError:
            ui_value = BadValueError
        assert same(ui_value, csv_value), (ptype.name, text)


def test_the_add_property_dialog_offers_every_type() -> None:
    assert sorted(PRIMITIVES) == sorted(SCHEMA_TYPES)
    assert set(PK_TYPES) == PRIMARY_KEY_TYPES and PK_TYPES[0] == "objectId"


def test_new_object_values() -> None:
    assert default_value("data") == b""  # a required data element can be added
    assert default_value("int") == 0 and default_value("string") == ""
    assert default_value("objectId") != default_value("objectId")  # fresh ids
    assert default_value(MIXED) is None and default_value("object") is None


@pytest.mark.parametrize("ptype", TYPES, ids=IDS)
def test_each_editor_round_trips_its_examples(qtbot: QtBot, ptype: PropertyType) -> None:
    kind = fmt.EDITORS[ptype.name].kind
    for value in ptype.examples:
        if kind == "line":
            line = TypedLineEdit(ptype.name, False)
            qtbot.addWidget(line)
            line.set_value(value)
            assert line.hasAcceptableInput() or ptype.name == "string"
            assert same(line.value(), value)
            assert line.placeholderText() == ptype.hint
        elif kind == "datetime" and value >= EARLIEST_EDITABLE_DATE:
            date = DateTimeEditor()
            qtbot.addWidget(date)
            date.set_value(value)
            assert date.value() == value
            date.setDateTime(date.minimumDateTime())
            assert date.value() == EARLIEST_EDITABLE_DATE
        if ptype.value_classes and fmt.edit_text(value) != "":
            mixed = MixedEditor()
            qtbot.addWidget(mixed)
            mixed.set_value(value)
            assert mixed.type_box.currentText() == ptype.name
            assert same(mixed.value(), value)
