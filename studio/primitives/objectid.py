"""BSON-style ObjectId: 12 bytes, 4 of them a big-endian creation time in seconds."""

from __future__ import annotations

import binascii
import os
import threading
import time
from datetime import UTC, datetime
from typing import Final

_PROCESS_RANDOM: Final = os.urandom(5)
_counter_lock = threading.Lock()
_counter = int.from_bytes(os.urandom(3), "big")


def _next_counter() -> int:
    global _counter
    with _counter_lock:
        _counter = (_counter + 1) & 0xFFFFFF
        return _counter


class ObjectId:
    """An ObjectId as Realm and MongoDB use it.

    ``ObjectId()`` makes a new one; ``ObjectId('6001c033600510df3bbfd864')`` parses
    24 hex digits; ``ObjectId(b'...12 bytes...')`` wraps raw bytes. Ordering is
    the byte order, as in Realm.
    """

    __slots__ = ("_bytes",)

    def __init__(self, value: str | bytes | ObjectId | None = None) -> None:
        if value is None:
            raw = (
                int(time.time()).to_bytes(4, "big")
                + _PROCESS_RANDOM
                + _next_counter().to_bytes(3, "big")
            )
        elif isinstance(value, ObjectId):
            raw = value._bytes
        elif isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
            if len(raw) != 12:
                raise ValueError(f"an ObjectId is 12 bytes, got {len(raw)}")
        elif isinstance(value, str):
            if len(value) != 24:
                raise ValueError(
                    f"an ObjectId is 24 hex digits, got {len(value)} characters: {value!r}"
                )
            try:
                raw = binascii.unhexlify(value)
            except (binascii.Error, ValueError):
                raise ValueError(f"not a hexadecimal ObjectId: {value!r}") from None
        else:
            raise TypeError(f"cannot make an ObjectId from {type(value).__name__}")
        self._bytes: bytes = raw

    @property
    def binary(self) -> bytes:
        return self._bytes

    @property
    def generation_time(self) -> datetime:
        return datetime.fromtimestamp(int.from_bytes(self._bytes[:4], "big"), tz=UTC)

    def __str__(self) -> str:
        return self._bytes.hex()

    def __repr__(self) -> str:
        return f"ObjectId('{self._bytes.hex()}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectId) and other._bytes == self._bytes

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __lt__(self, other: ObjectId) -> bool:
        return self._bytes < other._bytes

    def __le__(self, other: ObjectId) -> bool:
        return self._bytes <= other._bytes

    def __gt__(self, other: ObjectId) -> bool:
        return self._bytes > other._bytes

    def __ge__(self, other: ObjectId) -> bool:
        return self._bytes >= other._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __reduce__(self) -> tuple[type[ObjectId], tuple[bytes]]:
        return (ObjectId, (self._bytes,))

    @classmethod
    def is_valid(cls, value: object) -> bool:
        try:
            cls(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return True
