"""Leaf arrays: one node (or a small group of nodes) holding the values of one
column for the objects of one cluster, or the elements of one B+tree leaf.

Each decoder turns a whole leaf into a Python list at once: a leaf holds at most
a few hundred values, and decoding them together (one ``struct.unpack_from`` for
an int leaf) is far cheaper than value by value.
"""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from studio.primitives.objectid import ObjectId
from studio.realmfile.bid import decode_bid32, decode_bid64, decode_bid128
from studio.realmfile.fastvalues import make_object_ids, make_uuids, timestamps
from studio.realmfile.node import (
    MAX_LEAF_ELEMENTS,
    WTYPE_BITS,
    WTYPE_IGNORE,
    WTYPE_MULTIPLY,
    NodeHeader,
    RealmBuffer,
)
from studio.realmfile.trees import bptree_leaves

_FLOAT_NULL: Final = 0x7FC000AA  # Realm's bit pattern for a null float
_DOUBLE_NULL: Final = 0x7FF80000000000AA  # ... and for a null double
_FLOAT32: Final = struct.Struct("<f")


def shortest_float32(value: float) -> float:
    """A single-precision value as the shortest decimal that reads back to the same
    float32: 3.140000104904175 (the float32 nearest 3.14, widened) becomes 3.14.

    Every reader of the value (the browser, ``studio convert``, the exports) then shows
    and writes what the app stored rather than the binary approximation's widening.
    """
    if not math.isfinite(value):
        return value
    packed = _FLOAT32.pack(value)
    # Six significant digits are always below float32's precision, so when they read
    # back they are the shortest form (fewer digits would show as the same text); nine
    # always read back.
    for digits in (6, 7, 8):
        candidate = float(f"{value:.{digits}g}")
        try:
            if _FLOAT32.pack(candidate) == packed:
                return candidate
        except OverflowError:  # rounded past the largest float32
            continue
    return float(f"{value:.9g}")


def leaf_header(buf: RealmBuffer, ref: int, what: str) -> NodeHeader:
    hdr = buf.header(ref, what)
    if hdr.size > MAX_LEAF_ELEMENTS and hdr.wtype == WTYPE_BITS:
        raise buf.corrupt(
            f"{what} at offset {ref} claims {hdr.size} elements, far more than a leaf holds", ref
        )
    return hdr


def _expect(
    buf: RealmBuffer,
    hdr: NodeHeader,
    what: str,
    *,
    refs: bool | None = None,
    wtype: int | None = None,
) -> None:
    if refs is not None and hdr.has_refs != refs:
        kind = "refs to other nodes" if hdr.has_refs else "plain values"
        raise buf.corrupt(f"{what} at offset {hdr.ref} unexpectedly holds {kind}", hdr.ref)
    if wtype is not None and hdr.wtype != wtype:
        raise buf.corrupt(f"{what} at offset {hdr.ref} has the wrong element encoding", hdr.ref)


# -- integers, booleans, floats ----------------------------------------------------


def int_leaf(buf: RealmBuffer, ref: int, what: str = "int leaf") -> list[int]:
    return buf.ints(leaf_header(buf, ref, what))


def int_null_leaf(buf: RealmBuffer, ref: int, what: str = "optional int leaf") -> list[int | None]:
    """ArrayIntNull: element 0 holds the value that stands for null (chosen so
    that no real element equals it); the values follow."""
    values = buf.ints(leaf_header(buf, ref, what))
    if not values:
        raise buf.corrupt(f"{what} at offset {ref} lacks its null-value element", ref)
    null = values[0]
    return [None if v == null else v for v in values[1:]]


def bool_leaf(
    buf: RealmBuffer, ref: int, nullable: bool, what: str = "bool leaf"
) -> list[bool | None]:
    values = buf.ints(leaf_header(buf, ref, what))
    if nullable:
        return [None if v == 3 else bool(v) for v in values]  # 3 = null (2-bit arrays)
    return [bool(v) for v in values]


