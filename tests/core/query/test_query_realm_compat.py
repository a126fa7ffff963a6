"""Table-driven cases for the Realm compatibility items of the query language (issue 19):
NaN constants, string literals kept as written, lists of literals, arithmetic.

A small data set of its own (class Item), so stored NaNs and backslashes do not
disturb the expectations of test_query_cases.py:

| label | x     | n    | d      | s          | m     | nums    |
|-------|-------|------|--------|------------|-------|---------|
| a     | 1.5   | 2    | 1.5    | 'plain'    | NaN   | 1, 2    |
| b     | NaN   | 3    | NaN    | 'a\\nb'    | 2.5   | 3       |
| c     | None  | None | None   | None       | None  |         |
| d     | -2.0  | 10   | 100    | 'q"\\'s'   | 'NaN' | 2, 2, 5 |
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from rql_fixtures import RawRealm

from studio.core.errors import QueryError

SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Item",
        "properties": {
            "label": "string",
            "x": "double?",
            "n": "int?",
            "d": "decimal128?",
            "s": "string?",
            "m": "mixed",
            "nums": "int[]",
        },
    },
]

NAN = math.nan
Case = tuple[str, tuple[Any, ...], list[str]]


@pytest.fixture(scope="module")
def items() -> RawRealm:
    db = RawRealm(SCHEMA)
    db.add("Item", "a", label="a", x=1.5, n=2, d=Decimal("1.5"), s="plain", m=NAN, nums=[1, 2])
    db.add("Item", "b", label="b", x=NAN, n=3, d=Decimal("NaN"), s="a\\nb", m=2.5, nums=[3])
    db.add("Item", "c", label="c", x=None, n=None, d=None, s=None, m=None, nums=[])
    db.add("Item", "d", label="d", x=-2.0, n=10, d=Decimal("100"), s="q\"\\'s", m="NaN",
           nums=[2, 2, 5])
    return db


NAN_CASES: list[Case] = [
    # A typed number against NaN compares as IEEE doubles: nothing equals NaN, not even a
    # stored NaN, and != is true for every object, null included (Realm's FloatDoubleNode).
    ("x == $0", (NAN,), []),
    ("x != $0", (NAN,), ["a", "b", "c", "d"]),
    ("x == nan", (), []),
    ("x != NaN", (), ["a", "b", "c", "d"]),
    ("x > $0", (NAN,), []),
    ("x <= $0", (NAN,), []),
    ("n == $0", (NAN,), []),
    ("n != $0", (NAN,), ["a", "b", "c", "d"]),
    ("d == $0", (Decimal("NaN"),), []),
    ("d != $0", (NAN,), ["a", "b", "c", "d"]),
    ("x == null", (), ["c"]),
    ("x IN {nan, 1.5}", (), ["a"]),
    ("x IN $0", ([NAN],), []),
    ("x BETWEEN {nan, 2}", (), []),
    ("ANY nums == $0", (NAN,), []),
    ("ALL nums != $0", (NAN,), ["a", "b", "c", "d"]),
    # A mixed value follows Realm's Mixed order: NaN equals NaN and is below every number.
    ("m == $0", (NAN,), ["a"]),
    ("m == nan", (), ["a"]),
    ("m != $0", (NAN,), ["b", "c", "d"]),
    ("m > $0", (NAN,), ["b"]),
    ("m >= $0", (NAN,), ["a", "b"]),
    ("m < $0", (NAN,), []),
    ("m <= $0", (NAN,), ["a"]),
    ("m == 'NaN'", (), ["d"]),
]

STRING_CASES: list[Case] = [
    # Realm keeps the characters of a quoted string as written, backslashes included.
    ("s == 'a\\nb'", (), ["b"]),
    ('s == "a\\nb"', (), ["b"]),
    ("s == $0", ("a\\nb",), ["b"]),
    ("s == $0", ("a\nb",), []),
    ("s CONTAINS '\\n'", (), ["b"]),
    ("s == 'q\"\\'s'", (), ["d"]),
    ('s == "q\\"\\\'s"', (), []),
    ("s BEGINSWITH 'q\"\\''", (), ["d"]),
    ("s ENDSWITH '\\'s'", (), ["d"]),
    ("s IN {'plain', 'a\\nb'}", (), ["a", "b"]),
    ("s == 'a\\u0041'", (), []),
]

LIST_CASES: list[Case] = [
    # n: a 2, b 3, c null, d 10; nums: a [1, 2], b [3], c [], d [2, 2, 5]
    ("n IN {2, 10}", (), ["a", "d"]),
    ("ANY {2, 10} == n", (), ["a", "d"]),
    ("SOME {2, 10} == n", (), ["a", "d"]),
    ("{2, 10} == n", (), ["a", "d"]),
    ("n == {2, 10}", (), ["a", "d"]),
    ("n == ANY {2, 10}", (), ["a", "d"]),
    ("ALL {2, 10} == n", (), []),
    ("ALL {2, 2} == n", (), ["a"]),
    ("NONE {2, 10} == n", (), ["b", "c"]),
    ("n != NONE {2, 10}", (), []),
    ("n != NONE {2, 2}", (), ["a"]),
    ("ALL {1, 2} < n", (), ["b", "d"]),
    ("ANY {1, 2} < n", (), ["a", "b", "d"]),
    ("n > ALL {1, 2}", (), ["b", "d"]),
    ("NONE {5, 9} < n", (), ["a", "b", "c"]),
    ("ANY {} == n", (), []),
    ("ALL {} == n", (), ["a", "b", "c", "d"]),
    ("NONE {} == n", (), ["a", "b", "c", "d"]),
    ("ANY {null, 3} == n", (), ["b", "c"]),
    ("ALL {1, 2} IN nums", (), ["a"]),
    ("ANY {1, 5} IN nums", (), ["a", "d"]),
    ("NONE {2, 3} IN nums", (), ["c"]),
    ("{3, 4} IN nums", (), ["b"]),
    ("ANY $0 == n", ([3, 10],), ["b", "d"]),
    ("ALL $0 < n", ((1, 2),), ["b", "d"]),
    ("NONE $0 == n", ({2},), ["b", "c", "d"]),
    ("ANY {'plain', 'x'} == s", (), ["a"]),
    ("ANY {'PLAIN', 'x'} ==[c] s", (), ["a"]),
    ("s BEGINSWITH ALL {'p', 'pl'}", (), ["a"]),
    ("s CONTAINS ANY {'zz', 'lai'}", (), ["a"]),
    ("NOT ALL {1, 2} < n", (), ["a", "c"]),
]

ARITHMETIC_CASES: list[Case] = [
    # x: a 1.5, b NaN, c null, d -2.0; n: 2, 3, null, 10; d: 1.5, NaN, null, 100
    ("n + 1 == 3", (), ["a"]),
    ("n + 1 == $0", (4,), ["b"]),
    ("n - 1 > 1", (), ["b", "d"]),
    ("n -1 > 1", (), ["b", "d"]),
    ("n * 2 >= 6", (), ["b", "d"]),
    ("n * x < 0", (), ["d"]),
    ("n * x == 3", (), ["a"]),
    ("2 * n == 20", (), ["d"]),
    ("n + 2 * 3 == 8", (), ["a"]),
    ("(n + 2) * 3 == 12", (), ["a"]),
    ("n * 3 - 1 == 5", (), ["a"]),
    ("n - 1 - 1 == 8", (), ["d"]),
    ("n / 2 == 1", (), ["a", "b"]),
    ("n / 4 == 2.5", (), []),
    ("n / 4.0 == 2.5", (), ["d"]),
    ("x / 2 == 0.75", (), ["a"]),
    ("n / 0 > 1000000", (), ["a", "b", "d"]),
    ("x / 0 > 1000000", (), ["a"]),
    ("x / 0 < -1000000", (), ["d"]),
    ("x + 1 > 0", (), ["a"]),
    ("x + 1 == null", (), ["b", "c"]),
    ("n + 1 == null", (), ["c"]),
    ("n + 1 != null", (), ["a", "b", "d"]),
    ("d * 2 == 3", (), ["a"]),
    ("d + 0.1 == 1.6", (), ["a"]),
    ("d / 3 > 33.3", (), ["d"]),
    ("d - n == 90", (), ["d"]),
    ("n + $0 == 5", (Decimal("2"),), ["b"]),
    ("n == 1 + 2", (), ["b"]),
    ("n == 20 / 2", (), ["d"]),
    ("n == $0 * $1", (5, 2), ["d"]),
    ("n + 0 IN {2, 3}", (), ["a", "b"]),
    ("n * 2 BETWEEN {4, 6}", (), ["a", "b"]),
    ("ANY nums * 2 > 8", (), ["d"]),
    ("ALL nums + 1 > 2", (), ["b", "c", "d"]),
    ("nums.@sum * 2 == 6", (), ["a", "b"]),
    ("nums.@count + n > 12", (), ["d"]),
    ("n - 1 IN nums", (), ["a"]),
    ("NOT n + 1 == 3", (), ["b", "c", "d"]),
    ("(n + 1 == 3) OR (n * 1 == 10)", (), ["a", "d"]),
]

ALL_CASES = NAN_CASES + STRING_CASES + LIST_CASES + ARITHMETIC_CASES


def _id(case: Case) -> str:
    query, args, _ = case
    return query + (f" {args!r}" if args else "")


@pytest.mark.parametrize("case", ALL_CASES, ids=_id)
def test_realm_compat(items: RawRealm, case: Case) -> None:
    query, args, expected = case
    assert items.query("Item", query, *args) == expected


ERRORS: list[tuple[str, tuple[Any, ...], str]] = [
    ("n + s == 1", (), "cannot perform '\\+' on an int value and a string value"),
    ("n * 'a' == 1", (), "cannot perform '\\*' on an int value and a string"),
    ("m + 1 == 2", (), "cannot perform '\\+' on a mixed value and a number"),
    ("n + $0 == 1", ("x",), "cannot perform '\\+' on an int value and a string"),
    ("nums + nums == 1", (), "arithmetic between two lists is not supported"),
    ("1 + 2 == 3", (), "cannot compare two constants"),
    ("n * (1 + 2 == 3", (), "expected"),
    ("n + == 3", (), "expected"),
    ("ALL {'p', 'pl'} BEGINSWITH s", (), "the left side of BEGINSWITH must be a property"),
    ("s == 'a\\qb'", (), "unknown escape sequence"),
    ("s == 'a\\u12'", (), "unknown escape sequence"),
    ("m CONTAINS $0", (NAN,), "CONTAINS on a mixed property needs a string"),
]


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: c[0])
def test_realm_compat_errors(items: RawRealm, case: tuple[str, tuple[Any, ...], str]) -> None:
    query, args, message = case
    with pytest.raises(QueryError, match=message):
        items.query("Item", query, *args)
