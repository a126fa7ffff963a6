"""Mixed values, and the choice of leaf decoder for a column or collection element.

A Mixed leaf (ArrayMixed) is ``[composite, ints, int pairs, strings, refs,
keys]``. Each composite element packs ``payload << 8 | slot << 5 | (type + 1)``
(0 is null): small ints and bools live in the payload itself, everything else
in one of the payload arrays at index ``payload`` (pairs at ``2 * payload``).
Format 24 adds nested collections: a list or dictionary ref in the refs array.

Links inside a Mixed and nested collections are returned as markers
(:class:`LinkRef`, :class:`CollectionRef`) that the object layer resolves, so
this module needs no knowledge of tables.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from studio.primitives.objectid import ObjectId
from studio.realmfile.bid import decode_bid128
from studio.realmfile.fastvalues import timestamp_value
from studio.realmfile.leaves import (
    _text,
    binary_leaf,
    bool_leaf,
    decimal_leaf,
    float_leaf,
    int_leaf,
    int_null_leaf,
    key_leaf,
    leaf_header,
    link_leaf,
    object_id_leaf,
    shortest_float32,
    string_bytes_leaf,
    string_leaf,
    timestamp_leaf,
    typed_link_leaf,
    uuid_leaf,
)
from studio.realmfile.node import RealmBuffer

# Realm Core's column / data types (realm/data_type.hpp, column_type.hpp).
T_INT: Final = 0
T_BOOL: Final = 1
T_STRING: Final = 2
T_BINARY: Final = 4
T_MIXED: Final = 6
T_TIMESTAMP: Final = 8
T_FLOAT: Final = 9
T_DOUBLE: Final = 10
T_DECIMAL: Final = 11
T_LINK: Final = 12
T_LINKLIST: Final = 13
T_BACKLINK: Final = 14
T_OBJECT_ID: Final = 15
T_TYPED_LINK: Final = 16
T_UUID: Final = 17
T_LIST: Final = 19  # only inside a Mixed (format 24)
T_SET: Final = 20
T_DICTIONARY: Final = 21

_PAYLOAD_INT, _PAYLOAD_PAIR, _PAYLOAD_STR, _PAYLOAD_REF = 1, 2, 3, 4


@dataclass(frozen=True, slots=True)
class LinkRef:
    """A link found in a Mixed or a dictionary: ``table_key`` None means "the
    column's target table" (an untyped link)."""

    table_key: int | None
    key: int


@dataclass(frozen=True, slots=True)
class CollectionRef:
    """A collection nested in a Mixed: ``kind`` is 'list', 'set' or 'dictionary'."""

    kind: str
    ref: int


_COLLECTION_KINDS = {T_LIST: "list", T_SET: "set", T_DICTIONARY: "dictionary"}


class _Payloads:
    """The payload arrays of one Mixed leaf, decoded on first use."""

    def __init__(self, buf: RealmBuffer, refs: list[int], what: str) -> None:
        self.buf = buf
        self.refs = refs
        self.what = what
        self._cache: dict[int, list[Any]] = {}

    def get(self, slot: int, index: int, width: int = 1) -> Any:
        values = self._cache.get(slot)
        if values is None:
            ref = self.refs[slot] if slot < len(self.refs) else 0
            if not ref or ref & 1:
                raise self.buf.corrupt(
                    f"{self.what}: a value refers to a missing payload array", None
                )
            name = f"{self.what} payload"
            if slot == _PAYLOAD_STR:
                values = string_bytes_leaf(self.buf, ref, None, name)
            else:
                values = self.buf.node_ints(ref, name)
            self._cache[slot] = values
        start = index * width
        if not 0 <= start <= len(values) - width:
            raise self.buf.corrupt(f"{self.what}: a value points past its payload array", None)
        return values[start] if width == 1 else values[start : start + width]


def _fixed(buf: RealmBuffer, raw: Any, size: int, what: str) -> bytes:
    if not isinstance(raw, bytes) or len(raw) < size:
        raise buf.corrupt(f"{what}: a {size}-byte value is too short", None)
    return raw[:size]