def float_leaf(
    buf: RealmBuffer, ref: int, double: bool, nullable: bool, what: str = "float leaf"
) -> list[float | None]:
    hdr = leaf_header(buf, ref, what)
    if hdr.size == 0:
        return []
    size = 8 if double else 4
    if hdr.wtype != WTYPE_MULTIPLY or hdr.width != size:
        if hdr.width == 0:
            return [0.0] * hdr.size
        raise buf.corrupt(
            f"{what} at offset {ref} has {hdr.width}-byte elements, expected {size}", ref
        )
    raw = buf.payload(hdr)
    values: list[float | None] = list(
        struct.unpack_from(f"<{hdr.size}{'d' if double else 'f'}", raw)
    )
    if not double:  # each distinct value once, as for strings
        shortest = {v: shortest_float32(v) for v in set(values) if v is not None}
        values = [shortest[v] for v in values if v is not None]
    if nullable:
        bits = struct.unpack_from(f"<{hdr.size}{'Q' if double else 'I'}", raw)
        null = _DOUBLE_NULL if double else _FLOAT_NULL
        values = [None if b == null else v for v, b in zip(values, bits, strict=True)]
    return values


# -- strings and binaries -------------------------------------------------------------


def _text(raw: bytes) -> str:
    # Realm validates UTF-8 on input; a damaged byte should not make a row unreadable.
    return raw.decode("utf-8", errors="replace")


def _short_strings(buf: RealmBuffer, hdr: NodeHeader, what: str, text: bool) -> list[Any]:
    """ArrayStringShort: fixed-width slots; the last byte of a slot holds
    ``width - 1 - length`` (``width`` for null). The payload holds exactly
    ``size`` whole slots (checked with the header), so no slice runs short."""
    w = hdr.width
    if w == 0:
        return [None] * hdr.size
    raw = buf.payload(hdr)
    last = w - 1
    slots = [raw[start : start + w] for start in range(0, hdr.size * w, w)]
    # Short strings repeat a lot (a colour, a status): each distinct slot is
    # decoded once per leaf.
    distinct: dict[bytes, Any] = dict.fromkeys(slots)
    for slot in distinct:
        length = last - slot[last]
        if length >= 0:
            distinct[slot] = slot[:length].decode("utf-8", "replace") if text else slot[:length]
        elif length < -1:  # -1 is null: the value stays None
            start = slots.index(slot) * w
            raise buf.corrupt(
                f"{what}: a short string slot has a bad length byte", hdr.data + start + last
            )
    return list(map(distinct.__getitem__, slots))


def _small_blobs(
    buf: RealmBuffer, hdr: NodeHeader, strip_nul: bool, what: str, text: bool = False
) -> list[Any]:
    """ArraySmallBlobs: [end offsets, one blob, null flags (optional)]."""
    if hdr.size < 2:
        raise buf.corrupt(f"{what} at offset {hdr.ref} lacks its offsets or blob", hdr.ref)
    offsets_ref = buf.child_ref(hdr, 0, f"{what} offsets")
    blob_ref = buf.child_ref(hdr, 1, f"{what} blob")
    if not offsets_ref or not blob_ref:
        raise buf.corrupt(f"{what} at offset {hdr.ref} has a missing offsets or blob node", hdr.ref)
    offsets = buf.ints(leaf_header(buf, offsets_ref, f"{what} offsets"))
    blob_hdr = buf.header(blob_ref, f"{what} blob")
    blob = buf.payload(blob_hdr)
    nulls: list[int] = []
    if hdr.size > 2:
        nulls_ref = buf.child_ref(hdr, 2, f"{what} nulls")
        if nulls_ref:
            nulls = buf.ints(buf.header(nulls_ref, f"{what} nulls"))
    if not offsets:
        return []
    # One check for the whole leaf -- offsets never decrease (sorted() is linear
    # on sorted input), the first is >= 0 and the last inside the blob -- then
    # the values are cut without further checks.
    if offsets[0] < 0 or offsets[-1] > len(blob) or offsets != sorted(offsets):
        bad = next(
            i
            for i, (begin, end) in enumerate(zip([0, *offsets], offsets, strict=False))
            if end < begin or end > len(blob)
        )
        raise buf.corrupt(f"{what}: element {bad} has an offset outside its blob", blob_hdr.ref)
    values: list[Any]
    if offsets[-1] == 0:  # every value empty (a column nobody filled in)
        values = [b""] * len(offsets)
    else:
        bounds = zip([0, *offsets[:-1]], offsets, strict=True)
        if strip_nul:  # strings end with a NUL that is not part of the value
            values = [blob[b : e - 1] if e > b else b"" for b, e in bounds]
        else:
            values = [blob[b:e] for b, e in bounds]
    if text:
        values = [v.decode("utf-8", "replace") for v in values]
    if any(nulls):
        values = [None if i < len(nulls) and nulls[i] else v for i, v in enumerate(values)]
    return values


