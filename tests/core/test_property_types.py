"""The property type registry (studio.core.property_types): every type, through every part.

Each test iterates over the registry, so a type added to it without its storage,
text, SQL, schema, query or mixed pieces fails here (and in
tests/ui/test_type_registry.py for the Studio's editors and code generation, and
tests/sync/test_type_registry_wire.py for the sync wire format).
"""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from studio.core import Realm
from studio.core.csv_values import TEXT_PARSERS
from studio.core.errors import BadValueError, ValueTypeError
from studio.core.history import decode_instructions, encode_instructions
from studio.core.property_types import (
    MIXED,
    PROPERTY_TYPES,
    SCHEMA_TYPES,
    PropertyType,
    type_of_tag,
    type_of_value,
)
from studio.core.query.types import ORDERED_TYPES, STATIC_TAGS, TYPE_NAMES
from studio.core.schema import INDEXABLE_TYPES, PRIMARY_KEY_TYPES, parse_property
from studio.core.text_codecs import parse_date
from studio.core.values import (
    SQL_TYPES,
    decode_mixed_primitive,
    encode_mixed_primitive,
    make_decoder,
    make_encoder,
)
from studio.primitives.instructions import Set

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


def query_equal(a: Any, b: Any) -> bool:
    """What a query's == finds: as ``same``, but -0.0 == 0.0 (as in Realm)."""
    both_floats = isinstance(a, float) and isinstance(b, float)
    return same(a, b) or (both_floats and a == b)


def test_the_registry_is_the_schema_types() -> None:
    assert (*PROPERTY_TYPES, MIXED) == SCHEMA_TYPES
    assert all(name == t.name for name, t in PROPERTY_TYPES.items())
    assert len(set(IDS)) == len(IDS) == 10


@pytest.mark.parametrize("ptype", TYPES, ids=IDS)
def test_examples_round_trip_through_storage(ptype: PropertyType) -> None:
    assert ptype.examples, f"{ptype.name} has no examples to test with"
    encode = make_encoder(ptype.name, optional=True)
    decode = make_decoder(ptype.name) or (lambda v: v)
    for value in (*ptype.examples, ptype.default):
        assert same(decode(encode(value)), value), value
    assert decode(encode(None)) is None
    with pytest.raises(ValueTypeError):
        make_encoder(ptype.name, optional=False)(None)
    with pytest.raises(ValueTypeError):
        ptype.encode(object())


@pytest.mark.parametrize("ptype", TYPES, ids=IDS)
def test_examples_round_trip_through_text(ptype: PropertyType) -> None:
    for value in (*ptype.examples, ptype.default):
        text = ptype.format(value)
        assert isinstance(text, str)
        assert same(ptype.parse(text), value), (value, text)
        if ptype.name != "string":  # strings keep their spaces; other texts are stripped
            assert same(ptype.parse(f"  {text} "), value)
    if ptype.name != "string":
        with pytest.raises(BadValueError, match=r"^expected "):
            ptype.parse("not a value of any type ~")


@pytest.mark.parametrize("ptype", TYPES, ids=IDS)
def test_sql_type_and_default_literal(ptype: PropertyType) -> None:
    assert SQL_TYPES[ptype.name] == ptype.sql_type
    assert ptype.sql_type or ptype.name in ("float", "double")  # no affinity: -0.0 kept
    conn = sqlite3.connect(":memory:")
    conn.create_collation("DECIMAL", lambda a, b: (a > b) - (a < b))
    conn.execute(f"CREATE TABLE t (v {ptype.sql_type} NOT NULL DEFAULT {ptype.sql_default})")
    conn.execute("INSERT INTO t DEFAULT VALUES")
    (stored,) = conn.execute("SELECT v FROM t").fetchone()
    decode = ptype.decode or (lambda v: v)
    assert same(decode(stored), ptype.default)


@pytest.mark.parametrize("ptype", TYPES, ids=IDS)
def test_mixed_tag_and_python_classes(ptype: PropertyType) -> None:
    assert STATIC_TAGS[ptype.name] == ptype.mixed_tag
    assert ptype.mixed_tag in TYPE_NAMES[ptype.query_names[0]]
    for value in ptype.examples:
        stored, tag = encode_mixed_primitive(value)
        assert same(decode_mixed_primitive(stored, tag), value)
        found = type_of_value(value)
        assert found is not None and found.mixed_tag == ptype.mixed_tag
        if ptype.value_classes:
            assert found is ptype and type_of_tag(tag) is ptype
            assert isinstance(value, ptype.value_classes)


@pytest.mark.parametrize("ptype", TYPES, ids=IDS)
def test_examples_round_trip_through_the_recorded_history(ptype: PropertyType) -> None:
    for value in ptype.examples:
        recorded = [Set("T", value if ptype.primary_key else 1, ("p",), value)]
        (replayed,) = decode_instructions(encode_instructions(recorded))
        assert isinstance(replayed, Set)
        assert same(replayed.value, value)
        assert same(replayed.primary_key, value if ptype.primary_key else 1)


