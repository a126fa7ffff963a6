"""The encoded bodies of recently decoded changesets, for encoding them again.

The server decodes every uploaded changeset and, most of the time, stores and
sends it on unchanged apart from its header (its base version becomes the
server version before it): nothing concurrent touched what it touches. The
body of the encoding (string table and instructions: everything after the
five header integers) is then the body of the bytes it arrived in, so
:func:`~studio.sync.changeset.encode_changeset` reuses it instead of encoding
every instruction again.

Bodies are remembered by the identity of the decoded instruction tuple (which
the cache keeps alive, so the identity cannot be reused while it is cached; a
tuple never changes). A transformation that changes a changeset makes a new
tuple, which is then encoded from scratch. Only bytes that decoded without
error are remembered, so a body is always valid; it may differ from what our
own encoder would write (another encoder's string-table order), which is why
comparisons of changesets use the canonical encoding, never these bytes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from studio.primitives.instructions import Instruction

_MAX_BODIES: Final = 8192
# OrderedDict: dropping the oldest is O(1) (``del d[next(iter(d))]`` on a
# dict scans every slot deleted before it).
_BODIES: Final[OrderedDict[int, tuple[tuple[Instruction, ...], bytes]]] = OrderedDict()
# Changesets are decoded on several threads (the server's storage threads too).
_LOCK: Final = threading.Lock()

# Bytes a msgpack integer takes, by its first byte (fixints take one).
_INT_SIZE: Final = {0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9, 0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9}
# ... and for any first byte: fixints one, anything else (not an integer) so
# much that reading on goes past the end.
_SIZE_BY_FIRST_BYTE: Final = tuple(
    1 if b < 0x80 or b >= 0xE0 else _INT_SIZE.get(b, 1 << 62) for b in range(256)
)
_HEADER_INTS: Final = 5  # format, origin, client version, base version, timestamp
ARRAY_OF_SEVEN: Final = 0x97  # fixarray header of an encoded changeset


def body_offset(data: bytes | bytearray | memoryview) -> int | None:
    """Where the body starts in an encoded changeset (after the array
    header and the five header integers), or None for another layout."""
    if len(data) < 1 + _HEADER_INTS or data[0] != ARRAY_OF_SEVEN:
        return None
    sizes = _SIZE_BY_FIRST_BYTE
    try:  # unrolled: this runs for every decoded changeset
        pos = 1 + sizes[data[1]]
        pos += sizes[data[pos]]
        pos += sizes[data[pos]]
        pos += sizes[data[pos]]
        pos += sizes[data[pos]]
    except IndexError:  # past the end (a non-integer's huge size lands there too)
        return None
    return pos if pos < len(data) else None


def remember(instructions: tuple[Instruction, ...], data: bytes | bytearray | memoryview) -> None:
    """``data`` decoded (without error) to a changeset with ``instructions``."""
    offset = body_offset(data)
    if offset is None or type(instructions) is not tuple or not instructions:
        # The empty tuple is one object shared by every empty changeset: it
        # does not stand for one encoding.
        return
    body = bytes(data[offset:])
    with _LOCK:
        if len(_BODIES) >= _MAX_BODIES:
            _BODIES.popitem(last=False)  # the oldest remembered
        _BODIES[id(instructions)] = (instructions, body)


def body_of(instructions: tuple[Instruction, ...]) -> bytes | None:
    """The remembered body for exactly this instruction tuple, if any."""
    cached = _BODIES.get(id(instructions))
    if cached is not None and cached[0] is instructions:
        return cached[1]
    return None


def forget_all() -> None:
    """Empty the cache (for tests)."""
    with _LOCK:
        _BODIES.clear()
