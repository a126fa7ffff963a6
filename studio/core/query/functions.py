"""SQL functions the compiled queries call, registered on every connection.

SQLite's own operators are used wherever they give Realm's answer (they are much
faster and can use indexes); these Python functions cover the rest:

- ``rql_fold(text, flags)``: case folding beyond ASCII (``ä ==[c] Ä``) and
  diacritic stripping for ``[d]``;
- ``rql_strop(op, flags, value, needle)``: string operators on binary data and
  between two properties;
- ``rql_compare(op, value1, tag1, value2, tag2)``: Realm's comparison of mixed
  values (numbers by value across int/float/decimal128, strings against data);
- ``rql_decimal_real(text)``, ``rql_decimal_sum``, ``rql_decimal_avg``: decimal128
  arithmetic that SQLite's REAL would round.

Case folding is per character: ``c.lower()`` when that is one character on the
same side of ASCII as ``c``, else ``c`` unchanged. This keeps folding consistent
with SQLite's ASCII-only ``NOCASE``/``LIKE``: an ASCII pattern can only match
ASCII text under both, so ASCII patterns can take the fast path. (Two code
points are affected: U+0130 and the Kelvin sign U+212A fold to themselves.)
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from studio.core.storage import add_connection_hook
from studio.core.values import MixedTag

CASE = 1
DIACRITICS = 2

OP_EQUAL, OP_BEGINSWITH, OP_ENDSWITH, OP_CONTAINS, OP_LIKE = 0, 1, 2, 3, 4
STRING_OP_CODES = {
    "==": OP_EQUAL, "BEGINSWITH": OP_BEGINSWITH, "ENDSWITH": OP_ENDSWITH,
    "CONTAINS": OP_CONTAINS, "LIKE": OP_LIKE,
}
COMPARE_CODES = {"==": 0, "!=": 1, "<": 2, "<=": 3, ">": 4, ">=": 5}

_NUMERIC_TAGS = (MixedTag.INT, MixedTag.FLOAT, MixedTag.DECIMAL)


class _CaseTable(dict[int, str]):
    """``str.translate`` table of per-character lower case, filled on first use."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        lower = char.lower()
        folded = lower if len(lower) == 1 and lower.isascii() == char.isascii() else char
        self[code] = folded
        return folded


class _DiacriticTable(dict[int, str]):
    """``str.translate`` table removing combining marks (NFD decomposition)."""

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFD", chr(code))
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
        self[code] = stripped
        return stripped


_CASE_TABLE = _CaseTable()
_DIACRITIC_TABLE = _DiacriticTable()


def fold(text: str, flags: int) -> str:
    """Fold ``text`` for a ``[c]``/``[d]`` comparison (see the module docstring)."""
    if flags & DIACRITICS and not text.isascii():
        text = text.translate(_DIACRITIC_TABLE)
    if flags & CASE:
        # Per character, never str.lower() of the whole string: that applies Greek
        # final-sigma rules, so a folded pattern would not match inside a word.
        text = text.lower() if text.isascii() else text.translate(_CASE_TABLE)
    return text


def fold_bytes(data: bytes, flags: int) -> bytes:
    return data.lower() if flags & CASE else data


def glob_escape(text: str) -> str:
    """Quote ``text`` for GLOB so that it matches only itself."""
    return text.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")


def like_to_glob(pattern: str) -> str:
    """Realm's LIKE pattern (``*`` any run, ``?`` one character) as a GLOB pattern."""
    return pattern.replace("[", "[[]")


def like_escape(text: str) -> str:
    """Quote ``text`` for SQL LIKE ... ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def realm_like_to_sql_like(pattern: str) -> str:
    return like_escape(pattern).replace("*", "%").replace("?", "_")


@lru_cache(maxsize=256)
def _like_regex(pattern: bytes) -> re.Pattern[bytes]:
    parts = [b".*" if c == b"*" else b"." if c == b"?" else re.escape(c)
             for c in (pattern[i : i + 1] for i in range(len(pattern)))]
    return re.compile(b"".join(parts), re.DOTALL)


def string_op(op: int, flags: int, value: Any, needle: Any) -> int:
    """Realm's string operators on text or bytes (the ``rql_strop`` SQL function)."""
    if value is None or needle is None:
        return int(op == OP_EQUAL and value is None and needle is None)
    if isinstance(value, bytes) or isinstance(needle, bytes):
        value_b = value if isinstance(value, bytes) else str(value).encode("utf-8")
        needle_b = needle if isinstance(needle, bytes) else str(needle).encode("utf-8")
        value_b, needle_b = fold_bytes(value_b, flags), fold_bytes(needle_b, flags)
        if op == OP_LIKE:
            return int(_like_regex(needle_b).fullmatch(value_b) is not None)
        return int(_BYTES_OPS[op](value_b, needle_b))
    value_s, needle_s = fold(str(value), flags), fold(str(needle), flags)
    if op == OP_LIKE:
        return int(_like_text_regex(needle_s).fullmatch(value_s) is not None)
    return int(_TEXT_OPS[op](value_s, needle_s))