def mixed_leaf(buf: RealmBuffer, ref: int, what: str = "mixed leaf") -> list[Any]:
    hdr = leaf_header(buf, ref, what)
    if not hdr.has_refs or hdr.size < 1:
        raise buf.corrupt(f"{what} at offset {ref} is not a Mixed array", ref)
    refs = buf.ints(hdr)
    if refs[0] & 1 or not refs[0]:
        raise buf.corrupt(f"{what} at offset {ref} lacks its type array", ref)
    composite = buf.node_ints(refs[0], f"{what} types")
    payloads = _Payloads(buf, refs, what)
    out: list[Any] = []
    for v in composite:
        if v == 0:
            out.append(None)
            continue
        kind = (v & 0x1F) - 1
        slot = (v >> 5) & 7
        n = v >> 8
        if kind == T_INT:
            out.append(payloads.get(_PAYLOAD_INT, n) if slot else n)
        elif kind == T_BOOL:
            out.append(n != 0)
        elif kind == T_STRING:
            raw = payloads.get(_PAYLOAD_STR, n)
            out.append(None if raw is None else _text(raw))
        elif kind == T_BINARY:
            out.append(payloads.get(_PAYLOAD_STR, n))
        elif kind == T_FLOAT:
            bits = payloads.get(_PAYLOAD_INT, n) & 0xFFFFFFFF
            out.append(shortest_float32(struct.unpack("<f", struct.pack("<I", bits))[0]))
        elif kind == T_DOUBLE:
            bits = payloads.get(_PAYLOAD_INT, n) & 0xFFFFFFFFFFFFFFFF
            out.append(struct.unpack("<d", struct.pack("<Q", bits))[0])
        elif kind == T_TIMESTAMP:
            seconds, nanos = payloads.get(_PAYLOAD_PAIR, n, 2)
            out.append(timestamp_value(seconds, nanos))
        elif kind == T_DECIMAL:
            lo, hi = payloads.get(_PAYLOAD_PAIR, n, 2)
            out.append(decode_bid128(lo, hi))
        elif kind == T_OBJECT_ID:
            out.append(ObjectId(_fixed(buf, payloads.get(_PAYLOAD_STR, n), 12, what)))
        elif kind == T_UUID:
            out.append(uuid.UUID(bytes=_fixed(buf, payloads.get(_PAYLOAD_STR, n), 16, what)))
        elif kind == T_LINK:
            out.append(LinkRef(None, payloads.get(_PAYLOAD_INT, n)))
        elif kind == T_TYPED_LINK:
            table_key, key = payloads.get(_PAYLOAD_PAIR, n, 2)
            out.append(LinkRef(table_key & 0xFFFFFFFF, key))
        elif kind in _COLLECTION_KINDS and slot == _PAYLOAD_REF:
            child = payloads.get(_PAYLOAD_REF, n)
            if child & 1:
                raise buf.corrupt(f"{what}: a nested collection ref is a tagged number", ref)
            if child:
                buf.check_ref(child, f"{what} nested collection")
            out.append(CollectionRef(_COLLECTION_KINDS[kind], child))
        else:
            raise buf.corrupt(f"{what} at offset {ref} holds a value of unknown type {kind}", ref)
    return out


LeafDecoder = Callable[[RealmBuffer, int], list[Any]]


def element_decoder(
    col_type: int, nullable: bool, *, in_cluster: bool, enum_keys: list[str | None] | None = None
) -> LeafDecoder:
    """The decoder for a leaf of values of ``col_type``: a column leaf of a
    cluster (``in_cluster``) or a leaf of a list / set B+tree."""
    if col_type == T_INT:
        return int_null_leaf if nullable else int_leaf
    if col_type == T_BOOL:
        return lambda buf, ref: bool_leaf(buf, ref, nullable)
    if col_type == T_STRING:
        return lambda buf, ref: string_leaf(buf, ref, enum_keys)
    if col_type == T_BINARY:
        return binary_leaf
    if col_type == T_MIXED:
        return mixed_leaf
    if col_type == T_TIMESTAMP:
        return timestamp_leaf
    if col_type in (T_FLOAT, T_DOUBLE):
        double = col_type == T_DOUBLE
        return lambda buf, ref: float_leaf(buf, ref, double, nullable)
    if col_type == T_DECIMAL:
        return decimal_leaf
    if col_type in (T_LINK, T_LINKLIST):
        # A to-one link column stores key + 1; a list or set leaf the keys themselves.
        return link_leaf if in_cluster else key_leaf
    if col_type == T_OBJECT_ID:
        return object_id_leaf
    if col_type == T_UUID:
        return uuid_leaf
    if col_type == T_TYPED_LINK:
        return typed_link_leaf
    raise ValueError(f"no leaf decoder for column type {col_type}")
