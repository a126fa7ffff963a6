"""Re-encoding a decoded changeset reuses the body of the bytes it came in."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sync_strategies import changeset_key, changesets

from studio.primitives.instructions import Changeset, CreateObject, Set
from studio.sync.changeset import body_cache, canonical_encoding, decode_changeset, encode_changeset
from studio.sync.slots import slot_setters


@settings(max_examples=150)
@given(changesets, st.integers(0, 2**63 - 1))
def test_a_decoded_changeset_encodes_as_if_from_scratch(changeset: Changeset, base: int) -> None:
    decoded = decode_changeset(encode_changeset(changeset))
    if decoded.instructions:  # (empty ones are never remembered: see below)
        assert body_cache.body_of(decoded.instructions) is not None
    moved = dataclasses.replace(decoded, last_integrated_server_version=base)
    # Reusing the body gives exactly what encoding from scratch gives.
    assert encode_changeset(moved) == canonical_encoding(moved)
    assert changeset_key(decode_changeset(encode_changeset(moved))) == changeset_key(moved)


def test_bytes_from_another_encoder_are_reused_and_decode_the_same() -> None:
    changeset = Changeset(7, 3, 1, 1_700_000_000_000, (
        CreateObject("Item", 1), Set("Item", 1, ("name",), "x"),
    ))  # fmt: skip
    wire = msgpack.unpackb(canonical_encoding(changeset))
    # Another encoder: header integers in their widest form, the string table
    # in another order.
    strings = wire[5]
    order = list(reversed(range(len(strings))))
    renumber = {old: new for new, old in enumerate(order)}
    instructions = [
        [row[0], renumber[row[1]], row[2]]
        + ([[renumber[row[3][0]]], *row[4:]] if len(row) > 3 else [])
        for row in wire[6]
    ]
    header = b"".join(b"\xcf" + n.to_bytes(8, "big") for n in wire[:5])
    body = msgpack.packb([strings[i] for i in order]) + msgpack.packb(instructions)
    foreign = b"\x97" + header + body
    decoded = decode_changeset(foreign)
    assert changeset_key(decoded) == changeset_key(changeset)
    moved = dataclasses.replace(decoded, last_integrated_server_version=42)
    reused = encode_changeset(moved)
    assert reused.endswith(body)  # the foreign body, our header
    assert reused != canonical_encoding(moved)  # hence: compare canonical forms
    assert changeset_key(decode_changeset(reused)) == changeset_key(moved)


def test_other_layouts_are_not_remembered() -> None:
    assert body_cache.body_offset(b"") is None
    assert body_cache.body_offset(b"\x96\x01\x02\x03\x04\x05\x06") is None  # six items
    assert body_cache.body_offset(b"\x97\x01\x02\x03\x04\xc1\x90\x90") is None  # not an int
    assert body_cache.body_offset(b"\x97\x01\x02\x03\x04\x05") is None  # no body
    assert body_cache.body_offset(b"\x97\x01\xcd\x01\x00\x03\x04\x05\x90\x90") == 8


def test_the_cache_is_bounded_and_keyed_by_identity() -> None:
    body_cache.forget_all()
    first = decode_changeset(encode_changeset(Changeset(1, 1, 0, 0, (CreateObject("A", 0),))))
    for n in range(body_cache._MAX_BODIES + 10):
        decode_changeset(encode_changeset(Changeset(1, 1, 0, 0, (CreateObject("A", n),))))
    assert len(body_cache._BODIES) == body_cache._MAX_BODIES
    assert body_cache.body_of(first.instructions) is None  # the oldest went first
    last = decode_changeset(encode_changeset(Changeset(1, 1, 0, 0, (CreateObject("B", 1),))))
    assert body_cache.body_of(last.instructions) is not None
    equal_but_other = tuple(list(last.instructions))  # equal, but not the decoded tuple
    assert body_cache.body_of(equal_but_other) is None


def test_fast_built_instructions_are_ordinary_instructions() -> None:
    made = (CreateObject("Item", 7), Set("Item", 7, ("name",), "x"))
    changeset = Changeset(1, 1, 0, 0, made)
    decoded_changeset = decode_changeset(encode_changeset(changeset))
    decoded = decoded_changeset.instructions
    assert decoded == made and hash(decoded) == hash(made) and repr(decoded) == repr(made)
    assert [type(i) for i in decoded] == [CreateObject, Set]
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded[1].value = "y"  # type: ignore[misc]
    # The changeset is built the same way.
    assert decoded_changeset == changeset and hash(decoded_changeset) == hash(changeset)
    assert repr(decoded_changeset) == repr(changeset) and type(decoded_changeset) is Changeset
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded_changeset.client_version = 2  # type: ignore[misc]
    # A class whose fields changed makes the fast constructor refuse, loudly.
    with pytest.raises(RuntimeError, match="out of date"):
        slot_setters(Set, ("class_name", "primary_key", "path"))


def test_empty_changesets_are_never_served_from_the_cache() -> None:
    # A foreign encoding of an empty changeset with an (unused) string table.
    foreign = b"\x97\x01\x01\x01\x00\x00" + msgpack.packb(["unused"]) + msgpack.packb([])
    assert decode_changeset(foreign).instructions == ()
    empty = Changeset(2, 3, 4, 5, ())
    assert encode_changeset(empty) == canonical_encoding(empty)