@lru_cache(maxsize=256)
def _like_text_regex(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL)


_TEXT_OPS: dict[int, Callable[[Any, Any], bool]] = {
    OP_EQUAL: lambda a, b: bool(a == b),
    OP_BEGINSWITH: lambda a, b: bool(a.startswith(b)),
    OP_ENDSWITH: lambda a, b: bool(a.endswith(b)),
    OP_CONTAINS: lambda a, b: b in a,
}
_BYTES_OPS = _TEXT_OPS


def _numeric(value: Any, tag: int) -> Decimal | float | int | None:
    if tag == MixedTag.DECIMAL:
        try:
            return Decimal(value)
        except (InvalidOperation, TypeError):
            return None
    return value  # type: ignore[no-any-return]


def compare_mixed(op: int, left: Any, left_tag: int | None, right: Any,
                  right_tag: int | None) -> int:
    """Realm's comparison of two (possibly mixed) values: the ``rql_compare`` function.

    Tags are :class:`MixedTag` values; NULL or 0 is null. Equality of two nulls is
    true; ordering with a null, or between types that are not comparable, is false.
    """
    left_null = not left_tag or left is None
    right_null = not right_tag or right is None
    if left_null or right_null:
        equal = left_null and right_null
        return int(equal) if op == 0 else int(not equal) if op == 1 else 0
    assert left_tag is not None and right_tag is not None
    a: Any = left
    b: Any = right
    if left_tag in _NUMERIC_TAGS and right_tag in _NUMERIC_TAGS:
        a, b = _numeric(left, left_tag), _numeric(right, right_tag)
        if a is None or b is None or _is_nan(a) or _is_nan(b):
            return int(op == 1)
    elif {left_tag, right_tag} == {MixedTag.STRING, MixedTag.DATA}:
        a = left.encode("utf-8") if isinstance(left, str) else left
        b = right.encode("utf-8") if isinstance(right, str) else right
    elif left_tag != right_tag:
        return int(op == 1)
    elif left_tag == MixedTag.LINK and op > 1:
        return 0
    if op == 0:
        return int(a == b)
    if op == 1:
        return int(a != b)
    try:
        if op == 2:
            return int(a < b)
        if op == 3:
            return int(a <= b)
        if op == 4:
            return int(a > b)
        return int(a >= b)
    except TypeError:
        return 0


def _is_nan(value: Any) -> bool:
    if isinstance(value, Decimal):
        return value.is_nan()
    return isinstance(value, float) and value != value


def decimal_real(text: Any) -> float | None:
    """A decimal128 text as REAL (for sorting and aggregating mixed numbers); NaN is NULL."""
    if text is None:
        return None
    try:
        value = float(Decimal(text))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return None if value != value else value


class _DecimalSum:
    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: Any) -> None:
        if value is not None:
            try:
                self.total += Decimal(value)
            except (InvalidOperation, TypeError):
                pass

    def finalize(self) -> str:
        return str(self.total)


class _DecimalAvg(_DecimalSum):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def step(self, value: Any) -> None:
        if value is not None:
            self.count += 1
            super().step(value)

    def finalize(self) -> str | None:  # type: ignore[override]
        return str(self.total / self.count) if self.count else None


def _sql_fold(value: Any, flags: int) -> Any:
    if isinstance(value, str):
        return fold(value, flags)
    if isinstance(value, bytes):
        return fold_bytes(value, flags)
    return value


def register(conn: sqlite3.Connection) -> None:
    """Define the query functions on ``conn`` (a connection hook of the store)."""
    conn.create_function("rql_fold", 2, _sql_fold, deterministic=True)
    conn.create_function("rql_strop", 4, string_op, deterministic=True)
    conn.create_function("rql_compare", 5, compare_mixed, deterministic=True)
    conn.create_function("rql_decimal_real", 1, decimal_real, deterministic=True)
    conn.create_aggregate("rql_decimal_sum", 1, _DecimalSum)  # type: ignore[arg-type]
    conn.create_aggregate("rql_decimal_avg", 1, _DecimalAvg)  # type: ignore[arg-type]


add_connection_hook(register)
