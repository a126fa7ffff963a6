"""What the adapter learns from the tables: realm classes from table columns, and the
rows that link to erased objects.

A realm that lacks a class whose table has rows for it gets the class, read
from the table's columns.

A column the adapter created carries the realm type in its comment
(``studio:int?``), so the class comes back exactly; a column of a table made by
hand gets the optional realm type of its PostgreSQL type (docs/adapter.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from studio.core import Realm
from studio.core.errors import RealmError
from studio.integrations.adapter.mapping import REALM_COLUMN, is_mirrored, realm_property_spec
from studio.integrations.adapter.tables import Tables
from studio.integrations.errors import AdapterError
from studio.integrations.logs import log
from studio.primitives.objectid import ObjectId


async def linking_rows(
    cur: psycopg.AsyncCursor[Any], tables: Tables, realm: Realm, path: str, target: str,
    gone: Sequence[Any],
) -> dict[str, list[Any]]:  # fmt: skip
    """Keys (realm values) of the objects whose rows link to the ``gone`` rows
    (their keys as PostgreSQL has them) of class ``target``."""
    out: dict[str, list[Any]] = {}
    for schema in realm.schema:
        if not is_mirrored(schema):
            continue
        assert schema.primary_key is not None
        key_type = schema.get_property(schema.primary_key).type
        for prop in schema.persisted_properties:
            if not prop.is_link or prop.object_type != target:
                continue
            if prop.name not in tables.columns.get(schema.name, {}):
                continue
            column = sql.Identifier(prop.name)
            if prop.collection is None:
                where = sql.SQL("{} = ANY(%s)").format(column)
                values: list[Any] = list(gone)
            else:
                dictionary = prop.collection == "dictionary"
                elements = "jsonb_each" if dictionary else "jsonb_array_elements"
                where = sql.SQL("EXISTS (SELECT 1 FROM " + elements + "({}) e"
                                " WHERE e.value = ANY(%s::jsonb[]))").format(column)  # fmt: skip
                values = [Jsonb(k) for k in gone]
            await cur.execute(sql.SQL("SELECT {} FROM {} WHERE {} = %s AND ").format(
                sql.Identifier(schema.primary_key), tables.name(schema.name),
                sql.Identifier(REALM_COLUMN)) + where, (path, values))  # fmt: skip
            keys = [ObjectId(k) if key_type == "objectId" else k for (k,) in await cur.fetchall()]
            out.setdefault(schema.name, []).extend(keys)
    return out


async def class_spec(
    conn: psycopg.AsyncConnection[Any], tables: Tables, table: str
) -> dict[str, Any]:
    """The realm class (Realm JS JSON form) of a class table."""
    key = tables.primary_keys.get(table)
    if key is None:
        raise AdapterError(f"table {tables.schema}.{table} has no primary key besides _realm")
    properties: dict[str, str] = {}
    for column, data_type, comment in await tables.column_comments(conn, table):
        if column == REALM_COLUMN:
            continue
        spec = realm_property_spec(column, data_type, comment)
        if spec is None:
            log(logging.WARNING, "adapter_column_not_synced", table=table, column=column,
                type=data_type, reason="no realm type for this PostgreSQL type")  # fmt: skip
            continue
        if column == key:
            spec = spec.removesuffix("?")  # a primary key of a table is never NULL
        properties[column] = spec
    return {"name": table, "primaryKey": key, "properties": properties}


async def adopt_classes(
    conn: psycopg.AsyncConnection[Any], tables: Tables, realm: Realm, names: Sequence[str]
) -> None:
    """Add to ``realm`` the classes of the tables ``names`` it does not have yet."""
    have = {s.name for s in realm.schema}
    missing = [n for n in dict.fromkeys(names) if n not in have]
    if not missing:
        return
    specs = [await class_spec(conn, tables, name) for name in missing]
    try:
        with realm.write():
            realm.update_schema(specs)
    except RealmError as exc:
        raise AdapterError(f"cannot add the classes {missing} of the PostgreSQL tables to the "
                           f"realm {realm.path}: {exc}") from None  # fmt: skip
    log(logging.INFO, "adapter_classes_adopted", realm=realm.path, classes=missing)
