"""The adapter's value mapping without a server: mixed values round-trip through
their JSON form, and values the realm cannot hold raise BadRowError with the reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from studio.core.schema import parse_property
from studio.integrations.adapter.mapping import (
    LinkTo,
    from_json,
    from_pg,
    realm_property_spec,
    to_json,
)
from studio.integrations.errors import BadRowError
from studio.primitives.objectid import ObjectId

VALUES = [None, True, 7, 2.5, "text", ObjectId("65f1a2b3c4d5e6f708192a3b"),
          uuid.UUID(int=5), Decimal("1.25"), b"\x00\x01",
          datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_mixed_values_round_trip_through_json(value: object) -> None:
    assert from_json(to_json(value), "any") == value


def test_a_link_in_a_mixed_value_names_its_target() -> None:
    assert from_json({"$link": ["Person", 3]}, "any") == LinkTo("Person", 3)


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        ("string", None, "'x' is NULL but the realm property string is required"),
        ("objectId?", "zz", "is not a objectId"),
        ("int", 1.5, "is not a int"),
        ("int", 2**63, "outside the 64-bit range"),
        ("string[]", {"a": 1}, "a list must be a JSON array"),
        ("int<>", ["a"], "'a' is not a int"),
        ("mixed", {"a": 1}, "cannot be a mixed value"),
        ("data?", "00ff", "bytea is written as \\x"),
    ],
)
def test_values_the_realm_cannot_hold_say_why(spec: str, value: object, message: str) -> None:
    prop = parse_property("x", spec, "C")
    with pytest.raises(BadRowError) as caught:
        from_pg(prop, value, {})
    assert message in str(caught.value)


def test_json_images_of_columns_become_realm_values() -> None:
    def read(spec: str, value: object) -> object:
        return from_pg(parse_property("x", spec, "C"), value, {})

    assert read("date?", "2024-05-06T07:08:09.123+00:00") == datetime(
        2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)  # fmt: skip
    assert read("data?", "\\x00ff") == b"\x00\xff"
    assert read("decimal128?", Decimal("99.5")) == Decimal("99.5")
    assert read("int", Decimal("3")) == 3
    assert read("string[]", None) == [] and read("double{}", {"a": 1}) == {"a": 1.0}


def test_columns_made_by_hand_get_optional_realm_types() -> None:
    assert realm_property_spec("n", "bigint", None) == "int?"
    assert realm_property_spec("j", "jsonb", None) == "mixed"
    assert realm_property_spec("t", "text", "studio:string") == "string"
    assert realm_property_spec("p", "point", None) is None
