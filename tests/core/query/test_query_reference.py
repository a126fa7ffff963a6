"""Property test: the compiled SQL agrees with a slow reference evaluator in plain Python.

Hypothesis draws a few random objects and a random predicate (comparisons of every
scalar type with constants or arguments, string operators with [c], IN, BETWEEN,
paths through a to-one link, ANY/ALL/NONE over lists, aggregates, NOT/AND/OR).
The predicate is kept as a small tree that is both rendered to RQL text and
evaluated directly on the Python values with Realm's semantics.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rql_fixtures import RawRealm

from studio.core.query import SortKey

SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Item",
        "properties": {
            "i": "int?", "f": "double?", "s": "string?", "b": "bool?", "d": "decimal128?",
            "t": "date?", "m": "mixed", "tags": "string[]", "nums": "int[]", "link": "Other?",
        },
    },
    {"name": "Other", "properties": {"v": "int?", "w": "string?"}},
]

DATES = [datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC),
         datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)]
DOMAINS: dict[str, list[Any]] = {
    "i": [None, -2, 0, 1, 3, 5],
    "f": [None, -1.5, 0.0, 2.5, 3.0],
    "s": [None, "", "a", "A", "ab", "Ab", "bä", "BÄ", "é", "É", "abc", "x*y", "b"],
    "b": [None, True, False],
    "d": [None, Decimal("0"), Decimal("1.5"), Decimal("-2"), Decimal("1.50"), Decimal("3")],
    "t": [None, *DATES],
    "m": [None, 0, 1, 2.5, Decimal("2.5"), True, False, "a", "A", b"a", DATES[0]],
    "v": [None, 0, 1, 3],
    "w": [None, "a", "B", "ab"],
}
TYPES = {"i": "num", "f": "num", "d": "num", "s": "str", "b": "bool", "t": "date", "m": "mixed",
         "v": "num", "w": "str"}


@dataclass(frozen=True)
class Item:
    values: dict[str, Any]
    tags: list[str]
    nums: list[int]
    link: int | None  # index into others


# -- the predicate tree ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cmp:
    path: str  # "i", "link.v", ...
    op: str
    value: Any
    flag: str = ""
    as_arg: bool = False


@dataclass(frozen=True)
class Between:
    path: str
    low: Any
    high: Any


@dataclass(frozen=True)
class InList:
    path: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class ListCmp:
    """``ANY {a, b} op path`` (the list on the left) or ``path op ALL {a, b}``."""

    quantifier: str  # ANY ALL NONE
    path: str
    op: str
    values: tuple[Any, ...]
    list_left: bool


@dataclass(frozen=True)
class ArithCmp:
    """``left aop right op value`` with ``left`` a number path and ``right`` a path or
    a number."""

    left: str
    aop: str  # + - * /
    right: Any  # a path name (str) or a number
    op: str
    value: Any


@dataclass(frozen=True)
class Quant:
    quantifier: str  # ANY ALL NONE
    collection: str  # tags, nums
    op: str
    value: Any
    flag: str = ""


@dataclass(frozen=True)
class Agg:
    collection: str
    agg: str  # @count @sum @min @max @avg
    op: str
    value: Any


@dataclass(frozen=True)
class Bool:
    op: str  # AND OR NOT
    items: tuple[Any, ...]


def _const_for(kind: str) -> st.SearchStrategy[Any]:
    if kind == "num":
        return st.sampled_from([None, -2, 0, 1, 1.5, 2.5, 3, Decimal("1.5"), 5])
    if kind == "str":
        return st.sampled_from([None, "", "a", "A", "b", "ab", "Ä", "ä", "é", "*", "x?y"])
    if kind == "bool":
        return st.sampled_from([None, True, False])
    if kind == "date":
        return st.sampled_from([None, *DATES])
    return st.sampled_from([None, 0, 1, 2.5, True, "a", "A"])


@st.composite
def comparisons(draw: st.DrawFn) -> Any:
    path = draw(st.sampled_from(["i", "f", "s", "b", "d", "t", "m", "link.v", "link.w"]))
    kind = TYPES[path.split(".")[-1]]
    ops = ["==", "!="]
    if kind in ("num", "str", "date", "bool"):
        ops += ["<", "<=", ">", ">="]
    if kind in ("str",):
        ops += ["BEGINSWITH", "ENDSWITH", "CONTAINS", "LIKE"]
    if kind == "mixed":
        ops += [">", "<"]
    shape = draw(st.sampled_from(["cmp", "cmp", "cmp", "between", "in", "list"]))
    value = draw(_const_for(kind))
    if shape == "list" and kind in ("num", "str", "bool", "date"):
        list_op = draw(st.sampled_from([o for o in ops if o in ("==", "!=", "<", ">=")]))
        values = draw(st.lists(_const_for(kind), max_size=3))
        if list_op not in ("==", "!="):
            values = [v for v in values if v is not None]
        return ListCmp(draw(st.sampled_from(["ANY", "ALL", "NONE"])), path, list_op,
                       tuple(values), draw(st.booleans()))
    if shape == "between" and kind in ("num", "date") and value is not None:
        high = draw(_const_for(kind).filter(lambda x: x is not None))
        return Between(path, value, high)
    if shape == "in":
        values = draw(st.lists(_const_for(kind), max_size=3))
        return InList(path, tuple(values))
    op = draw(st.sampled_from(ops))
    if value is None and op not in ("==", "!="):
        op = "=="
    if kind == "mixed" and op in ("<", ">") and isinstance(value, str):
        op = "=="
    flag = ""
    if kind == "str" and op not in ("<", "<=", ">", ">=") and value is not None:
        flag = draw(st.sampled_from(["", "", "[c]"]))
    return Cmp(path, op, value, flag, draw(st.booleans()))


@st.composite
def quantified(draw: st.DrawFn) -> Any:
    collection = draw(st.sampled_from(["tags", "nums"]))
    if draw(st.booleans()):
        agg = draw(st.sampled_from(["@count", "@size"] + (
            ["@sum", "@min", "@max", "@avg"] if collection == "nums" else [])))
        op = draw(st.sampled_from(["==", "!=", "<", ">", ">="]))
        number: float = draw(st.sampled_from([0, 1, 2, 3, 4.5]))
        return Agg(collection, agg, op, number)
    quantifier = draw(st.sampled_from(["ANY", "ALL", "NONE", ""]))
    value: Any
    if collection == "tags":
        op = draw(st.sampled_from(["==", "!=", "BEGINSWITH", "CONTAINS", ">"]))
        value = draw(st.sampled_from(["a", "A", "b", "", "é"]))
        flag = draw(st.sampled_from(["", "[c]"])) if op != ">" else ""
    else:
        op = draw(st.sampled_from(["==", "!=", "<", ">"]))
        value = draw(st.sampled_from([0, 1, 2, 2.5]))
        flag = ""
    return Quant(quantifier, collection, op, value, flag)


@st.composite
def arithmetic(draw: st.DrawFn) -> Any:
    numbers = [-2, 0, 1, 1.5, 2.5, 3]
    left = draw(st.sampled_from(["i", "f", "link.v"]))
    right = draw(st.sampled_from(["i", "f", *numbers]))
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    value = draw(st.sampled_from([None, *numbers] if op in ("==", "!=") else numbers))
    return ArithCmp(left, draw(st.sampled_from(["+", "-", "*", "/"])), right, op, value)


predicates = st.recursive(
    st.one_of(comparisons(), quantified(), arithmetic()),
    lambda children: st.one_of(
        st.builds(lambda a, b: Bool("AND", (a, b)), children, children),
        st.builds(lambda a, b: Bool("OR", (a, b)), children, children),
        st.builds(lambda a: Bool("NOT", (a,)), children),
    ),
    max_leaves=5,
)

items_strategy = st.lists(
    st.builds(
        Item,
        st.fixed_dictionaries({name: st.sampled_from(domain) for name, domain in DOMAINS.items()
                               if name not in ("v", "w")}),
        st.lists(st.sampled_from(["a", "A", "ab", "bä", "é", ""]), max_size=3),
        st.lists(st.integers(-1, 3), max_size=3),
        st.sampled_from([None, 0, 1, 2]),
    ),
    max_size=10,
)
others_strategy = st.lists(
    st.fixed_dictionaries({"v": st.sampled_from(DOMAINS["v"]), "w": st.sampled_from(DOMAINS["w"])}),
    min_size=3, max_size=3,
)

# -- rendering ------------------------------------------------------------------------------


def literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        # Realm keeps a quoted string as written (no escapes resolved): pick the quotes.
        assert "\\" not in value and not ("'" in value and '"' in value), value
        return f'"{value}"' if "'" in value else f"'{value}'"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d@%H:%M:%S")
    raise AssertionError(value)


_FLIP = {"==": "==", "!=": "!=", "<": ">", ">=": "<="}


def render(node: Any, args: list[Any]) -> str:
    def value_text(value: Any, as_arg: bool) -> str:
        if as_arg:
            args.append(value)
            return f"${len(args) - 1}"
        return literal(value)

    if isinstance(node, Cmp):
        return f"{node.path} {node.op}{node.flag} {value_text(node.value, node.as_arg)}"
    if isinstance(node, Between):
        return f"{node.path} BETWEEN {{{literal(node.low)}, {literal(node.high)}}}"
    if isinstance(node, InList):
        return f"{node.path} IN {{{', '.join(literal(v) for v in node.values)}}}"
    if isinstance(node, ArithCmp):
        right = node.right if isinstance(node.right, str) else literal(node.right)
        return f"{node.left} {node.aop} {right} {node.op} {literal(node.value)}"
    if isinstance(node, ListCmp):
        listed = f"{node.quantifier} {{{', '.join(literal(v) for v in node.values)}}}"
        if node.list_left:
            return f"{listed} {_FLIP[node.op]} {node.path}"
        return f"{node.path} {node.op} {listed}"
    if isinstance(node, Quant):
        prefix = f"{node.quantifier} " if node.quantifier else ""
        return f"{prefix}{node.collection} {node.op}{node.flag} {literal(node.value)}"
    if isinstance(node, Agg):
        return f"{node.collection}.{node.agg} {node.op} {literal(node.value)}"
    assert isinstance(node, Bool)
    if node.op == "NOT":
        return f"NOT ({render(node.items[0], args)})"
    return f"({render(node.items[0], args)}) {node.op} ({render(node.items[1], args)})"


# -- the reference evaluator -----------------------------------------------------------------


def _number(x: Any) -> bool:
    return isinstance(x, int | float | Decimal) and not isinstance(x, bool)


def _comparable(a: Any, b: Any) -> bool:
    if _number(a) and _number(b):
        return True
    return type(a) is type(b)


def _like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def compare(a: Any, op: str, b: Any, flag: str = "") -> bool:
    """Realm's comparison of a stored value ``a`` with a constant ``b``."""
    if op in ("==", "!="):
        if a is None or b is None:
            equal = a is None and b is None
        elif not _comparable(a, b):
            equal = False
        elif flag and isinstance(a, str):
            equal = a.lower() == b.lower()
        else:
            equal = a == b
        return equal if op == "==" else not equal
    if a is None or b is None or not _comparable(a, b):
        return False
    if op in ("BEGINSWITH", "ENDSWITH", "CONTAINS", "LIKE"):
        if flag:
            a, b = a.lower(), b.lower()
        if op == "BEGINSWITH":
            return bool(a.startswith(b))
        if op == "ENDSWITH":
            return bool(a.endswith(b))
        if op == "CONTAINS":
            return b in a
        return _like(a, b)
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def _arith(op: str, a: Any, b: Any) -> Any:
    """Realm's arithmetic (realm-core Mixed::operator+ ...): null propagates; int division
    truncates and int x / 0 is INT64_MAX (INT64_MIN if x < 0); double x / 0 is +-inf.
    A NaN result (0.0 / 0.0) is null here: SQLite has no NaN (docs/query-language.md)."""
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if isinstance(a, int) and isinstance(b, int):
        if b == 0:
            return -(2**63) if a < 0 else 2**63 - 1
        quotient = abs(a) // abs(b)
        return quotient if (a < 0) == (b < 0) else -quotient
    if b == 0:
        return None if a == 0 else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def evaluate(node: Any, item: Item, others: list[dict[str, Any]]) -> bool:
    def get(path: str) -> Any:
        if path.startswith("link."):
            if item.link is None:
                return None
            return others[item.link][path[5:]]
        return item.values[path]

    if isinstance(node, Cmp):
        return compare(get(node.path), node.op, node.value, node.flag)
    if isinstance(node, Between):
        value = get(node.path)
        return compare(value, ">=", node.low) and compare(value, "<=", node.high)
    if isinstance(node, InList):
        value = get(node.path)
        return any(compare(value, "==", v) for v in node.values)
    if isinstance(node, ArithCmp):
        a = get(node.left)
        b = get(node.right) if isinstance(node.right, str) else node.right
        return compare(_arith(node.aop, a, b), node.op, node.value)
    if isinstance(node, ListCmp):
        value = get(node.path)
        results = [compare(value, node.op, v) for v in node.values]
        if node.quantifier == "ALL":
            return all(results)
        return any(results) if node.quantifier == "ANY" else not any(results)
    elements: list[Any] = item.tags if getattr(node, "collection", "") == "tags" else item.nums
    if isinstance(node, Quant):
        hits = [compare(e, node.op, node.value, node.flag) for e in elements]
        if node.quantifier == "ALL":
            return all(hits)
        if node.quantifier == "NONE":
            return not any(hits)
        return any(hits)
    if isinstance(node, Agg):
        aggregate: Any
        if node.agg in ("@count", "@size"):
            aggregate = len(elements)
        elif node.agg == "@sum":
            aggregate = sum(elements)
        elif not elements:
            aggregate = None
        elif node.agg == "@min":
            aggregate = min(elements)
        elif node.agg == "@max":
            aggregate = max(elements)
        else:
            aggregate = sum(elements) / len(elements)
        return compare(aggregate, node.op, node.value)
    assert isinstance(node, Bool)
    if node.op == "NOT":
        return not evaluate(node.items[0], item, others)
    left = evaluate(node.items[0], item, others)
    right = evaluate(node.items[1], item, others)
    return (left and right) if node.op == "AND" else (left or right)


