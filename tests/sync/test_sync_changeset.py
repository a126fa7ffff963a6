"""The changeset wire encoding: round trips, layout, strictness, fuzzing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sync_strategies import changeset_key, changesets, instruction_key, instructions, values

from studio.primitives.instructions import (
    EMBEDDED,
    AddClass,
    AddInteger,
    Changeset,
    CreateObject,
    DictSet,
    Link,
    ListInsert,
    ListMove,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.primitives.objectid import ObjectId
from studio.sync.changeset import (
    changeset_to_wire,
    decode_changeset,
    encode_changeset,
    validate_changeset,
)
from studio.sync.errors import ChangesetError, RemoteProtocolError


def cs(*instructions: Any, origin: int = 3, version: int = 7) -> Changeset:
    return Changeset(origin, version, 5, 1_700_000_000_000, tuple(instructions))


def wire(changeset: Changeset) -> list[Any]:
    return changeset_to_wire(changeset)


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def assert_rejected(raw: Any, *fragments: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_changeset(raw if isinstance(raw, bytes) else pack(raw))
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


# --------------------------------------------------------------------------- round trips


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(changesets)
def test_every_changeset_round_trips(changeset: Changeset) -> None:
    data = encode_changeset(changeset)
    back = decode_changeset(data)
    assert changeset_key(back) == changeset_key(changeset)
    assert encode_changeset(back) == data  # one canonical encoding


@settings(max_examples=300)
@given(instructions)
def test_every_instruction_type_round_trips(instruction: Any) -> None:
    back = decode_changeset(encode_changeset(cs(instruction))).instructions
    assert [instruction_key(i) for i in back] == [instruction_key(instruction)]


@settings(max_examples=300)
@given(values)
def test_every_value_type_round_trips(value: Any) -> None:
    ins = SetValue("C", 1, ("f",), value)
    (back,) = decode_changeset(encode_changeset(cs(ins))).instructions
    assert instruction_key(back) == instruction_key(ins)


def test_bool_and_int_stay_apart() -> None:
    out = decode_changeset(
        encode_changeset(cs(SetValue("C", 1, ("f",), True), SetValue("C", 1, ("f",), 1)))
    )
    assert type(out.instructions[0].value) is bool  # type: ignore[union-attr]
    assert type(out.instructions[1].value) is int  # type: ignore[union-attr]


def test_special_values_survive_exactly() -> None:
    vals = [
        float("nan"),
        -0.0,
        Decimal("-0"),
        Decimal("1.10"),
        Decimal("NaN"),
        Decimal("-Infinity"),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ObjectId("6001c033600510df3bbfd864"),
        uuid.UUID(int=0),
        Link("Person", uuid.UUID(int=3)),
        Link("Person", None),
        b"",
        "",
        -(2**63),
        2**63 - 1,
    ]
    ins = tuple(SetValue("C", 1, ("f",), v) for v in vals)
    back = decode_changeset(encode_changeset(cs(*ins)))
    assert [instruction_key(i) for i in back.instructions] == [instruction_key(i) for i in ins]


# --------------------------------------------------------------------------- layout


def test_names_are_interned_once_per_changeset() -> None:
    ins = [SetValue("Person", pk, ("name",), "x") for pk in range(50)]
    raw = wire(cs(*ins))
    assert raw[5] == ["Person", "name"]
    assert raw[6][0] == [4, 0, 0, [1], "x"]
    # 50 instructions that each repeat the names would be much larger.
    assert len(encode_changeset(cs(*ins))) < 50 * 12


def test_path_encodes_list_indices_as_negative_numbers() -> None:
    raw = wire(cs(SetValue("C", 1, ("items", 2, "name"), "x")))
    assert raw[5] == ["C", "items", "name"]
    assert raw[6][0][3] == [1, -3, 2]


def test_layout_of_tagged_values_and_extensions() -> None:
    raw = wire(
        cs(
            SetValue("C", 1, ("a",), Link("Dog", 7)),
            SetValue("C", 1, ("b",), EMBEDDED),
            SetValue("C", ObjectId(b"\x01" * 12), ("c",), Decimal("2.5")),
        )
    )
    assert raw[6][0][4] == [0, raw[5].index("Dog"), 7]
    assert raw[6][1][4] == [1]
    assert raw[6][2][2] == msgpack.ExtType(1, b"\x01" * 12)
    assert raw[6][2][4] == msgpack.ExtType(3, b"2.5")


# --------------------------------------------------------------------------- encoder errors


@pytest.mark.parametrize(
    ("instruction", "fragment"),
    [
        (SetValue("C", 1, ("f",), datetime(2024, 1, 1)), "timezone-aware"),
        (SetValue("C", 1, ("f",), 2**63), "64 bits"),
        (SetValue("C", 1, ("f",), [1, 2]), "cannot be synced"),
        (SetValue("C", 1, ("f",), Decimal("sNaN")), "signaling NaN"),
        (SetValue("C", 1.5, ("f",), 1), "primary key"),
        (SetValue("C", True, ("f",), 1), "primary key"),
        (SetValue("C", 1, (), 1), "non-empty tuple"),
        (SetValue("C", 1, (0, "f"), 1), "property name"),
        (SetValue("C", 1, ("f", -1), 1), "neither a name nor a list index"),
        (SetValue("C", 1, ("f", True), 1), "neither a name nor a list index"),
        (SetValue("", 1, ("f",), 1), "class name"),
        (ListInsert("C", 1, ("f",), -1, 1), "non-negative"),
        (ListMove("C", 1, ("f",), 0, 1.0), "to_index"),
        (SetInsert("C", 1, ("f",), EMBEDDED), "not allowed"),
        (AddInteger("C", 1, ("f",), True), "delta"),
        (DictSet("C", 1, ("f",), 3, 1), "dictionary key"),
        (AddClass("C", "_id", None, False, False), "both"),
        (AddClass("C", "_id", "int", False, True), "embedded"),
        ("not an instruction", "not an instruction"),
    ],
)
def test_encoder_rejects_what_cannot_be_synced(instruction: Any, fragment: str) -> None:
    with pytest.raises(ChangesetError) as info:
        encode_changeset(cs(instruction))
    assert fragment in str(info.value)
    assert "instruction 0" in str(info.value)
    with pytest.raises(ChangesetError):
        validate_changeset(cs(instruction))


def test_encoder_rejects_bad_header() -> None:
    with pytest.raises(ChangesetError, match="origin_file_ident"):
        encode_changeset(Changeset(-1, 1, 0, 0, ()))
    with pytest.raises(ChangesetError, match="timestamp_ms"):
        encode_changeset(Changeset(1, 1, 0, 2**63, ()))


# --------------------------------------------------------------------------- strict decoder

GOOD = wire(cs(SetValue("C", 1, ("items", 0, "name"), "x"), CreateObject("C", 2)))


def mutated(path: tuple[int, ...], value: Any) -> list[Any]:
    raw: Any = msgpack.unpackb(pack(GOOD), raw=False)  # a deep copy
    target = raw
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return raw  # type: ignore[no-any-return]


def test_decoder_accepts_the_reference() -> None:
    assert decode_changeset(pack(GOOD)).instructions[1] == CreateObject("C", 2)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"a": 1}, "expected an array"),
        (GOOD[:6], "expected 7 fields"),
        (mutated((0,), 2), "unknown format version"),
        (mutated((0,), True), "unknown format version"),
        (mutated((1,), -1), "origin_file_ident"),
        (mutated((2,), "7"), "client_version"),
        (mutated((4,), 2**63), "timestamp_ms"),
        (mutated((5,), "C"), "string table must be an array"),
        (mutated((5, 0), 5), "string-table entry 0"),
        (mutated((5, 1), "C"), "duplicate"),
        (mutated((6,), {}), "instructions must be an array"),
        (mutated((6, 0), []), "non-empty array"),
        (mutated((6, 0, 0), 99), "unknown instruction code"),
        (mutated((6, 0, 0), True), "unknown instruction code"),
        (mutated((6, 0, 0), 5), "(AddInteger): delta"),  # a Set read as an AddInteger
        (mutated((6, 0, 1), 17), "string-table index 17 out of range"),
        (mutated((6, 0, 1), -1), "string-table index -1 out of range"),
        (mutated((6, 0, 1), "C"), "class name must be a string-table index"),
        (mutated((6, 0, 2), 1.5), "primary key"),
        (mutated((6, 0, 2), True), "primary key"),
        (mutated((6, 0, 2), msgpack.ExtType(1, b"short")), "12 bytes"),
        (mutated((6, 0, 2), msgpack.ExtType(2, b"x" * 15)), "16 bytes"),
        (mutated((6, 0, 3), []), "path must be a non-empty array"),
        (mutated((6, 0, 3), [-1]), "must start with a property name"),
        (mutated((6, 0, 3), [1, "x"]), "path element must be an integer"),
        (mutated((6, 0, 3), [1, 9]), "string-table index 9 out of range"),
        (mutated((6, 0, 4), [7]), "unknown value tag"),
        (mutated((6, 0, 4), [0, 0]), "a link is [0, class, primary key]"),
        (mutated((6, 0, 4), [1, 2]), "no fields"),
        (mutated((6, 0, 4), []), "integer tag"),
        (mutated((6, 0, 4), {"x": 1}), "not a value"),
        (mutated((6, 0, 4), msgpack.ExtType(9, b"")), "unknown extension type 9"),
        (mutated((6, 0, 4), msgpack.ExtType(3, b" 1_0")), "canonical"),
        (mutated((6, 0, 4), msgpack.ExtType(3, b"inf")), "canonical"),
        (mutated((6, 0, 4), msgpack.ExtType(3, b"\xff")), "not a decimal"),
        (mutated((6, 0, 4), msgpack.ExtType(3, b"sNaN")), "signaling"),
        (mutated((6, 0, 4), msgpack.Timestamp(0, 1)), "sub-microsecond"),
        (mutated((6, 0, 4), msgpack.Timestamp(2**40, 0)), "out of range"),
        (mutated((6, 0, 4), 2**64 - 1), "64 bits"),
        (mutated((6, 1, 0), 11), "expected 5 fields"),
    ],
)
def test_decoder_rejects_malformed_structure(raw: Any, fragment: str) -> None:
    assert_rejected(raw, fragment)


def test_decoder_names_the_instruction() -> None:
    assert_rejected(mutated((6, 1, 1), 42), "instruction 1 (CreateObject)", "out of range")


@pytest.mark.parametrize(
    ("ins", "fragment"),
    [
        ([11, 0, 1, [1], [1]], "not allowed"),  # SetInsert of EMBEDDED
        ([5, 0, 1, [1], True], "delta"),
        ([5, 0, 1, [1], 1.0], "delta"),
        ([6, 0, 1, [1], -1, 1], "index must be a non-negative"),
        ([9, 0, 1, [1], 0, "1"], "to_index"),
        ([13, 0, 1, [1], -2, 1], "dictionary key"),
        ([0, 0, 1, None, False, False], "both be set or both be nil"),
        ([0, 0, 1, 1, False, True], "embedded class cannot have a primary key"),
        ([0, 0, None, None, 0, False], "primary_key_optional must be a bool"),
        ([1, 0, 1, 1, False, None, 7], "origin_property"),
    ],
)
def test_decoder_rejects_bad_instruction_fields(ins: list[Any], fragment: str) -> None:
    raw = [1, 1, 1, 0, 0, ["C", "f"], [ins]]
    assert_rejected(raw, fragment)


def test_decoder_rejects_trailing_garbage_and_truncation() -> None:
    data = encode_changeset(cs(SetValue("C", 1, ("f",), "x")))
    assert_rejected(data + b"\x00", "not valid msgpack")
    assert_rejected(data[:-1], "not valid msgpack")
    assert_rejected(b"", "not valid msgpack")


def test_decoder_rejects_non_bytes() -> None:
    with pytest.raises(RemoteProtocolError, match="bytes"):
        decode_changeset("text")  # type: ignore[arg-type]


def test_empty_class_name_is_rejected() -> None:
    assert_rejected([1, 1, 1, 0, 0, ["", "f"], [[2, 0, 1]]], "class name is empty")


# --------------------------------------------------------------------------- fuzzing


def _decode_or_protocol_error(data: bytes) -> None:
    try:
        decode_changeset(data)
    except RemoteProtocolError:
        pass


@settings(max_examples=1500)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_remote_protocol_error(data: bytes) -> None:
    _decode_or_protocol_error(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(changesets, st.data())
def test_mutated_encodings_raise_only_remote_protocol_error(
    changeset: Changeset, data: st.DataObject
) -> None:
    raw = bytearray(encode_changeset(changeset))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del raw[pos:]
        elif op == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
        elif raw:
            del raw[pos]
    _decode_or_protocol_error(bytes(raw))


_ANY_MSGPACK = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.floats(),
        st.text(max_size=5),
        st.binary(max_size=5),
        st.builds(msgpack.ExtType, st.integers(-1, 5), st.binary(max_size=16)),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(changesets.filter(lambda c: bool(c.instructions)), st.data())
def test_structural_mutations_raise_only_remote_protocol_error(
    changeset: Changeset, data: st.DataObject
) -> None:
    raw: Any = msgpack.unpackb(encode_changeset(changeset), raw=False)
    # Walk to a random node and replace it with any msgpack value.
    node = raw
    while True:
        index = data.draw(st.integers(0, len(node) - 1))
        child = node[index]
        if isinstance(child, list) and child and data.draw(st.booleans()):
            node = child
            continue
        try:
            node[index] = data.draw(_ANY_MSGPACK)
        except Exception:
            return
        break
    try:
        packed = pack(raw)
    except Exception:
        return
    _decode_or_protocol_error(packed)