@pytest.mark.parametrize("name", SCHEMA_TYPES)
def test_every_type_and_alias_parses_in_a_schema(name: str) -> None:
    assert parse_property("p", name).type == name
    assert parse_property("p", f"{name}?[]").collection == "list"
    for alias in PROPERTY_TYPES[name].schema_aliases if name != MIXED else ():
        assert parse_property("p", alias).type == name
        assert parse_property("p", alias.upper()).type == name


def test_schema_and_query_facts_come_from_the_registry() -> None:
    assert {t.name for t in TYPES if t.primary_key} == PRIMARY_KEY_TYPES
    assert {t.name for t in TYPES if t.indexable} | {MIXED} == INDEXABLE_TYPES
    assert {t.name for t in TYPES if t.ordered} | {MIXED} == ORDERED_TYPES


@pytest.fixture
def typed_realm(tmp_path: Path) -> Realm:
    properties: dict[str, Any] = {"id": "int"}
    for name in PROPERTY_TYPES:
        properties[f"r_{name}"] = name
        properties[f"o_{name}"] = f"{name}?"
        properties[f"l_{name}"] = f"{name}[]"
        properties[f"m_{name}"] = "mixed"
    return Realm.open(tmp_path / "types.realm",
                      schema=[{"name": "T", "primaryKey": "id", "properties": properties}])


def test_every_example_is_stored_read_and_found_by_a_query(typed_realm: Realm) -> None:
    realm = typed_realm
    rows = max(len(t.examples) for t in TYPES)
    with realm.write():
        for i in range(rows):
            values: dict[str, Any] = {"id": i}
            for t in TYPES:
                value = t.examples[i % len(t.examples)]
                values.update({f"r_{t.name}": value, f"o_{t.name}": value,
                               f"l_{t.name}": list(t.examples), f"m_{t.name}": value})
            realm.create("T", values)
    objects = realm.objects("T")
    for i in range(rows):
        obj = objects.filtered("id == $0", i)[0]
        for t in TYPES:
            value = t.examples[i % len(t.examples)]
            for prefix in ("r", "o", "m"):
                assert same(obj[f"{prefix}_{t.name}"], value), (t.name, prefix, value)
            assert all(same(a, b) for a, b in zip(obj[f"l_{t.name}"], t.examples, strict=True))
    for t in TYPES:
        for value in t.examples:
            expected = sum(
                1 for i in range(rows) if query_equal(t.examples[i % len(t.examples)], value)
            )
            for prefix in ("r", "o", "m"):
                found = objects.filtered(f"{prefix}_{t.name} == $0", value)
                assert len(found) == expected, (t.name, prefix, value)
            assert len(objects.filtered(f"ANY l_{t.name} == $0", value)) == rows
        order = "<" if t.ordered else None
        if order is not None:
            objects.filtered(f"r_{t.name} {order} $0", t.default)  # allowed: no error


def test_a_required_property_added_later_holds_the_registry_default(tmp_path: Path) -> None:
    path = tmp_path / "grow.realm"
    realm = Realm.open(path, schema=[{"name": "T", "properties": {"id": "int"}}])
    with realm.write():
        realm.create("T", {"id": 1})
    realm.close()
    grown = {"id": "int", **{f"p_{name}": name for name in PROPERTY_TYPES}}
    realm = Realm.open(path, schema=[{"name": "T", "properties": grown}])
    obj = realm.objects("T")[0]
    for t in TYPES:
        assert same(obj[f"p_{t.name}"], t.default), t.name
    realm.close()


# -- the two text parsers that used to disagree ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),  # naive is UTC
        ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00z", datetime(2024, 5, 1, 10, tzinfo=UTC)),  # RFC 3339 lower z
        (" 2024-05-01T10:00:00.25z ", datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T08:00:00-0200", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01 10:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_dates_read_iso_8601_with_and_without_zone(text: str, expected: datetime) -> None:
    assert parse_date(text) == expected
    assert parse_date(text).tzinfo == UTC
    assert TEXT_PARSERS["date"](text) == expected  # what a CSV cell reads


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "", "2024-05-01T25:00:00Z"])
def test_bad_dates_say_what_was_expected(text: str) -> None:
    with pytest.raises(BadValueError, match="expected an ISO 8601 date"):
        parse_date(text)


@pytest.mark.parametrize(
    ("type_name", "text", "expected"),
    [
        ("int", "1_000", 1000),
        ("int", "+5", 5),
        ("bool", "YES", True),
        ("bool", "0", False),
        ("double", "nan", math.nan),
        ("double", "-Infinity", -math.inf),
        ("double", "inf", math.inf),
    ],
)
def test_typed_text_reads_the_same_everywhere(type_name: str, text: str, expected: Any) -> None:
    assert same(PROPERTY_TYPES[type_name].parse(text), expected)
    assert same(TEXT_PARSERS[type_name](text), expected)


@pytest.mark.parametrize(
    ("type_name", "text"),
    [("int", "1__0"), ("int", "_1"), ("int", "9223372036854775808"), ("int", "١٢"),
     ("bool", "maybe"), ("objectId", "xyz"), ("uuid", "nope"), ("data", "@@"),
     ("decimal128", "1.2.3")],
)
def test_bad_text_is_refused(type_name: str, text: str) -> None:
    with pytest.raises(BadValueError):
        PROPERTY_TYPES[type_name].parse(text)