def _blob(buf: RealmBuffer, ref: int, what: str, depth: int = 0) -> bytes:
    """One blob node. Values above 16 MB are split: a has-refs blob with the
    context flag lists the chunks."""
    hdr = buf.header(ref, what)
    if hdr.has_refs and hdr.context:
        if depth > 2:
            raise buf.corrupt(f"{what} at offset {ref} nests chunk lists too deeply", ref)
        parts = [
            _blob(buf, child, what, depth + 1) for child in buf.ints(hdr) if child and not child & 1
        ]
        return b"".join(parts)
    if hdr.wtype != WTYPE_IGNORE:
        raise buf.corrupt(f"{what} at offset {ref} is not a blob", ref)
    return buf.payload(hdr)


def _big_blobs(
    buf: RealmBuffer, hdr: NodeHeader, strip_nul: bool, what: str, text: bool = False
) -> list[Any]:
    """ArrayBigBlobs: one ref per value (0 = null) to a blob of its own."""
    out: list[Any] = []
    for i, child in enumerate(buf.ints(hdr)):
        if child == 0:
            out.append(None)
            continue
        if child & 1:
            raise buf.corrupt(f"{what}: element {i} is not a ref", hdr.ref)
        buf.check_ref(child, f"{what} element {i}")
        value = _blob(buf, child, what)
        if strip_nul:
            value = value[:-1]
        out.append(_text(value) if text else value)
    return out


def _string_leaf(
    buf: RealmBuffer, ref: int, enum_keys: list[str | None] | None, what: str, text: bool
) -> list[Any]:
    hdr = leaf_header(buf, ref, what)
    if not hdr.has_refs:
        if hdr.wtype == WTYPE_MULTIPLY:
            return _short_strings(buf, hdr, what, text)
        # Integers: indexes into the column's enum keys (a "StringEnum" column).
        if enum_keys is None:
            raise buf.corrupt(
                f"{what} at offset {ref} holds enum string indexes but the column has no enum keys",
                ref,
            )
        indexes = buf.ints(hdr)
        if indexes and not 0 <= min(indexes) <= max(indexes) < len(enum_keys):
            bad = next(i for i in indexes if not 0 <= i < len(enum_keys))
            raise buf.corrupt(f"{what}: enum string index {bad} is out of range", ref)
        if text:
            return [enum_keys[i] for i in indexes]
        return [None if (key := enum_keys[i]) is None else key.encode() for i in indexes]
    if hdr.context:
        return _big_blobs(buf, hdr, True, what, text)
    return _small_blobs(buf, hdr, True, what, text)


def string_bytes_leaf(
    buf: RealmBuffer, ref: int, enum_keys: list[str | None] | None = None, what: str = "string leaf"
) -> list[bytes | None]:
    """ArrayString in all its forms, as raw bytes: short (fixed-width slots),
    medium (one blob plus offsets), big (one blob per value). Mixed values keep
    binaries, ObjectIds and UUIDs in such an array too."""
    return _string_leaf(buf, ref, enum_keys, what, False)


def string_leaf(
    buf: RealmBuffer, ref: int, enum_keys: list[str | None] | None = None, what: str = "string leaf"
) -> list[str | None]:
    """ArrayString as text, including the int indexes of an enum ("StringEnum") column."""
    return _string_leaf(buf, ref, enum_keys, what, True)


