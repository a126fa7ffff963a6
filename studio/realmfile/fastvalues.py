"""Fast constructors for the value objects a leaf decodes to by the hundred.

``uuid.UUID(bytes=...)`` and ``ObjectId(...)`` validate their argument on every
call, which costs more than the rest of decoding the value. A leaf decoder has
already checked the length of every slice it passes (once per leaf), so here
the objects are made directly through their slot descriptors. Each fast maker
is checked once at import against the public constructor; if the class does
not look as expected (another Python version, another ObjectId), the public
constructor is used instead, so the shortcut can only make decoding faster,
never different. Timestamps, likewise, are made a leaf at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Final, Literal

from studio.primitives.objectid import ObjectId

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_DATE: Final = datetime.min.replace(tzinfo=UTC)
_MAX_DATE: Final = datetime.max.replace(tzinfo=UTC)

_PROBE: Final = bytes(range(1, 17))


def _uuids_slow(raws: list[bytes]) -> list[uuid.UUID]:
    return [uuid.UUID(bytes=raw) for raw in raws]


def _object_ids_slow(raws: list[bytes]) -> list[ObjectId]:
    return list(map(ObjectId, raws))


def _uuid_maker() -> Callable[[list[bytes]], list[uuid.UUID]]:
    try:
        slots = vars(uuid.UUID)
        set_int = slots["int"].__set__
        set_safe = slots["is_safe"].__set__
        unknown = uuid.SafeUUID.unknown
        new = object.__new__
        from_bytes = int.from_bytes

        def make(raws: list[bytes]) -> list[uuid.UUID]:
            # map() keeps every per-value step in C.
            n = len(raws)
            values: list[uuid.UUID] = list(map(new, repeat(uuid.UUID, n)))
            big: Literal["big"] = "big"
            for _ in map(set_int, values, map(from_bytes, raws, repeat(big, n))):
                pass
            for _ in map(set_safe, values, repeat(unknown, n)):
                pass
            return values

        (probe,), expected = make([_PROBE]), uuid.UUID(bytes=_PROBE)
        if (probe, str(probe), hash(probe), probe.is_safe) != (
            expected,
            str(expected),
            hash(expected),
            expected.is_safe,
        ):
            return _uuids_slow
        return make
    except (KeyError, AttributeError, TypeError, ValueError):
        return _uuids_slow


def _object_id_maker() -> Callable[[list[bytes]], list[ObjectId]]:
    try:
        set_bytes = vars(ObjectId)["_bytes"].__set__
        new = object.__new__

        def make(raws: list[bytes]) -> list[ObjectId]:
            values: list[ObjectId] = list(map(new, repeat(ObjectId, len(raws))))
            for _ in map(set_bytes, values, raws):
                pass
            return values

        (probe,), expected = make([_PROBE[:12]]), ObjectId(_PROBE[:12])
        if (probe, str(probe), hash(probe)) != (expected, str(expected), hash(expected)):
            return _object_ids_slow
        return make
    except (KeyError, AttributeError, TypeError, ValueError):
        return _object_ids_slow


# Each takes a list of slices of the right length (16 / 12 bytes) and returns
# the values in the same order.
make_uuids: Final = _uuid_maker()
make_object_ids: Final = _object_id_maker()


def timestamp_value(seconds: int, nanos: int) -> datetime:
    """A Realm timestamp as an aware UTC datetime (microsecond precision; dates
    beyond what datetime can hold are clamped to its range)."""
    micros = seconds * 1_000_000 + int(nanos / 1000)
    try:
        return EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return _MAX_DATE if micros > 0 else _MIN_DATE


def timestamps(seconds: list[int | None], nanos: list[int]) -> list[datetime | None]:
    """Many timestamps at once (``nanos`` at least as long as ``seconds``)."""
    pairs = zip(seconds, nanos, strict=False)
    if min(nanos, default=0) >= 0:
        # The common case, without a function call per value: non-negative
        # nanoseconds truncate like floor division. A date out of range takes
        # the careful path for the whole leaf.
        epoch, delta = EPOCH, timedelta
        try:
            return [None if s is None else epoch + delta(0, s, n // 1000) for s, n in pairs]
        except OverflowError:
            pairs = zip(seconds, nanos, strict=False)
    return [None if s is None else timestamp_value(s, n) for s, n in pairs]
