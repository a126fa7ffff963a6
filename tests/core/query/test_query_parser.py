"""The lexer, the parser's tree and literal decoding, and the SQL helper functions."""

from __future__ import annotations

import sqlite3
import unicodedata
import uuid
from decimal import Decimal

import pytest

from studio.core.errors import QueryError
from studio.core.query import functions, nodes
from studio.core.query.lexer import ARG, END, FLOAT, ID, NUMBER, OP, STRING, TIMESTAMP, tokenize
from studio.core.query.parser import parse, parse_keypath
from studio.core.query.types import Const, const_from_python, date_bound, to_decimal
from studio.primitives.objectid import ObjectId


def kinds(query: str) -> list[tuple[str, str, int]]:
    return [(t.kind, t.text, t.pos) for t in tokenize(query)]


def test_tokens_keep_positions() -> None:
    assert kinds("age>=-5&&name=='x'") == [
        (ID, "age", 0), (OP, ">=", 3), (NUMBER, "-5", 5), (OP, "&&", 7), (ID, "name", 9),
        (OP, "==", 13), (STRING, "'x'", 15), (END, "", 18),
    ]
    assert kinds("$0 $12") == [(ARG, "$0", 0), (ARG, "$12", 3), (END, "", 6)]
    assert kinds("T1:2 1.5e3 .5 0x1f")[:-1] == [
        (TIMESTAMP, "T1:2", 0), (FLOAT, "1.5e3", 5), (FLOAT, ".5", 11), (NUMBER, "0x1f", 14),
    ]
    assert [t.kind for t in tokenize("first-name == 1")][:2] == [ID, OP]


def literal(query: str) -> nodes.Literal:
    parsed = parse(f"x == {query}")
    assert isinstance(parsed.predicate, nodes.Comparison)
    right = parsed.predicate.right
    assert isinstance(right, nodes.Literal)
    return right


@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("12", "int", 12),
        ("-12", "int", -12),
        ("0x1F", "int", 31),
        ("-0x10", "int", -16),
        ("1.5", "float", 1.5),
        ("-2e3", "float", -2000.0),
        ("inf", "infinity", float("inf")),
        ("-Infinity", "infinity", float("-inf")),
        ("true", "bool", True),
        ("FALSE", "bool", False),
        ("nil", "null", None),
        # Realm keeps the characters between the quotes as written, backslashes included.
        ("'a\\tb'", "string", "a\\tb"),
        ('"q\\"uote"', "string", 'q\\"uote'),
        ("'\\u00e9'", "string", "\\u00e9"),
        ("'\\\\'", "string", "\\\\"),
        ('B64"aGk="', "data", b"hi"),
        ('B64""', "data", b""),
        ("oid(6001c033600510df3bbfd864)", "objectId", ObjectId("6001c033600510df3bbfd864")),
        ("uuid(12345678-1234-1234-1234-123456789abc)", "uuid",
         uuid.UUID("12345678-1234-1234-1234-123456789abc")),
        ("T10:5", "date", 10_000_000_005),
        ("T-10:-5", "date", -10_000_000_005),
        ("1970-01-01@00:00:10", "date", 10_000_000_000),
        ("1970-01-01T00:00:10:7", "date", 10_000_000_007),
        ("2021-03-04@05:06:07", "date", 1614834367_000_000_000),
    ],
)
def test_literals(text: str, kind: str, value: object) -> None:
    node = literal(text)
    assert node.kind == kind
    if kind == "infinity":
        assert node.value == value
    else:
        assert node.value == value and type(node.value) is type(value)


def test_precedence_not_and_or() -> None:
    tree = parse("NOT a == 1 AND b == 2 OR c == 3").predicate
    assert isinstance(tree, nodes.Or)
    first, second = tree.items
    assert isinstance(first, nodes.And) and isinstance(first.items[0], nodes.Not)
    assert isinstance(second, nodes.Comparison)
    grouped = parse("NOT (a == 1 OR b == 2) && c == 3").predicate
    assert isinstance(grouped, nodes.And)
    assert isinstance(grouped.items[0], nodes.Not)
    assert isinstance(grouped.items[0].item, nodes.Or)


def test_comparison_nodes() -> None:
    tree = parse("ALL friends.age >= $1").predicate
    assert isinstance(tree, nodes.Comparison)
    assert tree.op == ">=" and tree.op_pos == 16
    assert isinstance(tree.left, nodes.KeyPath)
    assert tree.left.quantifier == "ALL" and tree.left.text == "friends.age"
    assert tree.right == nodes.Argument(19, 1)
    ci = parse("name ==[c] 'a'").predicate
    assert isinstance(ci, nodes.Comparison) and ci.case_insensitive
    assert not ci.diacritic_insensitive
    cd = parse("name CONTAINS[cd] 'a'").predicate
    assert isinstance(cd, nodes.Comparison) and cd.case_insensitive and cd.diacritic_insensitive
    some = parse("SOME tags == 'x'").predicate
    assert isinstance(some, nodes.Comparison) and isinstance(some.left, nodes.KeyPath)
    assert some.left.quantifier == "ANY"


def test_dictionary_subscripts_and_variables() -> None:
    tree = parse("scores['a b'].x == $x.y").predicate
    assert isinstance(tree, nodes.Comparison) and isinstance(tree.left, nodes.KeyPath)
    element = tree.left.elements[0]
    assert element.name == "scores"
    assert isinstance(element.subscript, nodes.Literal) and element.subscript.value == "a b"
    assert isinstance(tree.right, nodes.KeyPath) and tree.right.elements[0].name == "$x"