def binary_leaf(buf: RealmBuffer, ref: int, what: str = "binary leaf") -> list[bytes | None]:
    hdr = leaf_header(buf, ref, what)
    _expect(buf, hdr, what, refs=True)
    if hdr.context:
        return _big_blobs(buf, hdr, False, what)
    return _small_blobs(buf, hdr, False, what)


# -- timestamps, ObjectIds, UUIDs, decimals ---------------------------------------------


def timestamp_leaf(
    buf: RealmBuffer, ref: int, what: str = "timestamp leaf"
) -> list[datetime | None]:
    """ArrayTimestamp: [seconds (nullable ints), nanoseconds]."""
    hdr = leaf_header(buf, ref, what)
    _expect(buf, hdr, what, refs=True)
    if hdr.size < 2:
        raise buf.corrupt(f"{what} at offset {ref} lacks its seconds or nanoseconds", ref)
    seconds = int_null_leaf(buf, buf.child_ref(hdr, 0, f"{what} seconds"), f"{what} seconds")
    nanos = int_leaf(buf, buf.child_ref(hdr, 1, f"{what} nanoseconds"), f"{what} nanoseconds")
    if len(nanos) < len(seconds):
        raise buf.corrupt(f"{what} at offset {ref} has fewer nanoseconds than seconds", ref)
    return timestamps(seconds, nanos)


_STARTS: dict[tuple[int, int], list[int]] = {}  # (count, elem) -> value offsets


