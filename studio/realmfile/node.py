"""The bottom layer: the memory-mapped file, its 24-byte header, and Realm's nodes.

A Realm Core file is a forest of *arrays* ("nodes"). Each node starts with an
8-byte header (``AAAA`` or, in nodes of old writers, the capacity; flags; element
count) followed by
its payload, and is addressed by its byte offset in the file (a *ref*). Every
structure above -- tables, clusters, B+trees, strings -- is built from nodes.

Everything here is defensive: a ref or a length read from the file is checked
against the file size before it is used, so a damaged file gives a
:class:`CorruptRealmError` naming the offset instead of an ``IndexError`` or
``struct.error``. The file is mapped with ``ACCESS_READ``: it is never written,
and an app may keep it open (and keep committing to it) meanwhile.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from itertools import chain
from typing import Final

from studio.realmfile.errors import (
    CorruptRealmError,
    EncryptedRealmError,
    NotARealmFileError,
    RealmFileError,
    UnsupportedFormatError,
)

FILE_HEADER_SIZE: Final = 24
NODE_HEADER_SIZE: Final = 8
STREAMING_COOKIE: Final = 0x3034125237E526C8
MIN_FORMAT: Final = 20
MAX_FORMAT: Final = 24

# Width types of the node header (bits 3-4 of the flags byte).
WTYPE_BITS: Final = 0  # width = bits per element
WTYPE_MULTIPLY: Final = 1  # width = bytes per element
WTYPE_IGNORE: Final = 2  # one byte per element (blobs)

# Nodes of released SDKs never hold more than 1000 elements in a B+tree or
# cluster leaf; a leaf claiming far more is damage, and refusing it keeps a
# corrupt file from making us build a list of millions of zeros out of 8 bytes.
MAX_LEAF_ELEMENTS: Final = 1 << 16
# Trees are a few levels deep (1000-way fan-out); anything deeper is a cycle.
MAX_TREE_DEPTH: Final = 48

_SIGNED = {8: "b", 16: "h", 32: "i", 64: "q"}
_UNSIGNED = {8: "B", 16: "H", 32: "I", 64: "Q"}

# Per-byte lookup tables for the packed 1-, 2- and 4-bit widths
# (least significant bits first), so a whole leaf decodes with one chain().
_PACKED = {
    width: [
        tuple((b >> (i * width)) & ((1 << width) - 1) for i in range(8 // width))
        for b in range(256)
    ]
    for width in (1, 2, 4)
}


# Not frozen, though nothing ever assigns to one: a header is made for every node
# read, and a frozen dataclass's __init__ (object.__setattr__ per field) costs
# about five times as much.
@dataclass(slots=True, eq=False)
class NodeHeader:
    """The decoded 8-byte header of the node at ``ref`` (read-only by convention)."""

    ref: int
    size: int  # number of elements
    width: int  # bits (WTYPE_BITS) or bytes (WTYPE_MULTIPLY) per element
    wtype: int
    is_inner: bool  # inner node of a B+tree / cluster tree
    has_refs: bool  # even elements are refs to child nodes
    context: bool  # meaning depends on the node kind
    byte_size: int  # payload bytes, not counting the header

    @property
    def data(self) -> int:
        return self.ref + NODE_HEADER_SIZE


@dataclass(frozen=True, slots=True)
class FileHeader:
    format_version: int
    top_ref: int
    streaming: bool


class RealmBuffer:
    """A read-only memory map of a realm file with bounds-checked node access."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < FILE_HEADER_SIZE:
                    raise NotARealmFileError(
                        f"not a Realm file: it is only {size} bytes long, shorter than the "
                        f"{FILE_HEADER_SIZE}-byte Realm file header",
                        path=self.path,
                    )
                self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise RealmFileError(
                f"cannot read the file: {exc.strerror or exc}", path=self.path
            ) from exc
        self.size = len(self._mm)
        self._headers: dict[int, NodeHeader] = {}
        self.closed = False

    # -- life cycle -------------------------------------------------------------

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._headers.clear()
            self._mm.close()

    def _check_open(self) -> None:
        if self.closed:
            raise RealmFileError("the realm file was closed", path=self.path)

    # -- raw bytes ----------------------------------------------------------------

    def corrupt(self, message: str, offset: int | None) -> CorruptRealmError:
        return CorruptRealmError(message, path=self.path, offset=offset)

    def read(self, offset: int, length: int, what: str = "data") -> bytes:
        self._check_open()
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.corrupt(
                f"{what} of {length} bytes at offset {offset} lies outside the file "
                f"({self.size} bytes); the file is truncated or damaged",
                offset,
            )
        return self._mm[offset : offset + length]

    def unpack(self, fmt: str, offset: int, what: str = "data") -> tuple[int, ...]:
        self._check_open()
        length = struct.calcsize(fmt)
        if offset < 0 or offset + length > self.size:
            raise self.corrupt(
                f"{what} at offset {offset} lies outside the file ({self.size} bytes)", offset
            )
        return struct.unpack_from(fmt, self._mm, offset)

    # -- the file header ---------------------------------------------------------

    def file_header(self) -> FileHeader:
        """Read and validate the 24-byte header (and the streaming footer if used)."""
        raw = self.read(0, FILE_HEADER_SIZE, "file header")
        top0, top1 = struct.unpack_from("<QQ", raw, 0)
        if raw[16:20] != b"T-DB":
            if looks_encrypted(self):
                raise EncryptedRealmError(
                    "this realm file is encrypted; reading encrypted realms is not supported "
                    "yet (a key would be needed): open it in the app that owns the key, or "
                    "export an unencrypted copy with writeCopy() and open that",
                    path=self.path,
                )
            raise NotARealmFileError(
                "not a Realm file: the 'T-DB' signature is missing at byte offset 16 "
                "(if this is an encrypted realm, a key would be needed)",
                path=self.path,
                offset=16,
            )
        flags = raw[23]
        slot = flags & 1
        fmt = raw[20 + slot]
        top = top1 if slot else top0
        streaming = top0 == 0xFFFFFFFFFFFFFFFF and slot == 0
        if top == 0 and fmt == 0:
            # Created but never committed to: a valid realm without tables.
            return FileHeader(fmt, 0, False)
        if fmt < MIN_FORMAT:
            raise UnsupportedFormatError(
                f"this realm uses file format {fmt}, which is older than the formats 20-24 this "
                "reader understands; opening the file once with a Realm SDK of version 10 or "
                "newer upgrades it",
                format_version=fmt,
                path=self.path,
                offset=20 + slot,
            )
        if fmt > MAX_FORMAT:
            raise UnsupportedFormatError(
                f"this realm uses file format {fmt}, which is newer than the formats 20-24 this "
                "reader understands",
                format_version=fmt,
                path=self.path,
                offset=20 + slot,
            )
        if streaming:
            if self.size < FILE_HEADER_SIZE + 16:
                raise self.corrupt("streaming-form file is too short to hold its footer", self.size)
            top, cookie = self.unpack("<QQ", self.size - 16, "streaming footer")
            if cookie != STREAMING_COOKIE:
                raise self.corrupt(
                    "the file is in streaming form but its 16-byte footer lacks the magic "
                    "cookie; the file is truncated",
                    self.size - 8,
                )
        if top == 0:
            # A freshly created file that was never committed to: no tables at all.
            return FileHeader(fmt, 0, streaming)
        self.check_ref(top, "top ref of the file header")
        return FileHeader(fmt, top, streaming)

    # -- nodes ----------------------------------------------------------------------

    def check_ref(self, ref: int, what: str) -> None:
        if ref < FILE_HEADER_SIZE or ref % 8 or ref + NODE_HEADER_SIZE > self.size:
            raise self.corrupt(
                f"{what} is {ref}, which is not a valid node position in a file of "
                f"{self.size} bytes",
                ref if 0 <= ref < self.size else None,
            )

    def header(self, ref: int, what: str = "node") -> NodeHeader:
        cached = self._headers.get(ref)
        if cached is not None:
            return cached
        self._check_open()
        self.check_ref(ref, f"ref to {what}")
        mm = self._mm
        marker = mm[ref + 3]
        if marker != 0x41 and marker != 0:  # 'A', or a verbatim in-memory header (below)
            raise self.corrupt(f"{what} at offset {ref} does not start with a node header", ref)
        flags = mm[ref + 4]
        size = (mm[ref + 5] << 16) | (mm[ref + 6] << 8) | mm[ref + 7]
        wtype = (flags >> 3) & 3
        width = (1 << (flags & 7)) >> 1
        if wtype == WTYPE_BITS:
            byte_size = (size * width + 7) >> 3
        elif wtype == WTYPE_MULTIPLY:
            byte_size = size * width
        elif wtype == WTYPE_IGNORE:
            byte_size = size
        else:
            raise self.corrupt(f"{what} at offset {ref} has an unknown width type {wtype}", ref + 4)
        if ref + NODE_HEADER_SIZE + byte_size > self.size:
            raise self.corrupt(
                f"{what} at offset {ref} claims {size} elements ({byte_size} bytes), which runs "
                f"past the end of the file ({self.size} bytes)",
                ref,
            )
        if marker == 0:
            _check_legacy_capacity(self, mm[ref : ref + 3], byte_size, what, ref)
        hdr = NodeHeader(
            ref,
            size,
            width,
            wtype,
            bool(flags & 0x80),
            bool(flags & 0x40),
            bool(flags & 0x20),
            byte_size,
        )
        if len(self._headers) > 200_000:
            self._headers.clear()
        self._headers[ref] = hdr
        return hdr

    def ints(self, hdr: NodeHeader, *, unsigned: bool = False) -> list[int]:
        """All elements of an integer node (widths 0-64, bits or bytes per element)."""
        n = hdr.size
        if n == 0:
            return []
        width = hdr.width
        if hdr.wtype == WTYPE_MULTIPLY:
            width *= 8  # bytes per element -> bits
        elif hdr.wtype != WTYPE_BITS:
            raise self.corrupt(f"node at offset {hdr.ref} is a blob, expected integers", hdr.ref)
        if width == 0:
            return [0] * n
        if width >= 8:
            table = _UNSIGNED if unsigned else _SIGNED
            code = table.get(width)
            if code is None:
                raise self.corrupt(f"node at offset {hdr.ref} has integer width {width}", hdr.ref)
            self._check_open()
            return list(struct.unpack_from(f"<{n}{code}", self._mm, hdr.data))
        raw = self.read(hdr.data, (n * width + 7) >> 3)
        lut = _PACKED[width]
        values = list(chain.from_iterable(lut[b] for b in raw))
        del values[n:]
        return values

    def int_at(self, hdr: NodeHeader, index: int) -> int:
        """One element of an integer node (signed for widths 8-64)."""
        if not 0 <= index < hdr.size:
            raise self.corrupt(
                f"element {index} of the node at offset {hdr.ref} requested, but it has only "
                f"{hdr.size}",
                hdr.ref,
            )
        width = hdr.width * 8 if hdr.wtype == WTYPE_MULTIPLY else hdr.width
        if width == 0:
            return 0
        if width >= 8:
            code = _SIGNED.get(width)
            if code is None:
                raise self.corrupt(f"node at offset {hdr.ref} has integer width {width}", hdr.ref)
            self._check_open()
            return int(struct.unpack_from("<" + code, self._mm, hdr.data + index * (width >> 3))[0])
        bit = index * width
        byte = self._mm[hdr.data + (bit >> 3)]
        return (byte >> (bit & 7)) & ((1 << width) - 1)

    def node_ints(self, ref: int, what: str = "node", *, unsigned: bool = False) -> list[int]:
        return self.ints(self.header(ref, what), unsigned=unsigned)

    def payload(self, hdr: NodeHeader) -> bytes:
        return self.read(hdr.data, hdr.byte_size)

    def child_ref(self, hdr: NodeHeader, index: int, what: str) -> int:
        """Element ``index`` of a has-refs node, as a ref (0 = none), validated."""
        value = self.int_at(hdr, index)
        if value == 0:
            return 0
        if value & 1:
            raise self.corrupt(
                f"{what}: expected a ref in element {index} of the node at offset {hdr.ref}, "
                f"found the tagged number {value >> 1}",
                hdr.ref,
            )
        self.check_ref(value, what)
        return value

    def tagged_at(self, hdr: NodeHeader, index: int, what: str) -> int:
        value = self.int_at(hdr, index)
        if not value & 1:
            raise self.corrupt(
                f"{what}: expected a tagged number in element {index} of the node at offset "
                f"{hdr.ref}, found {value}",
                hdr.ref,
            )
        return value >> 1


