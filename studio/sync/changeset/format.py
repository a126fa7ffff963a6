"""Constants of the changeset wire format (see :mod:`studio.sync.changeset`).

The format version, the extension types and value tags, and the instruction
codes with their wire lengths: what the encoder and the decoder share.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from studio.primitives.instructions import (
    AddClass,
    AddInteger,
    AddProperty,
    Clear,
    CreateObject,
    DictErase,
    DictSet,
    EraseObject,
    ListErase,
    ListInsert,
    ListMove,
    ListSet,
    SetErase,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue

FORMAT_VERSION: Final = 1

EXT_OBJECTID: Final = 1
EXT_UUID: Final = 2
EXT_DECIMAL: Final = 3
TAG_LINK: Final = 0
TAG_EMBEDDED: Final = 1

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
UINT64_MAX: Final = 2**64 - 1

# Instruction type codes. Append only: a code on the wire never changes meaning.
CODES: Final[dict[type, int]] = {
    AddClass: 0,
    AddProperty: 1,
    CreateObject: 2,
    EraseObject: 3,
    SetValue: 4,
    AddInteger: 5,
    ListInsert: 6,
    ListSet: 7,
    ListErase: 8,
    ListMove: 9,
    Clear: 10,
    SetInsert: 11,
    SetErase: 12,
    DictSet: 13,
    DictErase: 14,
}
NAMES: Final = {code: cls.__name__ for cls, code in CODES.items()}
# Array length of each instruction on the wire, including the code.
LENGTHS: Final = {
    0: 6,
    1: 7,
    2: 3,
    3: 3,
    4: 5,
    5: 5,
    6: 6,
    7: 6,
    8: 5,
    9: 6,
    10: 4,
    11: 5,
    12: 5,
    13: 6,
    14: 5,
}


def pack_uint(n: int) -> bytes:
    """A non-negative integer (at most UINT64_MAX) as msgpack packs it: the
    smallest form. For headers spliced around encoded bytes."""
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0xCC, n))
    if n < 0x10000:
        return b"\xcd" + n.to_bytes(2, "big")
    if n < 0x100000000:
        return b"\xce" + n.to_bytes(4, "big")
    return b"\xcf" + n.to_bytes(8, "big")