def fixed_bytes_leaf(
    buf: RealmBuffer, ref: int, elem: int, make: Callable[[list[bytes]], list[Any]], what: str
) -> list[Any]:
    """ArrayFixedBytes (ObjectId: 12 bytes, UUID: 16): blocks of one null-flag
    byte followed by eight values; the header counts bytes, not values.
    ``make`` turns a list of ``elem``-byte slices into values."""
    hdr = leaf_header(buf, ref, what)
    block = 1 + 8 * elem
    blocks = -(-hdr.size // block)
    count = (hdr.size - blocks) // elem
    if hdr.width == 0:
        return [None] * count
    if hdr.wtype != WTYPE_MULTIPLY or hdr.width != 1:
        raise buf.corrupt(f"{what} at offset {ref} is not a byte array", ref)
    raw = buf.payload(hdr)
    if count == 0:
        return []
    last = count - 1
    if (last >> 3) * block + 1 + ((last & 7) + 1) * elem > len(raw):
        # Checked once for the leaf, so that every slice below is whole and
        # ``make`` may skip its own length check.
        raise buf.corrupt(f"{what} at offset {ref} is shorter than its values", ref)
    starts = _STARTS.get((count, elem))
    if starts is None:
        if len(_STARTS) > 64:
            _STARTS.clear()
        starts = _STARTS[count, elem] = [
            (i >> 3) * block + 1 + (i & 7) * elem for i in range(count)
        ]
    slices = [raw[start : start + elem] for start in starts]
    # Columns often repeat values (all-zero UUIDs, say): one object per distinct value.
    distinct = dict.fromkeys(slices)
    if len(distinct) == count:
        out = make(slices)
    else:
        lookup = dict(zip(distinct, make(list(distinct)), strict=True))
        out = list(map(lookup.__getitem__, slices))
    flags = raw[::block]  # the null-flag byte of each block
    if any(flags):
        for i in range(count):
            if flags[i >> 3] >> (i & 7) & 1:
                out[i] = None
    return out


def object_id_leaf(
    buf: RealmBuffer, ref: int, what: str = "ObjectId leaf"
) -> list[ObjectId | None]:
    return fixed_bytes_leaf(buf, ref, 12, make_object_ids, what)


def uuid_leaf(buf: RealmBuffer, ref: int, what: str = "UUID leaf") -> list[uuid.UUID | None]:
    return fixed_bytes_leaf(buf, ref, 16, make_uuids, what)


def decimal_leaf(buf: RealmBuffer, ref: int, what: str = "decimal leaf") -> list[Decimal | None]:
    """ArrayDecimal128: BID128 values; format 24 narrows a leaf to 4 or 8 bytes
    per value (BID32 / BID64) when every value fits, or to 0 bytes when all are
    null -- or all zero, if the context flag says so."""
    hdr = leaf_header(buf, ref, what)
    if hdr.size == 0:
        return []
    if hdr.width == 0:
        return [Decimal(0) if hdr.context else None] * hdr.size
    if hdr.wtype != WTYPE_MULTIPLY or hdr.width not in (4, 8, 16):
        raise buf.corrupt(f"{what} at offset {ref} has {hdr.width}-byte elements", ref)
    raw = buf.payload(hdr)
    if hdr.width == 4:
        return [decode_bid32(v) for v in struct.unpack_from(f"<{hdr.size}I", raw)]
    if hdr.width == 8:
        return [decode_bid64(v) for v in struct.unpack_from(f"<{hdr.size}Q", raw)]
    words = struct.unpack_from(f"<{hdr.size * 2}Q", raw)
    return [decode_bid128(words[i], words[i + 1]) for i in range(0, len(words), 2)]


# -- links ---------------------------------------------------------------------------


def link_leaf(buf: RealmBuffer, ref: int, what: str = "link leaf") -> list[int | None]:
    """ArrayKey of a to-one link column: target key + 1, 0 for null. Keys below
    -1 are unresolved links (to an object deleted by sync); they read as null."""
    out: list[int | None] = []
    for v in buf.ints(leaf_header(buf, ref, what)):
        key = v - 1
        out.append(key if key >= 0 else None)
    return out


def key_leaf(buf: RealmBuffer, ref: int, what: str = "link list leaf") -> list[int]:
    """ArrayKeyNonNullable of a link list / set B+tree leaf: the keys themselves.
    Unresolved links (negative keys) are left out, as Realm's lists do."""
    return [k for k in buf.ints(leaf_header(buf, ref, what)) if k >= 0]


def typed_link_leaf(
    buf: RealmBuffer, ref: int, what: str = "typed link leaf"
) -> list[tuple[int, int] | None]:
    """ArrayTypedLink: pairs (table key + 1, object key + 1); 0 for null."""
    values = buf.ints(leaf_header(buf, ref, what))
    out: list[tuple[int, int] | None] = []
    for i in range(0, len(values) - 1, 2):
        if values[i] == 0:
            out.append(None)
        else:
            out.append(((values[i] - 1) & 0x7FFFFFFF, values[i + 1] - 1))
    return out


def backlink_leaf(buf: RealmBuffer, ref: int, what: str = "backlink leaf") -> list[list[int]]:
    """ArrayBacklink: per object 0 (none), a tagged key (one), or a ref to the
    keys -- a B+tree of keys, whose root is a plain array while it is small."""
    hdr = leaf_header(buf, ref, what)
    out: list[list[int]] = []
    for i, v in enumerate(buf.ints(hdr)):
        if v == 0:
            out.append([])
        elif v & 1:
            out.append([v >> 1])
        else:
            buf.check_ref(v, f"{what} element {i}")
            leaves, total = bptree_leaves(buf, v, f"{what} key list")
            keys = [
                k for leaf in leaves for k in buf.ints(leaf_header(buf, leaf, f"{what} key list"))
            ]
            if total is not None and total != len(keys):
                raise buf.corrupt(
                    f"{what}: a key list claims {total} keys but holds {len(keys)}", v
                )
            out.append(keys)
    return out


def ref_leaf(buf: RealmBuffer, ref: int, what: str = "collection column leaf") -> list[int]:
    """ArrayRef of a list, set or dictionary column: one root ref per object (0 = empty).
    Each ref is checked when its collection is read, so damage stays with that object."""
    hdr = leaf_header(buf, ref, what)
    values = buf.ints(hdr)
    for i, v in enumerate(values):
        if v & 1:
            raise buf.corrupt(f"{what}: element {i} is not a ref", ref)
    return values