def build(items: list[Item], others: list[dict[str, Any]]) -> tuple[RawRealm, list[int]]:
    db = RawRealm(SCHEMA)
    refs = [db.add("Other", None, **o) for o in others]
    keys = []
    for item in items:
        ref = db.add("Item", None, **item.values, tags=item.tags, nums=item.nums,
                     link=None if item.link is None else refs[item.link])
        keys.append(ref._key)
    return db, keys


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=items_strategy, others=others_strategy, predicate=predicates)
def test_sql_matches_reference(items: list[Item], others: list[dict[str, Any]],
                               predicate: Any) -> None:
    db, keys = build(items, others)
    args: list[Any] = []
    query = render(predicate, args)
    plan = db.plan("Item").filtered(query, args)
    expected = [k for k, item in zip(keys, items, strict=True) if evaluate(predicate, item, others)]
    assert db.keys_of(plan) == expected, query
    # The negation must select exactly the other objects.
    negated = db.plan("Item").filtered(f"NOT ({query})", args)
    assert db.keys_of(negated) == [k for k in keys if k not in expected], query
    # And the incremental check agrees with the full query.
    sql, params = plan.match_keys_sql(keys)
    assert sorted(r[0] for r in db.conn.execute(sql, params)) == expected


# -- sorting ----------------------------------------------------------------------------------