def test_subquery_and_modifiers() -> None:
    query = parse(
        "SUBQUERY(friends, $f, $f.age > 3).@count > 1 SORT(age DESC, name) DISTINCT(a, b.c) "
        "LIMIT(5) LIMIT(0x2)"
    )
    assert isinstance(query.predicate, nodes.Comparison)
    sub = query.predicate.left
    assert isinstance(sub, nodes.Subquery) and sub.variable == "$f"
    sort, distinct, limit, limit2 = query.modifiers
    assert isinstance(sort, nodes.SortModifier)
    assert [(p.text, a) for p, a in sort.keys] == [("age", False), ("name", True)]
    assert isinstance(distinct, nodes.DistinctModifier)
    assert [p.text for p in distinct.paths] == ["a", "b.c"]
    assert limit == nodes.LimitModifier(limit.pos, 5)
    assert isinstance(limit2, nodes.LimitModifier) and limit2.count == 2
    only = parse("SORT(a ASC)")
    assert only.predicate is None and len(only.modifiers) == 1


def test_keywords_can_be_property_names_in_paths() -> None:
    tree = parse("sort.limit == 1 SORT(desc.asc DESC)")
    assert isinstance(tree.predicate, nodes.Comparison)
    assert isinstance(tree.predicate.left, nodes.KeyPath)
    assert tree.predicate.left.text == "sort.limit"
    assert parse_keypath("dog.name").text == "dog.name"


def test_parse_is_cached() -> None:
    assert parse("a == 1") is parse("a == 1")


@pytest.mark.parametrize(
    "query, position",
    [("a == 'x", 5), ("a == 1 )", 7), ("a == oid(1)", 5), ("a == \x01", 5), ("@", 0)],
)
def test_syntax_error_positions(query: str, position: int) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    assert info.value.position == position


# -- helpers --------------------------------------------------------------------------------


def test_fold_is_per_character_and_stays_on_its_side_of_ascii() -> None:
    assert functions.fold("ÄÖÜ ß", functions.CASE) == "äöü ß"
    # Greek capital sigma folds the same inside and at the end of a word.
    assert functions.fold("ΟΔΟΣ", functions.CASE) == "οδοσ"
    # U+212A KELVIN SIGN would lower to ASCII 'k'; it folds to itself (see functions.py).
    assert functions.fold("\u212a", functions.CASE) == "\u212a"
    assert functions.fold("\u0130", functions.CASE) == "\u0130"
    assert functions.fold("Émile", functions.DIACRITICS) == "Emile"
    assert functions.fold("Émile", functions.CASE | functions.DIACRITICS) == "emile"


def test_only_two_code_points_lower_across_ascii_or_to_several() -> None:
    # The claim in functions.py that keeps the ASCII fast path exact.
    odd = [
        c for c in map(chr, range(0x80, 0x110000))
        if c.lower() != c and (len(c.lower()) != 1 or c.lower().isascii())
    ]
    assert odd == ["\u0130", "\u212a"]
    assert unicodedata.unidata_version


def test_string_op_function() -> None:
    op = functions.string_op
    assert op(functions.OP_LIKE, 0, "abc", "a*") == 1
    assert op(functions.OP_LIKE, 0, "abc", "?b?") == 1
    assert op(functions.OP_LIKE, 0, "a.c", "a?c") == 1
    assert op(functions.OP_LIKE, 0, "abc", "a.c") == 0
    assert op(functions.OP_LIKE, functions.CASE, b"ABC", "a*") == 1
    assert op(functions.OP_CONTAINS, 0, b"\x00abc", b"ab") == 1
    assert op(functions.OP_ENDSWITH, functions.CASE, "Straße", "SSE") == 0
    assert op(functions.OP_EQUAL, 0, None, None) == 1
    assert op(functions.OP_BEGINSWITH, 0, None, "") == 0


def test_compare_mixed_function() -> None:
    cmp = functions.compare_mixed
    assert cmp(0, 5, 2, "5.0", 9) == 1
    assert cmp(2, 5, 2, 5.5, 3) == 1
    assert cmp(0, "abc", 4, b"abc", 5) == 1
    assert cmp(0, 1, 1, 1, 2) == 0  # bool true is not the number 1
    assert cmp(1, 1, 1, 1, 2) == 1
    assert cmp(0, None, 0, None, None) == 1
    assert cmp(4, None, 0, 1, 2) == 0
    assert cmp(2, "NaN", 9, 1, 2) == 0
    assert cmp(4, "Dog\x1f1", 10, "Dog\x1f0", 10) == 0


def test_decimal_aggregates_and_real() -> None:
    conn = sqlite3.connect(":memory:")
    functions.register(conn)
    conn.execute("CREATE TABLE t (v TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [("0.1",), ("0.2",), (None,)])
    assert conn.execute("SELECT rql_decimal_sum(v), rql_decimal_avg(v) FROM t").fetchone() == (
        "0.3", "0.15"
    )
    assert conn.execute("SELECT rql_decimal_avg(v) FROM t WHERE 0").fetchone() == (None,)
    assert functions.decimal_real("1e2") == 100.0
    assert functions.decimal_real("NaN") is None


def test_constants_from_arguments() -> None:
    assert const_from_python(3, 0) == Const("int", 3, 0)
    assert const_from_python((1, "a"), 0).kind == "list"
    assert to_decimal(Const("float", 0.1, 0, "0.1")) == Decimal("0.1")
    assert to_decimal(Const("float", 0.1, 0)) == Decimal("0.1")
    assert str(to_decimal(Const("float", float("inf"), 0))) == "Infinity"
    assert date_bound(1500, "<") == ("<=", 1)
    assert date_bound(1500, ">=") == (">", 1)
    assert date_bound(1500, "==") == ("never", None)
    assert date_bound(-1500, "<=") == ("<=", -2)
    assert date_bound(2000, "<") == ("<", 2)