def _check_legacy_capacity(
    buf: RealmBuffer, capacity_bytes: bytes, byte_size: int, what: str, ref: int
) -> None:
    """Accept a node whose first four bytes are its in-memory capacity, not ``AAAA``.

    Files first written by realm-core up to v0.96.0 (early 2016) hold such nodes:
    in release builds ``GroupWriter::write_array`` (src/realm/group_writer.cpp,
    ``#ifdef REALM_DEBUG`` around the checksum) copied the in-memory header
    verbatim, i.e. ``|capacity (3 bytes, big-endian byte count)|reserved 0|``.
    Later writers only rewrite the nodes a commit changes, so an upgraded file
    (the .NET SDK's ForMigrationsToCopyAndMigrate.realm, format 22) still mixes
    both kinds. realm-core itself never reads bytes 0-3 ("checksum (not yet
    implemented)", src/realm/array.cpp); we check the capacity instead, so that
    a ref into zeroed or foreign bytes is still caught: an allocation is a
    multiple of 8 bytes and holds the header and the payload.
    """
    capacity = (capacity_bytes[0] << 16) | (capacity_bytes[1] << 8) | capacity_bytes[2]
    if capacity % 8 or capacity < NODE_HEADER_SIZE + byte_size:
        raise buf.corrupt(f"{what} at offset {ref} does not start with a node header", ref)


def looks_encrypted(buf: RealmBuffer) -> bool:
    """Realm's encryption keeps a table of IVs and HMACs (64 bytes per data page)
    in the first 4 KiB page of every 64 data pages; the rest of that page is zero
    and the whole file is a multiple of 4 KiB. Plain realms start with two top
    refs and 'T-DB', so that pattern tells an encrypted realm from other files."""
    if buf.size < 8192 or buf.size % 4096:
        return False
    first = buf.read(0, 4096, "first page")
    data_pages = buf.size // 4096 - 1
    used = min(64, data_pages) * 64
    if not any(first[:used]) or any(first[used:]):
        return False
    iv1: int = struct.unpack_from("<I", first, 0)[0]
    return iv1 != 0