_MIXED_RANK: list[tuple[type, ...]] = [
    (type(None),), (bool,), (int, float, Decimal), (str,), (bytes,), (datetime,)
]


def _rank(value: Any) -> int:
    for rank, kinds in enumerate(_MIXED_RANK):
        if isinstance(value, kinds) and not (rank == 2 and isinstance(value, bool)):
            return rank
    raise AssertionError(value)


def reference_sort_key(prop: str, value: Any) -> tuple[Any, ...]:
    if prop == "m":
        return (_rank(value), value) if value is not None else (0, 0)
    return (0, 0) if value is None else (1, value)


@settings(max_examples=150, deadline=None)
@given(
    items=items_strategy,
    others=others_strategy,
    keys=st.lists(st.tuples(st.sampled_from(["i", "f", "s", "b", "d", "t", "m", "link.v",
                                             "link.w"]), st.booleans()),
                  min_size=1, max_size=3, unique_by=lambda k: k[0]),
)
def test_sort_matches_reference(items: list[Item], others: list[dict[str, Any]],
                                keys: list[tuple[str, bool]]) -> None:
    db, object_keys = build(items, others)
    plan = db.plan("Item").sorted([SortKey(path, ascending) for path, ascending in keys])

    def value_of(item: Item, path: str) -> Any:
        if path.startswith("link."):
            return None if item.link is None else others[item.link][path[5:]]
        return item.values[path]

    def cmp(a: tuple[int, Item], b: tuple[int, Item]) -> int:
        for path, ascending in keys:
            prop = path.split(".")[-1]
            ka = reference_sort_key(prop, value_of(a[1], path))
            kb = reference_sort_key(prop, value_of(b[1], path))
            if ka != kb:
                result = -1 if ka < kb else 1
                return result if ascending else -result
        return -1 if a[0] < b[0] else int(a[0] > b[0])

    expected = [k for k, _ in sorted(zip(object_keys, items, strict=True),
                                     key=functools.cmp_to_key(cmp))]
    assert db.keys_of(plan) == expected
    rows = [tuple(r) for r in db.conn.execute(*plan.sort_values_sql(object_keys))]
    ordered = sorted(rows, key=functools.cmp_to_key(plan.compare_sort_rows))
    assert [r[0] for r in ordered] == expected
