"""Each property type's values as text: one parser and one formatter per type.

A CSV cell, what a person types into the Studio and the text the Studio puts in an
editor all use these, so a value written by :func:`format_*` reads back the same
with the matching :func:`parse_*`:

* bool ``true``/``false`` (``1``/``0`` and ``yes``/``no`` are read too, in any case);
* int decimal digits with an optional sign (``1_000`` reads as 1000), 64-bit;
* float and double the shortest text that reads back to the same double, with
  ``NaN``, ``Infinity`` and ``-Infinity`` (any case, ``inf`` too, is read);
* string the text itself (never stripped); data base64;
* date ISO 8601 (``2024-05-01``, ``2024-05-01T09:30:00.5Z``, ``...+02:00``, a
  trailing ``z`` too): a time without a zone is UTC; dates are written in UTC
  with a ``Z``, with milliseconds or microseconds only when there are any;
* objectId 24 hex digits; uuid the usual 8-4-4-4-12 form (any form
  :class:`uuid.UUID` reads); decimal128 as :class:`decimal.Decimal` writes it.

Parsers strip surrounding spaces (except for strings) and raise
:class:`~studio.core.errors.BadValueError` saying what was expected.
:mod:`studio.core.property_types` ties each type to its pair.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from studio.core.errors import BadValueError
from studio.primitives.objectid import ObjectId

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT_TEXT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def _expected(what: str, text: str) -> BadValueError:
    return BadValueError(f"expected {what}, got {text!r:.60}")


def _parser(
    what: str, convert: Callable[[str], Any], errors: tuple[type[Exception], ...]
) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return convert(text.strip())
        except errors:
            raise _expected(what, text) from None

    return parse


# -- parsers ---------------------------------------------------------------------------------


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _expected("true or false", text)


def parse_int(text: str) -> int:
    stripped = text.strip()
    if not _INT_TEXT.fullmatch(stripped):
        raise _expected("an integer", text)
    value = int(stripped)
    if not INT64_MIN <= value <= INT64_MAX:
        raise BadValueError(f"{stripped} does not fit in a 64-bit int")
    return value


def parse_string(text: str) -> str:
    return text


def parse_date(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a time zone it is taken as UTC."""
    cleaned = text.strip()
    if cleaned.endswith("z"):  # RFC 3339 allows a lower-case z; fromisoformat does not
        cleaned = cleaned[:-1] + "Z"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise _expected("an ISO 8601 date such as 2024-05-01T09:30:00Z", text) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _base64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


# float() also reads NaN, Infinity, -Infinity and inf in any case, as formatters write them.
parse_float = _parser("a number", float, (ValueError,))
parse_data = _parser("base64 data", _base64, (binascii.Error, ValueError))
parse_object_id = _parser("an ObjectId (24 hex digits)", ObjectId, (ValueError, TypeError))
parse_uuid = _parser("a UUID such as 123e4567-e89b-12d3-a456-426614174000", uuid.UUID,
                     (ValueError,))
parse_decimal = _parser("a decimal number", Decimal, (InvalidOperation,))


# -- formatters ------------------------------------------------------------------------------


def format_bool(value: bool) -> str:
    return "true" if value else "false"


def format_float(value: float) -> str:
    """Shortest text that reads back to the same double (``repr``), NaN and infinities named."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def format_string(value: str) -> str:
    return value


def format_data(value: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def format_date(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: seconds, then milliseconds or microseconds if any."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # studio dates are UTC instants
    value = value.astimezone(UTC)
    # Formatted by hand: strftime("%Y") drops the leading zeros of years below 1000.
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    micros = value.microsecond
    if micros:
        text += f".{micros // 1000:03d}" if micros % 1000 == 0 else f".{micros:06d}"
    return text + "Z"


def format_text(value: Any) -> str:
    """``str(value)``: ints, ObjectIds, UUIDs and Decimals write themselves as they read."""
    return str(value)
