"""A Results' query plan: the chain of filters, sorts, distincts and limits, as SQL.

This is the contract between ``studio.core.results`` and the query language:
Results only calls the methods below. The plan is immutable; each step returns a
new plan.

Ordering: every SELECT orders by the sort keys and then by the object key, so
an order is always total and the same in SQL and in :meth:`QueryPlan.sort_key`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from studio.core.errors import QueryError
from studio.core.schema import ObjectSchema, Property
from studio.core.storage import KEY, class_table, column
from studio.core.values import ENCODERS, encode_query_value


@dataclass(frozen=True, slots=True)
class SortKey:
    keypath: str
    ascending: bool = True


@dataclass(frozen=True, slots=True)
class _Filter:
    sql: str
    params: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Sort:
    keys: tuple[SortKey, ...]


_Step = _Filter | _Sort

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<arg>\$\d+)|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<op>==|=|!=|<>|<=|>=|<|>)|(?P<word>[A-Za-z_][\w]*))"
)
_SQL_OPS = {"==": "=", "=": "=", "!=": "IS NOT", "<>": "IS NOT", "<": "<", "<=": "<=",
            ">": ">", ">=": ">="}


class QueryPlan:
    """Filters and orderings over one class, compiled to SQL on the class table ``t0``."""

    __slots__ = ("_steps", "class_name", "schema")

    def __init__(
        self,
        schema: Mapping[str, ObjectSchema],
        class_name: str,
        steps: tuple[_Step, ...] = (),
    ) -> None:
        self.schema = schema
        self.class_name = class_name
        self._steps = steps

    # -- building -------------------------------------------------------------------------

    def filtered(self, query: str, args: Sequence[Any] = ()) -> QueryPlan:
        """Add a filter in Realm Query Language."""
        sql, params = self._compile_simple(query, args)
        return QueryPlan(self.schema, self.class_name, (*self._steps, _Filter(sql, params)))

    def sorted(self, keys: Sequence[SortKey]) -> QueryPlan:
        for key in keys:
            self._scalar_property(key.keypath, query=key.keypath, position=0)
        return QueryPlan(self.schema, self.class_name, (*self._steps, _Sort(tuple(keys))))

    # -- what Results asks ------------------------------------------------------------------

    @property
    def dependencies(self) -> frozenset[str]:
        """Classes besides the root whose changes can change this plan's membership or order."""
        return frozenset()

    @property
    def is_incremental(self) -> bool:
        """True when one object's membership and place depend only on that object's row
        (and the classes in :attr:`dependencies`), so a change can be applied without
        re-running the whole query. False for plans with DISTINCT or LIMIT."""
        return True

    @property
    def sort_keys(self) -> tuple[SortKey, ...]:
        """The effective sort order, most significant first (without the final key)."""
        keys: list[SortKey] = []
        for step in self._steps:
            if isinstance(step, _Sort):
                # A later sort is primary; the earlier order breaks its ties (as in Realm).
                keys = [*step.keys, *(k for k in keys if k not in step.keys)]
        return tuple(keys)

    def _where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for step in self._steps:
            if isinstance(step, _Filter):
                clauses.append(f"({step.sql})")
                params.extend(step.params)
        return (" AND ".join(clauses) or "1"), params

    def _order_by(self) -> str:
        parts = [
            f"t0.{column(k.keypath)} {'ASC' if k.ascending else 'DESC'}" for k in self.sort_keys
        ]
        parts.append(f"t0.{KEY}")
        return ", ".join(parts)

    def select_keys_sql(self) -> tuple[str, list[Any]]:
        """SELECT of the object keys of the results, in order."""
        where, params = self._where()
        table = class_table(self.class_name)
        return f"SELECT t0.{KEY} FROM {table} AS t0 WHERE {where} ORDER BY {self._order_by()}", params

    def count_sql(self) -> tuple[str, list[Any]]:
        where, params = self._where()
        return f"SELECT count(*) FROM {class_table(self.class_name)} AS t0 WHERE {where}", params

    def match_keys_sql(self, keys: Sequence[int]) -> tuple[str, list[Any]]:
        """SELECT of those of ``keys`` that pass every filter (order not given)."""
        where, params = self._where()
        marks = ",".join("?" * len(keys))
        sql = (
            f"SELECT t0.{KEY} FROM {class_table(self.class_name)} AS t0 "
            f"WHERE t0.{KEY} IN ({marks}) AND {where}"
        )
        return sql, [*keys, *params]

    def compare_sort_rows(self, a: Sequence[Any], b: Sequence[Any]) -> int:
        """Order two rows of :meth:`sort_values_sql` exactly as :meth:`select_keys_sql` does."""
        return compare_sort_rows(a, b, [k.ascending for k in self.sort_keys])

    def sort_values_sql(self, keys: Sequence[int]) -> tuple[str, list[Any]]:
        """SELECT key, sort value 1, ..., sort value n for ``keys``."""
        exprs = "".join(f", t0.{column(k.keypath)}" for k in self.sort_keys)
        marks = ",".join("?" * len(keys))
        sql = (
            f"SELECT t0.{KEY}{exprs} FROM {class_table(self.class_name)} AS t0 "
            f"WHERE t0.{KEY} IN ({marks})"
        )
        return sql, list(keys)

    # -- the minimal filter language (the query-language module replaces this) -------------

    def _scalar_property(self, name: str, query: str, position: int) -> Property:
        cls = self.schema[self.class_name]
        prop = cls.get(name)
        if prop is None:
            raise QueryError(
                f"'{self.class_name}' has no property '{name}'", position, query
            )
        if prop.collection is not None or prop.is_backlink:
            raise QueryError(f"property '{name}' is a collection; expected a value", position,
                             query)
        return prop

    def _compile_simple(self, query: str, args: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(query.rstrip()):
            match = _TOKEN.match(query, pos)
            if not match or match.end() == pos:
                raise QueryError(f"unexpected character {query[pos]!r}", pos, query)
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind), match.start(kind)))
            pos = match.end()
        clauses: list[str] = []
        params: list[Any] = []
        i = 0
        while True:
            if i + 3 > len(tokens):
                where = tokens[i][2] if i < len(tokens) else len(query)
                raise QueryError("expected 'property operator value'", where, query)
            (k1, prop_name, p1), (k2, op, p2), (k3, raw, p3) = tokens[i : i + 3]
            if k1 != "word" or k2 != "op":
                raise QueryError("expected 'property operator value'", p1, query)
            prop = self._scalar_property(prop_name, query, p1)
            value: Any
            if k3 == "arg":
                n = int(raw[1:])
                if n >= len(args):
                    raise QueryError(f"argument {raw} was not given", p3, query)
                value = args[n]
            elif k3 == "num":
                value = float(raw) if "." in raw else int(raw)
            elif k3 == "str":
                value = raw[1:-1]
            elif raw.lower() in ("true", "false"):
                value = raw.lower() == "true"
            elif raw.lower() == "null":
                value = None
            else:
                raise QueryError(f"expected a value, found {raw!r}", p3, query)
            encoder = ENCODERS.get(prop.type)
            if value is not None and encoder is not None:
                try:
                    value = encoder(value)
                except TypeError as exc:
                    raise QueryError(f"cannot compare {prop.name}: {exc}", p3, query) from None
            else:
                value = encode_query_value(value)
            sql_op = _SQL_OPS[op]
            if value is None:
                sql_op = "IS" if op in ("==", "=") else "IS NOT"
            clauses.append(f"t0.{column(prop.name)} {sql_op} ?")
            params.append(value)
            i += 3
            if i == len(tokens):
                break
            if tokens[i][0] == "word" and tokens[i][1].upper() in ("AND", "&&"):
                i += 1
                continue
            raise QueryError("expected AND or the end of the query", tokens[i][2], query)
        return " AND ".join(clauses), tuple(params)


def _storage_class_rank(value: Any) -> int:
    # SQLite orders NULL < INTEGER/REAL < TEXT < BLOB.
    if value is None:
        return 0
    if isinstance(value, int | float):
        return 1
    if isinstance(value, str):
        return 2
    return 3


def compare_sql_values(a: Any, b: Any) -> int:
    """Compare two stored values the way SQLite's ORDER BY does with the BINARY collation."""
    ra, rb = _storage_class_rank(a), _storage_class_rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 0:
        return 0
    if ra == 2:
        # BINARY compares UTF-8 bytes, which is code point order.
        return (a > b) - (a < b)
    return (a > b) - (a < b)


def compare_sort_rows(
    a: Sequence[Any], b: Sequence[Any], directions: Sequence[bool]
) -> int:
    """Compare rows from :meth:`QueryPlan.sort_values_sql`: (key, v1..vn) with n directions."""
    for i, ascending in enumerate(directions, start=1):
        c = compare_sql_values(a[i], b[i])
        if c:
            return c if ascending else -c
    return (a[0] > b[0]) - (a[0] < b[0])
