"""Realm Query Language over a genuine Realm Core file, evaluated in Python.

The Studio's query bar parses with :mod:`studio.core.query.parser` (the same parser the
SQL compiler uses, so a query reads the same everywhere); this module turns the tree
into Python closures over the reader's objects (:class:`~studio.realmfile.browse.CoreObject`)
instead of SQL. Why not convert the file to a temporary studio realm and query that:
converting costs a full copy (about 2,000 objects per write batch, minutes for a
million objects, and the disk space of a second realm) before the first answer, while a
scan answers in one pass over the objects the reader already decodes.

Covered: comparisons of every scalar type (``== != < <= > >=``), ``BEGINSWITH``,
``ENDSWITH``, ``CONTAINS``, ``LIKE`` with ``[c]`` and ``[d]``, ``IN`` (a list literal
or a collection), ``BETWEEN``, ``AND``/``OR``/``NOT``, ``TRUEPREDICATE``, paths through
links and collections (implicitly ``ANY``; ``ANY``/``ALL``/``NONE`` written),
``@count``/``@size``, ``@min``/``@max``/``@sum``/``@avg``, dictionary subscripts,
``@keys``/``@values``, and the modifiers ``SORT``, ``DISTINCT`` and ``LIMIT``.
Refused with a :class:`QueryError` at the construct's position (say so rather than give
a wrong answer): query arguments, ``SUBQUERY``, arithmetic, ``@links`` paths,
``@type``, geospatial and full-text predicates.

Order (SORT, and column sorting in the Studio): null first, then by value; numbers of
any type together, strings by code point, dates in time order.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from studio.core.errors import QueryError
from studio.core.query import nodes
from studio.core.query.parser import parse
from studio.core.schema import ObjectSchema, Property
from studio.primitives.objectid import ObjectId

__all__ = ["CoreQuery", "compile_query", "order_key", "sort_positions"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AGGREGATES = ("@min", "@max", "@sum", "@avg")
_SIZES = ("@count", "@size")
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
NOT_HERE = "on a Realm Core file (convert it to an editable copy for the whole language)"

Values = list[Any]
Getter = Callable[[Any], Values]
Matcher = Callable[[Any], bool]


class _Objects(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Any: ...


# -- values ------------------------------------------------------------------------------------


def _category(value: Any) -> tuple[str, Any]:
    """A value as (category, comparable value): numbers of any type compare together,
    dates as nanoseconds (as query literals are), objects by key."""
    if value is None:
        return "null", None
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int | float | Decimal):
        return "num", value
    if isinstance(value, str):
        return "str", value
    if isinstance(value, bytes):
        return "data", value
    if isinstance(value, datetime):
        delta = value - _EPOCH
        return "date", (delta.days * 86400 + delta.seconds) * 1_000_000_000 + \
            delta.microseconds * 1000
    if isinstance(value, ObjectId):
        return "objectId", value
    if isinstance(value, uuid.UUID):
        return "uuid", value
    if hasattr(value, "object_schema"):  # an object (compared by ==: class and key)
        return "object", value
    return "other", value


def _literal(node: nodes.Literal) -> Any:
    if node.kind == "date":
        return _NanoDate(node.value)
    return node.value


class _NanoDate(int):
    """A date literal: nanoseconds since the epoch (kept apart from plain numbers)."""


def _normal(value: Any) -> tuple[str, Any]:
    if isinstance(value, _NanoDate):
        return "date", int(value)
    return _category(value)


def _number_order(a: Any, b: Any) -> int:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        try:
            da = a if isinstance(a, Decimal) else Decimal(repr(float(a))) \
                if isinstance(a, float) else Decimal(a)
            db = b if isinstance(b, Decimal) else Decimal(repr(float(b))) \
                if isinstance(b, float) else Decimal(b)
            return (da > db) - (da < db)
        except InvalidOperation:
            return 0
    return int((a > b) - (a < b))


def _fold(text: str, case: bool, diacritics: bool) -> str:
    if diacritics:
        text = "".join(c for c in unicodedata.normalize("NFD", text)
                       if not unicodedata.combining(c))
    return text.casefold() if case else text


def _like(pattern: str, flags: int) -> re.Pattern[str]:
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), flags | re.DOTALL)


def compare(op: str, left: Any, right: Any, case: bool = False,
            diacritics: bool = False) -> bool:
    """One comparison of two values with Realm's meaning (null equals only null; values
    of different kinds are unequal and unordered)."""
    lk, lv = _normal(left)
    rk, rv = _normal(right)
    if op in ("BEGINSWITH", "ENDSWITH", "CONTAINS", "LIKE"):
        if lk != rk or lk not in ("str", "data"):
            return False
        if lk == "str":
            lv, rv = _fold(lv, case, diacritics), _fold(rv, case, diacritics)
        if op == "BEGINSWITH":
            return bool(lv.startswith(rv))
        if op == "ENDSWITH":
            return bool(lv.endswith(rv))
        if op == "CONTAINS":
            return rv in lv
        if lk != "str":
            return False
        return _like(rv, 0).fullmatch(lv) is not None
    if lk == "null" or rk == "null":
        same = lk == rk
        if op == "!=":
            return not same
        return same and op in ("==", "<=", ">=")
    if lk != rk:
        return op == "!="
    if lk == "num":
        if (isinstance(lv, float) and math.isnan(lv)) or (isinstance(rv, float)
                                                          and math.isnan(rv)):
            return op == "!="
        order = _number_order(lv, rv)
    elif lk == "str":
        lv, rv = _fold(lv, case, diacritics), _fold(rv, case, diacritics)
        order = (lv > rv) - (lv < rv)
    elif lk in ("bool", "object", "other"):
        if op not in ("==", "!="):
            return False
        order = 0 if lv == rv else 1
    else:  # date, data, objectId, uuid: ordered by their values
        order = (lv > rv) - (lv < rv)
    return {"==": order == 0, "!=": order != 0, "<": order < 0, "<=": order <= 0,
            ">": order > 0, ">=": order >= 0}[op]


def order_key(value: Any) -> tuple[int, Any]:
    """A sort key that orders any values as the Studio shows them sorted: null first."""
    kind, normal = _category(value)
    if kind == "null":
        return (0, 0)
    if kind == "num":
        if isinstance(normal, float) and math.isnan(normal):
            return (1, -math.inf)
        return (2, float(normal) if isinstance(normal, Decimal) else normal)
    rank = {"bool": 3, "str": 4, "data": 5, "date": 6, "objectId": 7, "uuid": 8,
            "object": 9}.get(kind, 10)
    if kind in ("objectId", "uuid", "object") or rank == 10:
        return (rank, str(normal))
    return (rank, normal)


# -- compiling -----------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, text: str, schema_of: Callable[[str], ObjectSchema]) -> None:
        self.text = text
        self.schema_of = schema_of

    def error(self, message: str, pos: int) -> QueryError:
        return QueryError(message, pos, self.text)

    def unsupported(self, what: str, pos: int) -> QueryError:
        return self.error(f"{what} is not supported {NOT_HERE}", pos)

    # predicates

    def predicate(self, node: nodes.Predicate, cls: str) -> Matcher:
        if isinstance(node, nodes.Constant):
            value = node.value
            return lambda _obj: value
        if isinstance(node, nodes.And):
            items = [self.predicate(i, cls) for i in node.items]
            return lambda obj: all(m(obj) for m in items)
        if isinstance(node, nodes.Or):
            items = [self.predicate(i, cls) for i in node.items]
            return lambda obj: any(m(obj) for m in items)
        if isinstance(node, nodes.Not):
            item = self.predicate(node.item, cls)
            return lambda obj: not item(obj)
        if isinstance(node, nodes.Between):
            return self.between(node, cls)
        if isinstance(node, nodes.Comparison):
            return self.comparison(node, cls)
        raise self.unsupported("a geospatial predicate", node.pos)

    def between(self, node: nodes.Between, cls: str) -> Matcher:
        getter, multi, quantifier = self.operand(node.operand, cls)
        if not isinstance(node.bounds, nodes.ListLiteral) or len(node.bounds.items) != 2:
            raise self.error("BETWEEN takes two bounds: {low, high}", node.op_pos)
        low, high = (self.constant(i) for i in node.bounds.items)

        def inside(value: Any) -> bool:
            return compare(">=", value, low) and compare("<=", value, high)

        return _quantified(getter, quantifier if multi else None, inside)

    def comparison(self, node: nodes.Comparison, cls: str) -> Matcher:
        op, case, dia = node.op, node.case_insensitive, node.diacritic_insensitive
        left, left_multi, left_q = self.operand(node.left, cls)
        right, right_multi, right_q = self.operand(node.right, cls)
        if op == "IN":
            return self._in_quantified(left, right, left_q if left_multi else None,
                                       case, dia)
        if not left_multi and right_multi:  # `5 == ANY ages`: read it from the list's side
            left, right, left_q = right, left, right_q
            left_multi, right_multi = True, False
            op = _MIRROR.get(op, op)
            if node.op in ("BEGINSWITH", "ENDSWITH", "CONTAINS", "LIKE"):
                raise self.unsupported(f"a list on the right of {node.op}", node.op_pos)
        if right_multi:
            def pairs(obj: Any) -> bool:
                rights = right(obj)
                return any(compare(op, lv, rv, case, dia) for lv in left(obj) for rv in rights)
            return pairs

        def test(obj: Any) -> bool:
            rights = right(obj)
            value = rights[0] if rights else None
            return _quantify(left(obj), left_q if left_multi else None,
                             lambda v: compare(op, v, value, case, dia))

        return test

    def _in_quantified(self, left: Getter, right: Getter, quantifier: str | None,
                       case: bool, dia: bool) -> Matcher:
        def test(obj: Any) -> bool:
            options = right(obj)
            return _quantify(left(obj), quantifier,
                             lambda v: any(compare("==", v, o, case, dia) for o in options))
        return test

    # operands: (getter of values, many values?, quantifier)

    def operand(self, node: nodes.Operand, cls: str) -> tuple[Getter, bool, str | None]:
        if isinstance(node, nodes.Literal):
            value = _literal(node)
            return (lambda _obj: [value]), False, None
        if isinstance(node, nodes.ListLiteral):
            values = [self.constant(i) for i in node.items]
            return (lambda _obj: values), True, node.quantifier or "ANY"
        if isinstance(node, nodes.KeyPath):
            getter, multi = self.path(node, cls)
            quantifier = node.quantifier or ("ANY" if multi else None)
            return getter, multi, quantifier
        if isinstance(node, nodes.Argument):
            raise self.unsupported(f"a query argument (${node.index})", node.pos)
        if isinstance(node, nodes.Subquery):
            raise self.unsupported("SUBQUERY", node.pos)
        raise self.unsupported("arithmetic", node.pos)

    def constant(self, node: nodes.Literal | nodes.Argument) -> Any:
        if isinstance(node, nodes.Argument):
            raise self.unsupported(f"a query argument (${node.index})", node.pos)
        return _literal(node)

    def path(self, node: nodes.KeyPath, cls: str) -> tuple[Getter, bool]:
        """A getter of the values a key path reaches from an object (several once it
        passes a to-many link or a collection) and whether it may reach several."""
        steps: list[Callable[[Values], Values]] = []
        schema: ObjectSchema | None = self.schema_of(cls)
        multi = False
        elements = node.elements
        i = 0
        while i < len(elements):
            element = elements[i]
            name = element.name
            if name.startswith("@"):
                raise self.unsupported(f"{name} here", element.pos)
            if schema is None:
                raise self.error(f"{name!r}: the path has no object here to read it from",
                                 element.pos)
            prop = _find(schema, name)
            if prop is None:
                raise self.error(f"{schema.name} has no property {name!r}", element.pos)
            if prop.name.startswith("@links"):
                raise self.unsupported("a backlink path", element.pos)
            steps.append(_read(prop.name))
            following = elements[i + 1].name if i + 1 < len(elements) else ""
            if prop.collection is not None or prop.is_backlink:
                if element.subscript is not None:
                    if prop.collection != "dictionary":
                        raise self.error(f"{name}[...] needs a dictionary", element.pos)
                    key = self.constant(element.subscript)
                    steps.append(_subscript(key))
                elif following in _SIZES:
                    steps.append(lambda values: [len(v) if v is not None else 0
                                                 for v in values])
                    i += 2
                    schema = None
                    if i < len(elements):
                        raise self.error("nothing can follow @count", elements[i].pos)
                    break
                elif following in _AGGREGATES:
                    i = self._aggregate(steps, elements, i + 1, prop)
                    schema = None
                    break
                elif following in ("@keys", "@values"):
                    steps.append(_keys_or_values(following == "@keys"))
                    multi = True
                    i += 2
                    schema = None
                    continue
                else:
                    steps.append(_flatten)
                    multi = True
            elif following in _SIZES and prop.type in ("string", "data"):
                steps.append(lambda values: [len(v) if v is not None else None
                                             for v in values])
                i += 2
                schema = None
                break
            schema = (self.schema_of(prop.object_type)
                      if prop.type in ("object", "linkingObjects") and prop.object_type
                      else None)
            i += 1
        if i < len(elements):
            raise self.error(f"{elements[i].name!r} cannot follow here", elements[i].pos)

        def get(obj: Any) -> Values:
            values: Values = [obj]
            for step in steps:
                values = step(values)
            return values

        return get, multi

    def _aggregate(self, steps: list[Callable[[Values], Values]],
                   elements: tuple[nodes.PathElement, ...], at: int, prop: Property) -> int:
        which = elements[at].name
        inner: str | None = None
        if prop.type in ("object", "linkingObjects"):
            if at + 1 >= len(elements):
                raise self.error(f"{which} of objects needs a property: "
                                 f"{prop.name}.{which}.property", elements[at].pos)
            target = self.schema_of(prop.object_type or "")
            inner_prop = _find(target, elements[at + 1].name) if target else None
            if inner_prop is None:
                raise self.error(f"{prop.object_type} has no property "
                                 f"{elements[at + 1].name!r}", elements[at + 1].pos)
            inner = inner_prop.name
            at += 1

        def aggregate(values: Values) -> Values:
            out: Values = []
            for collection in values:
                items = list(collection.values()) if isinstance(collection, dict) \
                    else list(collection or [])
                if inner is not None:
                    items = [o[inner] for o in items if o is not None]
                numbers = [v for v in items if v is not None and not isinstance(v, bool)]
                out.append(_fold_numbers(which, numbers))
            return out

        steps.append(aggregate)
        return at + 1

    # modifiers

    def modifiers(self, mods: Iterable[nodes.Modifier], cls: str
                  ) -> Callable[[list[tuple[int, Any]]], list[tuple[int, Any]]]:
        stages: list[Callable[[list[tuple[int, Any]]], list[tuple[int, Any]]]] = []
        for mod in mods:
            if isinstance(mod, nodes.SortModifier):
                keys = [(self.single(kp, cls), ascending) for kp, ascending in mod.keys]

                def sort(rows: list[tuple[int, Any]], keys: Any = keys) -> list[tuple[int, Any]]:
                    for getter, ascending in reversed(keys):  # stable: last key first
                        rows = sorted(rows, key=_row_key(getter), reverse=not ascending)
                    return rows
                stages.append(sort)
            elif isinstance(mod, nodes.DistinctModifier):
                getters = [self.single(kp, cls) for kp in mod.paths]

                def distinct(rows: list[tuple[int, Any]], getters: Any = getters
                             ) -> list[tuple[int, Any]]:
                    seen: set[Any] = set()
                    out = []
                    for row in rows:
                        mark = tuple(order_key(g(row[1])) for g in getters)
                        if mark not in seen:
                            seen.add(mark)
                            out.append(row)
                    return out
                stages.append(distinct)
            else:
                stages.append(_limit(mod.count))

        def apply(rows: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
            for stage in stages:
                rows = stage(rows)
            return rows

        return apply

    def single(self, kp: nodes.KeyPath, cls: str) -> Callable[[Any], Any]:
        getter, multi = self.path(kp, cls)
        if multi:
            raise self.error(f"cannot sort or pick distinct values by {kp.text}: "
                             "it holds several values", kp.pos)
        return lambda obj: (getter(obj) or [None])[0]


def _find(schema: ObjectSchema | None, name: str) -> Property | None:
    if schema is None:
        return None
    for prop in schema.properties:
        if prop.name == name:
            return prop
    return None


def _read(name: str) -> Callable[[Values], Values]:
    return lambda values: [v[name] if v is not None else None for v in values]


def _subscript(key: Any) -> Callable[[Values], Values]:
    return lambda values: [v.get(key) if isinstance(v, dict) else None for v in values]


def _keys_or_values(keys: bool) -> Callable[[Values], Values]:
    def pick(values: Values) -> Values:
        return [x for v in values if isinstance(v, dict)
                for x in (v.keys() if keys else v.values())]
    return pick


def _row_key(getter: Callable[[Any], Any]) -> Callable[[tuple[int, Any]], tuple[int, Any]]:
    return lambda row: order_key(getter(row[1]))


def _limit(count: int) -> Callable[[list[tuple[int, Any]]], list[tuple[int, Any]]]:
    return lambda rows: rows[:count]


def _flatten(values: Values) -> Values:
    out: Values = []
    for value in values:
        if isinstance(value, dict):
            out.extend(value.values())
        elif isinstance(value, list | tuple | set | frozenset):
            out.extend(value)
    return out


def _fold_numbers(which: str, numbers: list[Any]) -> Any:
    if which == "@sum":
        return sum(numbers, 0)
    if not numbers:
        return None
    if which == "@min":
        return min(numbers, key=lambda v: order_key(v))
    if which == "@max":
        return max(numbers, key=lambda v: order_key(v))
    if any(isinstance(v, Decimal) for v in numbers):
        return sum((Decimal(str(v)) for v in numbers), Decimal(0)) / len(numbers)
    return sum(numbers) / len(numbers)


def _quantify(values: Values, quantifier: str | None, test: Callable[[Any], bool]) -> bool:
    if quantifier is None:
        return test(values[0] if values else None)
    if quantifier == "ALL":
        return all(test(v) for v in values)
    if quantifier == "NONE":
        return not any(test(v) for v in values)
    return any(test(v) for v in values)


def _quantified(getter: Getter, quantifier: str | None, test: Callable[[Any], bool]
                ) -> Matcher:
    return lambda obj: _quantify(getter(obj), quantifier, test)


# -- the public face ---------------------------------------------------------------------------


class CoreQuery:
    """A query compiled for one class: :meth:`matches` one object, :meth:`run` over the
    class's objects (positions in the class, modifiers applied)."""

    def __init__(self, text: str, class_name: str,
                 schema_of: Callable[[str], ObjectSchema]) -> None:
        self.text = text
        self.class_name = class_name
        tree = parse(text)
        compiler = _Compiler(text, schema_of)
        self._match: Matcher = (compiler.predicate(tree.predicate, class_name)
                                if tree.predicate is not None else (lambda _obj: True))
        self._modify = compiler.modifiers(tree.modifiers, class_name)

    def matches(self, obj: Any) -> bool:
        return self._match(obj)

    def run(self, objects: _Objects, positions: Sequence[int] | None = None,
            cancelled: Callable[[], bool] = lambda: False) -> list[int]:
        """Positions of the matching objects (among ``positions``, all by default), in
        the order the query's modifiers give. ``cancelled`` is asked every 1,000 objects:
        True stops the scan (the answer is then incomplete: drop it)."""
        rows: list[tuple[int, Any]] = []
        match = self._match
        indexes: Iterable[int] = range(len(objects)) if positions is None else positions
        for n, index in enumerate(indexes):
            if n % 1000 == 0 and cancelled():
                break
            obj = objects[index]
            if match(obj):
                rows.append((index, obj))
        return [index for index, _obj in self._modify(rows)]


def compile_query(text: str, class_name: str,
                  schema_of: Callable[[str], ObjectSchema]) -> CoreQuery:
    """Parse and check ``text`` for ``class_name`` (raises QueryError with the position)."""
    return CoreQuery(text, class_name, schema_of)


def sort_positions(objects: _Objects, positions: Sequence[int], prop: str,
                   ascending: bool) -> list[int]:
    """``positions`` ordered by one property of their objects (null first ascending);
    ties keep their order."""
    keyed = [(order_key(objects[p][prop]), p) for p in positions]
    keyed.sort(key=lambda item: item[0], reverse=not ascending)
    return [p for _key, p in keyed]
