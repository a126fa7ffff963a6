"""Realm files built with raw SQL in the storage layout, for testing queries on their own.

``RawRealm`` creates the tables with ``class_table_ddl`` and inserts rows with the
encodings of docs/storage-layout.md, so the query compiler is tested without the
store's write path.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import studio.core.query  # noqa: F401  (registers the SQL functions before any connection)
from studio.core.query import QueryPlan, SortKey
from studio.core.schema import ObjectSchema, parse_schema
from studio.core.storage import (
    class_table,
    class_table_ddl,
    collection_table,
    column,
    configure_connection,
    tag_column,
)
from studio.core.values import ENCODERS, MixedTag, encode_mixed_primitive
from studio.primitives.objectid import ObjectId


@dataclass(frozen=True)
class Ref:
    """An object handle as the store's objects look to the query compiler."""

    _key: int
    _class_name: str


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def oid(n: int) -> ObjectId:
    return ObjectId(n.to_bytes(12, "big"))


def uid(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


class RawRealm:
    def __init__(self, schema_json: list[dict[str, Any]]) -> None:
        classes = parse_schema(schema_json)
        self.schema: dict[str, ObjectSchema] = {c.name: c for c in classes}
        self.conn = sqlite3.connect(":memory:")
        configure_connection(self.conn)
        for cls in classes:
            for statement in class_table_ddl(cls):
                self.conn.execute(statement)
        self.keys: dict[tuple[str, str], int] = {}
        self.names: dict[tuple[str, int], str] = {}

    # -- writing ----------------------------------------------------------------------------

    def add(self, class_name: str, label_: str | None = None, /, **values: Any) -> Ref:
        cls = self.schema[class_name]
        columns: list[str] = []
        params: list[Any] = []
        for prop in cls.properties:
            if prop.is_backlink or prop.collection is not None or prop.name not in values:
                continue
            value = values[prop.name]
            if prop.type == "mixed":
                encoded, tag = _encode_mixed(value)
                columns += [column(prop.name), tag_column(prop.name)]
                params += [encoded, tag]
            elif prop.type == "object":
                columns.append(column(prop.name))
                params.append(None if value is None else value._key)
            else:
                columns.append(column(prop.name))
                params.append(None if value is None else ENCODERS[prop.type](value))
        if columns:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {class_table(class_name)} ({', '.join(columns)}) VALUES ({marks})"
        else:
            sql = f"INSERT INTO {class_table(class_name)} DEFAULT VALUES"
        key = self.conn.execute(sql, params).lastrowid
        assert key is not None
        ref = Ref(key, class_name)
        for prop in cls.properties:
            if prop.collection is None or prop.is_backlink or prop.name not in values:
                continue
            self.set_collection(ref, prop.name, values[prop.name])
        if label_ is not None:
            self.keys[(class_name, label_)] = key
            self.names[(class_name, key)] = label_
        return ref

    def set_collection(self, owner: Ref, name: str, value: Any) -> None:
        prop = self.schema[owner._class_name].get(name)
        assert prop is not None
        table = collection_table(owner._class_name, prop)
        self.conn.execute(f"DELETE FROM {table} WHERE owner = ?", (owner._key,))
        rows: list[tuple[Any, ...]] = []
        if prop.collection == "list":
            rows = [(owner._key, i, *self._element(prop.type, v)) for i, v in enumerate(value)]
        elif prop.collection == "set":
            rows = [(owner._key, *self._element(prop.type, v)) for v in value]
        else:
            rows = [(owner._key, k, *self._element(prop.type, v)) for k, v in value.items()]
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            self.conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def _element(self, type_name: str, value: Any) -> tuple[Any, ...]:
        if type_name == "mixed":
            return _encode_mixed(value)
        if type_name == "object":
            return (None if value is None else value._key,)
        return (None if value is None else ENCODERS[type_name](value),)

    # -- querying ---------------------------------------------------------------------------

    def plan(self, class_name: str) -> QueryPlan:
        return QueryPlan(self.schema, class_name)

    def keys_of(self, plan: QueryPlan) -> list[int]:
        sql, params = plan.select_keys_sql()
        keys = [row[0] for row in self.conn.execute(sql, params)]
        count_sql, count_params = plan.count_sql()
        count = self.conn.execute(count_sql, count_params).fetchone()[0]
        assert count == len(keys), (count, len(keys), sql)
        # The store's incremental check compiles the filters for a few rows (probe mode):
        # it must pick exactly the same objects.
        table = class_table(plan.class_name)
        every = [row[0] for row in self.conn.execute(f'SELECT "@key" FROM {table}')]
        match_sql, match_params = plan.match_keys_sql(every)
        matched = sorted(row[0] for row in self.conn.execute(match_sql, match_params))
        assert matched == sorted(keys), (match_sql, match_params)
        return keys

    def query(self, class_name: str, query: str, *args: Any) -> list[str]:
        """Labels of the matching objects, in result order."""
        plan = self.plan(class_name).filtered(query, args)
        return [self.names.get((class_name, k), str(k)) for k in self.keys_of(plan)]

    def sorted_query(self, class_name: str, query: str, *args: Any,
                     sort: list[SortKey] | None = None) -> list[str]:
        plan = self.plan(class_name).filtered(query, args)
        if sort:
            plan = plan.sorted(sort)
        return [self.names.get((class_name, k), str(k)) for k in self.keys_of(plan)]

    def ref(self, class_name: str, label: str) -> Ref:
        return Ref(self.keys[(class_name, label)], class_name)


def _encode_mixed(value: Any) -> tuple[Any, int]:
    if isinstance(value, Ref):
        return f"{value._class_name}\x1f{value._key}", int(MixedTag.LINK)
    return encode_mixed_primitive(value)


__all__ = ["Decimal", "RawRealm", "Ref", "oid", "uid", "utc"]
