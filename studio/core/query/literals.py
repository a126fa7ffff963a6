"""Decoding of literal lexemes: strings (kept as written), numbers, timestamps, base64, ids.

Dates are kept as integer nanoseconds since the epoch so that a literal with
sub-microsecond precision still compares exactly with the microseconds the
store keeps (see :func:`studio.core.query.types.date_bounds`).
"""

from __future__ import annotations

import binascii
import re
import uuid
from datetime import UTC, datetime

from studio.core.errors import QueryError
from studio.core.query import nodes
from studio.core.query.lexer import BASE64, FLOAT, NUMBER, OID, STRING, TIMESTAMP, UUID, Token
from studio.primitives.objectid import ObjectId

_ESCAPES = frozenset({'"', "'", "\\", "/", "b", "f", "n", "r", "t", "0"})
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_READABLE_DATE = re.compile(
    r"(-?\d+)-(\d+)-(\d+)[@T](\d+):(\d+):(\d+)(?::(\d+))?"
)
_NANOS_PER_SECOND = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def decode_string(token: Token, query: str) -> str:
    """The value of a quoted string lexeme: its characters as written, backslashes included.

    Realm's parser keeps the text between the quotes unchanged
    (``StringData(text.data() + 1, text.size() - 2)`` in realm-core's driver.cpp): its
    lexer only accepts the escapes listed below, so that ``\\'`` and ``\\"`` do not end
    the string, but it never resolves them. ``'a\\nb'`` is the four characters
    ``a \\ n b``. A value that needs a real newline or both quote characters is passed as
    an argument.
    """
    body = token.text[1:-1]
    if "\\" not in body:
        return body
    for match in _ESCAPE_RE.finditer(body):
        code = match.group(1)
        if code in _ESCAPES or (len(code) == 5 and code[0] == "u"):
            continue
        offset = token.pos + 1 + match.start()
        raise QueryError(
            f"unknown escape sequence '\\{code}' in a string; expected one of "
            "\\' \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\0 \\uXXXX (Realm keeps them as written)",
            offset,
            query,
        )
    return body


def decode_literal(token: Token, query: str) -> nodes.Literal:
    """Turn a literal token (anything but true/false/null, which are words) into a node."""
    kind = token.kind
    text = token.text
    if kind == STRING:
        return nodes.Literal(token.pos, "string", decode_string(token, query), text)
    if kind == NUMBER:
        body = text.lstrip("+-")
        value = int(body, 16) if body[:2] in ("0x", "0X") else int(body)
        return nodes.Literal(token.pos, "int", -value if text.startswith("-") else value, text)
    if kind == FLOAT:
        lowered = text.lower().lstrip("+-")
        if lowered in ("inf", "infinity"):
            value_f = float("-inf") if text.startswith("-") else float("inf")
            return nodes.Literal(token.pos, "infinity", value_f, text)
        if lowered == "nan":
            return nodes.Literal(token.pos, "nan", float("nan"), text)
        return nodes.Literal(token.pos, "float", float(text), text)
    if kind == TIMESTAMP:
        return nodes.Literal(token.pos, "date", _decode_timestamp(token, query), text)
    if kind == OID:
        hex_text = text[text.index("(") + 1 : -1].strip()
        return nodes.Literal(token.pos, "objectId", ObjectId(hex_text), text)
    if kind == UUID:
        hex_text = text[text.index("(") + 1 : -1].strip()
        return nodes.Literal(token.pos, "uuid", uuid.UUID(hex_text), text)
    if kind == BASE64:
        body = re.sub(r"\s", "", text[4:-1])
        stripped = body.rstrip("=")
        body = stripped + "=" * (-len(stripped) % 4)  # padding is optional, as in Realm
        try:
            data = binascii.a2b_base64(body.encode("ascii"), strict_mode=True) if body else b""
        except binascii.Error as exc:
            raise QueryError(f"invalid base64 in B64\"...\": {exc}", token.pos, query) from None
        return nodes.Literal(token.pos, "data", data, text)
    raise AssertionError(f"not a literal token: {token}")


def _decode_timestamp(token: Token, query: str) -> int:
    """Nanoseconds since the epoch for ``T<sec>:<ns>`` or ``YYYY-MM-DD@HH:MM:SS[:ns]``."""
    text = token.text
    if text.startswith("T"):
        seconds_text, nanos_text = text[1:].split(":")
        seconds, nanos = int(seconds_text), int(nanos_text)
        if (seconds > 0 and nanos < 0) or (seconds < 0 and nanos > 0):
            raise QueryError(
                "invalid timestamp: seconds and nanoseconds must have the same sign",
                token.pos,
                query,
            )
        if abs(nanos) >= _NANOS_PER_SECOND:
            raise QueryError(
                "invalid timestamp: nanoseconds must be below 1000000000", token.pos, query
            )
        return seconds * _NANOS_PER_SECOND + nanos
    match = _READABLE_DATE.fullmatch(text)
    assert match is not None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    nanos = int(match.group(7) or 0)
    if nanos >= _NANOS_PER_SECOND:
        raise QueryError(
            "invalid timestamp: nanoseconds must be below 1000000000", token.pos, query
        )
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise QueryError(f"invalid timestamp {text!r}: {exc}", token.pos, query) from None
    delta = moment - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return seconds * _NANOS_PER_SECOND + nanos
