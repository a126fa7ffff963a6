"""A tiny writer of Realm Core file structures, for tests only.

The corpus of genuine files does not hold every leaf kind (no narrow decimals,
enum strings, big blobs, typed links, embedded tables, B+tree inner nodes with
offsets, ...), so these tests build small files node by node, following the
same layout notes as the reader (docs/realmfile.md). Each helper appends one
node and returns its ref.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Column types and attributes (realm/column_type.hpp).
INT, BOOL, STRING, BINARY, MIXED, TIMESTAMP, FLOAT, DOUBLE, DECIMAL = 0, 1, 2, 4, 6, 8, 9, 10, 11
LINK, LINKLIST, BACKLINK, OBJECT_ID, TYPED_LINK, UUID = 12, 13, 14, 15, 16, 17
INDEXED, NULLABLE, LIST, DICTIONARY, SET = 1, 16, 32, 64, 128
COOKIE = 0x3034125237E526C8
NULL_TABLE = 0x7FFFFFFF


def tagged(n: int) -> int:
    return (n << 1) | 1


def col_key(leaf_index: int, col_type: int, attrs: int = 0, tag: int = 0) -> int:
    return leaf_index | (col_type << 16) | ((attrs & 0xFF) << 22) | (tag << 30)


def bid32(sign: int, coefficient: int, exponent: int) -> int:
    return (sign << 31) | ((exponent + 101) << 23) | coefficient


def bid64(sign: int, coefficient: int, exponent: int) -> int:
    if coefficient >= 1 << 53:  # the "large coefficient" form
        return (sign << 63) | (3 << 61) | ((exponent + 398) << 51) | (coefficient & 0x7FFFFFFFFFFFF)
    return (sign << 63) | ((exponent + 398) << 53) | coefficient


def bid128(sign: int, coefficient: int, exponent: int) -> tuple[int, int]:
    hi = (sign << 63) | ((exponent + 6176) << 49) | (coefficient >> 64)
    return coefficient & 0xFFFFFFFFFFFFFFFF, hi


def _bits_for(values: Sequence[int]) -> int:
    if not values:
        return 0
    lo, hi = min(values), max(values)
    if lo >= 0:
        for width in (0, 1, 2, 4):
            if hi < (1 << width):
                return width
    for width in (8, 16, 32, 64):
        if -(1 << (width - 1)) <= lo and hi < (1 << (width - 1)):
            return width
    raise ValueError("value does not fit in 64 bits")


class Builder:
    """Appends nodes to an in-memory file; ``finish()`` writes the header."""

    def __init__(self) -> None:
        self.data = bytearray(24)

    def node(
        self,
        payload: bytes,
        size: int,
        width: int,
        wtype: int,
        *,
        refs: bool = False,
        inner: bool = False,
        context: bool = False,
    ) -> int:
        ref = len(self.data)
        code = 0 if width == 0 else width.bit_length()
        flags = (inner << 7) | (refs << 6) | (context << 5) | (wtype << 3) | code
        self.data += b"AAAA" + bytes([flags]) + size.to_bytes(3, "big") + payload
        self.data += bytes(-len(self.data) % 8)
        return ref

    def ints(
        self,
        values: Sequence[int],
        *,
        refs: bool = False,
        inner: bool = False,
        context: bool = False,
        width: int | None = None,
    ) -> int:
        values = list(values)
        w = _bits_for(values) if width is None else width
        if w >= 8:
            payload = struct.pack(
                f"<{len(values)}{ {8: 'b', 16: 'h', 32: 'i', 64: 'q'}[w] }", *values
            )
        else:
            acc = 0
            for i, v in enumerate(values):
                acc |= v << (i * w)
            payload = acc.to_bytes((len(values) * w + 7) // 8, "little")
        return self.node(payload, len(values), w, 0, refs=refs, inner=inner, context=context)

    def blob(self, raw: bytes) -> int:
        return self.node(raw, len(raw), 1, 2)

    # -- strings and binaries --------------------------------------------------------

    def short_strings(self, values: Sequence[str | None]) -> int:
        encoded = [None if v is None else v.encode() for v in values]
        longest = max((len(v) for v in encoded if v is not None), default=-1)
        width = 0 if longest < 0 and all(v is None for v in encoded) else 4
        while width and width - 1 < longest:
            width *= 2
        payload = b""
        for v in encoded:
            if width == 0:
                break
            if v is None:
                payload += bytes(width - 1) + bytes([width])
            else:
                payload += v + bytes(width - 1 - len(v)) + bytes([width - 1 - len(v)])
        return self.node(payload, len(values), width, 1)

    def small_blobs(self, values: Sequence[bytes | None], zero_term: bool) -> int:
        offsets: list[int] = []
        nulls: list[int] = []
        blob = b""
        for v in values:
            if v is not None:
                blob += v + (b"\0" if zero_term else b"")
            nulls.append(int(v is None))
            offsets.append(len(blob))
        return self.ints([self.ints(offsets), self.blob(blob), self.ints(nulls)], refs=True)

    def big_blobs(self, values: Sequence[bytes | None], zero_term: bool) -> int:
        refs = [0 if v is None else self.blob(v + (b"\0" if zero_term else b"")) for v in values]
        return self.ints(refs, refs=True, context=True)

    def medium_strings(self, values: Sequence[str | None]) -> int:
        return self.small_blobs([None if v is None else v.encode() for v in values], True)

    def big_strings(self, values: Sequence[str | None]) -> int:
        return self.big_blobs([None if v is None else v.encode() for v in values], True)

    # -- fixed-size values ---------------------------------------------------------------

    def fixed_bytes(self, values: Sequence[bytes | None], elem: int) -> int:
        payload = b""
        for start in range(0, len(values), 8):
            chunk = values[start : start + 8]
            nulls = sum(1 << i for i, v in enumerate(chunk) if v is None)
            payload += bytes([nulls]) + b"".join(v or bytes(elem) for v in chunk)
        return self.node(payload, len(payload), 1, 1)

    def decimals(self, raw: Sequence[int], width: int, *, context: bool = False) -> int:
        if width == 16:
            words: list[int] = []
            for lo_hi in raw:
                words.extend(lo_hi)  # type: ignore[arg-type]
            payload = struct.pack(f"<{len(words)}Q", *words)
        elif width:
            payload = struct.pack(f"<{len(raw)}{'I' if width == 4 else 'Q'}", *raw)
        else:
            payload = b""
        return self.node(payload, len(raw), width, 1, context=context)

    def floats(self, values: Sequence[float | int], double: bool, raw_bits: bool = False) -> int:
        code = ("Q" if double else "I") if raw_bits else ("d" if double else "f")
        payload = struct.pack(f"<{len(values)}{code}", *values)
        return self.node(payload, len(values), 8 if double else 4, 1)

    def int_null(self, values: Sequence[int | None], null: int = -(1 << 63)) -> int:
        return self.ints([null, *(null if v is None else v for v in values)])

    def timestamps(self, values: Sequence[tuple[int, int] | None]) -> int:
        seconds = self.int_null([None if v is None else v[0] for v in values])
        nanos = self.ints([0 if v is None else v[1] for v in values])
        return self.ints([seconds, nanos], refs=True)

    # -- trees -------------------------------------------------------------------------------

    def cluster(self, keys: Sequence[int] | int, columns: Sequence[int]) -> int:
        first = tagged(keys) if isinstance(keys, int) else self.ints(list(keys), width=None)
        return self.ints([first, *columns], refs=True)

    def cluster_inner(
        self, children: Sequence[int], depth: int, size: int, offsets: Sequence[int] | None = None
    ) -> int:
        first = self.ints(list(offsets)) if offsets is not None else 0
        return self.ints([first, tagged(depth), tagged(size), *children], refs=True, inner=True)

    def bptree_inner(
        self,
        children: Sequence[int],
        total: int,
        offsets: Sequence[int] | None = None,
        per_child: int = 1000,
    ) -> int:
        first = self.ints(list(offsets)) if offsets is not None else tagged(per_child)
        return self.ints([first, *children, tagged(total)], refs=True, inner=True)

    def mixed(self, values: Sequence[Any]) -> int:
        """An ArrayMixed: values are None, ('int', n), ('bool', b), ('string', s),
        ('float', f), ('double', d), ('decimal', (lo, hi)), ('link', key),
        ('typed', (table, key)), ('list', ref), ('dict', ref), ('timestamp', (s, ns))."""
        composite, ints, pairs, strings, refs = [], [], [], [], []
        types = {
            "int": 0,
            "bool": 1,
            "string": 2,
            "binary": 4,
            "timestamp": 8,
            "float": 9,
            "double": 10,
            "decimal": 11,
            "link": 12,
            "oid": 15,
            "typed": 16,
            "uuid": 17,
            "list": 19,
            "dict": 21,
        }
        for v in values:
            if v is None:
                composite.append(0)
                continue
            kind, x = v
            t = types[kind] + 1
            if kind in ("int", "bool") and -(1 << 31) <= int(x) < (1 << 31):
                composite.append((int(x) << 8) | t)
            elif kind in ("int", "link", "float", "double"):
                if kind == "float":
                    x = struct.unpack("<I", struct.pack("<f", x))[0]
                elif kind == "double":
                    x = struct.unpack("<q", struct.pack("<d", x))[0]
                composite.append((len(ints) << 8) | (1 << 5) | t)
                ints.append(x)
            elif kind in ("timestamp", "decimal", "typed"):
                a, b = x
                if kind == "decimal":
                    a, b = struct.unpack("<qq", struct.pack("<QQ", a, b))
                composite.append((len(pairs) // 2 << 8) | (2 << 5) | t)
                pairs.extend([a, b])
            elif kind in ("list", "dict"):
                composite.append((len(refs) << 8) | (4 << 5) | t)
                refs.append(x)
            else:
                composite.append((len(strings) << 8) | (3 << 5) | t)
                strings.append(x.encode() if isinstance(x, str) else x)
        arrays = [
            self.ints(composite),
            self.ints(ints) if ints else 0,
            self.ints(pairs) if pairs else 0,
            self.small_blobs(strings, True) if strings else 0,
            self.ints(refs, refs=True) if refs else 0,
        ]
        return self.ints(arrays, refs=True)

    # -- tables and the file ---------------------------------------------------------------

    def spec(
        self,
        names: Sequence[str],
        types: Sequence[int],
        attrs: Sequence[int],
        keys: Sequence[int],
        enum_keys: Sequence[int] | None = None,
    ) -> int:
        return self.ints(
            [
                self.ints(types),
                self.short_strings(list(names)),
                self.ints(attrs),
                0,
                self.ints(list(enum_keys), refs=True) if enum_keys else 0,
                self.ints(keys),
            ],
            refs=True,
        )

    def table(
        self,
        spec: int,
        cluster: int,
        key: int,
        opposite_tables: Sequence[int],
        opposite_cols: Sequence[int],
        pk_col: int | None = None,
        table_type: int = 0,
    ) -> int:
        return self.ints(
            [
                spec,
                0,
                cluster,
                tagged(key),
                0,
                tagged(0),
                tagged(0),
                self.ints(opposite_tables),
                self.ints(opposite_cols),
                tagged(0),
                0,
                tagged(pk_col) if pk_col is not None else 0,
                tagged(table_type),
                0,
            ],
            refs=True,
        )

    def group(self, names: Sequence[str | None], tables: Sequence[int]) -> int:
        return self.ints(
            [self.short_strings(list(names)), self.ints(tables, refs=True), tagged(len(self.data))],
            refs=True,
        )

    def finish(self, top: int, fmt: int = 24, *, streaming: bool = False, slot: int = 0) -> bytes:
        out = bytearray(self.data)
        if streaming:
            struct.pack_into("<QQ", out, 0, 0xFFFFFFFFFFFFFFFF, 0)
            out += struct.pack("<QQ", top, COOKIE)
            formats = bytes([fmt, 0])
        else:
            tops = (top, 0) if slot == 0 else (0, top)
            struct.pack_into("<QQ", out, 0, *tops)
            formats = bytes([fmt, 0]) if slot == 0 else bytes([0, fmt])
        out[16:24] = b"T-DB" + formats + bytes([0, slot])
        return bytes(out)


@dataclass
class Col:
    name: str
    type: int
    attrs: int = 0
    target: int | None = None  # table key (links) / origin table key (backlinks)
    origin: int = 0  # backlinks: the origin column key
    key_type: int = 0


def keys_of(cols: Sequence[Col]) -> list[int]:
    return [col_key(i, c.type, c.attrs, tag=i) for i, c in enumerate(cols)]


def add_table(
    b: Builder,
    key: int,
    cols: Sequence[Col],
    cluster: int,
    *,
    pk: int | None = None,
    table_type: int = 0,
    enum_keys: Sequence[int] | None = None,
) -> int:
    spec = b.spec(
        [c.name for c in cols if c.type != BACKLINK],
        [(c.key_type << 16) | c.type for c in cols],
        [c.attrs for c in cols],
        keys_of(cols),
        enum_keys,
    )
    opposite = [NULL_TABLE if c.target is None else c.target for c in cols]
    origins = [c.origin for c in cols]
    pk_key = None if pk is None else keys_of(cols)[pk]
    return b.table(spec, cluster, key, opposite, origins, pk_key, table_type)


def two_tables(
    b: Builder,
    parent_cols: list[Col],
    parent_leaves: list[int],
    parent_count: int,
    child_cols: list[Col],
    child_leaves: list[int],
    child_count: int,
    child_type: int = 0,
    child_pk: int | None = None,
) -> int:
    parent = add_table(b, 0, parent_cols, b.cluster(parent_count, parent_leaves))
    child = add_table(
        b, 1, child_cols, b.cluster(child_count, child_leaves), table_type=child_type, pk=child_pk
    )
    return b.group(["class_Parent", "class_Child"], [parent, child])
