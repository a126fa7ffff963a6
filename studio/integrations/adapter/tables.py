"""The adapter's PostgreSQL side: its tables, the capture triggers and the SQL it runs.

In the schema the adapter is given (``--pg-schema``, default ``public``):

- one table per realm class, primary key ``(_realm, <the class's primary key>)``;
- ``_studio_state``: per realm, the server version of the last download
  mirrored (written in the same transaction as the rows: the exactly-once cursor);
- ``_studio_changes``: what other SQL clients changed, written by the
  ``_studio_capture`` trigger of each class table (row images, the changed
  columns, the capture time), which also sends ``NOTIFY``;
- ``_studio_dead_letters``: rows the realm could not take, with the reason.

The adapter's own transactions set ``studio.adapter_write`` (transaction-local),
which the trigger skips: the adapter never captures its own writes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from studio.core.schema import ObjectSchema, Property
from studio.integrations.adapter.mapping import (
    REALM_COLUMN,
    column_type,
    is_mirrored,
    type_comment,
)
from studio.integrations.logs import log

STATE_TABLE = "_studio_state"
CHANGES_TABLE = "_studio_changes"
DEAD_LETTERS_TABLE = "_studio_dead_letters"
CAPTURE_FUNCTION = "_studio_capture"
OWN_WRITE_SETTING = "studio.adapter_write"
COPY_FROM_ROWS = 100
"""From this many rows of a class in one transaction, they are written with COPY."""
_INFORMATION_SCHEMA_NAMES = {"timestamptz": "timestamp with time zone"}

_CAPTURE_BODY = """
DECLARE
  new_row jsonb;
  old_row jsonb;
  changed text[];
BEGIN
  IF coalesce(current_setting('studio.adapter_write', true), '') = 'on' THEN
    RETURN NULL;  -- the adapter's own write: never captured back
  END IF;
  IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
  IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
  IF TG_OP = 'UPDATE' THEN
    SELECT array_agg(n.key) INTO changed FROM jsonb_each(new_row) n
      WHERE n.value IS DISTINCT FROM old_row -> n.key;
    IF changed IS NULL THEN RETURN NULL; END IF;
  END IF;
  INSERT INTO {changes} (realm, class, op, key, old_realm, old_key, "row", changed)
  VALUES (coalesce(new_row ->> '_realm', old_row ->> '_realm'), TG_TABLE_NAME, TG_OP,
          new_row -> TG_ARGV[0], old_row ->> '_realm', old_row -> TG_ARGV[0], new_row, changed);
  PERFORM pg_notify(TG_ARGV[1], '');
  RETURN NULL;
END
"""


class Tables:
    """The adapter's tables in one PostgreSQL schema, and the columns it knows."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.channel = f"studio_adapter_{schema}"[:63]
        self.columns: dict[str, dict[str, str]] = {}
        """class table -> {column: type} as PostgreSQL has them."""
        self.primary_keys: dict[str, str] = {}
        self._mismatch_logged: set[tuple[str, str]] = set()

    def name(self, table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))

    # ------------------------------------------------------------------ installing

    async def install(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """The schema, the adapter's own tables and the capture function (idempotent)."""
        ident = sql.Identifier
        async with conn.transaction():
            await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident(self.schema)))
            await conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (realm text PRIMARY KEY,"
                " server_version bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
            ).format(self.name(STATE_TABLE)))  # fmt: skip
            await conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, realm text,"
                " class text NOT NULL, op text NOT NULL, key jsonb, old_realm text, old_key jsonb,"
                " \"row\" jsonb, changed text[],"
                " captured_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            ).format(self.name(CHANGES_TABLE)))  # fmt: skip
            await conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, realm text,"
                " class text NOT NULL, op text NOT NULL, key jsonb, \"row\" jsonb,"
                " error text NOT NULL, captured_at timestamptz,"
                " failed_at timestamptz NOT NULL DEFAULT now())"
            ).format(self.name(DEAD_LETTERS_TABLE)))  # fmt: skip
            body = _CAPTURE_BODY.replace("{changes}", self.name(CHANGES_TABLE).as_string(conn))
            await conn.execute(sql.SQL(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {}"
            ).format(self.name(CAPTURE_FUNCTION), sql.Literal(body)))  # fmt: skip
        await self.load(conn)
        async with conn.transaction():
            # Tables made before the adapter (or by hand) are captured too.
            for table, key in self.primary_keys.items():
                await self._capture(conn, table, key)

    async def realms_with_rows(self, conn: psycopg.AsyncConnection[Any]) -> list[str]:
        """The realm paths the class tables hold rows for."""
        found: set[str] = set()
        for table in self.columns:
            cur = await conn.execute(sql.SQL("SELECT DISTINCT {} FROM {}").format(
                sql.Identifier(REALM_COLUMN), self.name(table)))  # fmt: skip
            found.update(str(row[0]) for row in await cur.fetchall())
        return sorted(found)

    async def _capture(self, conn: psycopg.AsyncConnection[Any], table: str, key: str) -> None:
        await conn.execute(sql.SQL(
            "CREATE OR REPLACE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {}"
            " FOR EACH ROW EXECUTE FUNCTION {}({}, {})"
        ).format(sql.Identifier(CAPTURE_FUNCTION), self.name(table), self.name(CAPTURE_FUNCTION),
                 sql.Literal(key), sql.Literal(self.channel)))  # fmt: skip

    async def load(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Read the class tables PostgreSQL has (tables with a ``_realm`` column)."""
        cur = await conn.execute(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
            " WHERE c.table_schema = %s AND c.table_name IN (SELECT table_name FROM"
            " information_schema.columns WHERE table_schema = %s AND column_name = %s)"
            " AND c.table_name NOT LIKE '\\_studio\\_%%' ORDER BY c.ordinal_position",
            (self.schema, self.schema, REALM_COLUMN),
        )
        self.columns = {}
        for table, column, data_type in await cur.fetchall():
            self.columns.setdefault(table, {})[column] = data_type
        cur = await conn.execute(
            "SELECT tc.table_name, k.column_name FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)"
            " WHERE tc.table_schema = %s AND tc.constraint_type = 'PRIMARY KEY'"
            " AND k.column_name <> %s",
            (self.schema, REALM_COLUMN),
        )
        self.primary_keys = {t: c for t, c in await cur.fetchall() if t in self.columns}

    async def column_comments(
        self, conn: psycopg.AsyncConnection[Any], table: str
    ) -> list[tuple[str, str, str | None]]:
        """``(column, data_type, comment)`` of a class table, in column order."""
        cur = await conn.execute(
            "SELECT a.attname, format_type(a.atttypid, NULL), col_description(a.attrelid, a.attnum)"
            " FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0"
            " AND NOT a.attisdropped ORDER BY a.attnum",
            (self.name(table).as_string(conn),),
        )
        return [(str(n), str(t), c) for n, t, c in await cur.fetchall()]

    # ------------------------------------------------------------------ class tables

    async def ensure_classes(
        self, conn: psycopg.AsyncConnection[Any], schema: Sequence[ObjectSchema]
    ) -> None:
        """A table for every mirrored class, a column for every property (ALTER
        TABLE ADD COLUMN for those added since): the realm's schema additions."""
        classes = {s.name: s for s in schema}
        for cls in schema:
            if not is_mirrored(cls):
                continue
            have = self.columns.get(cls.name)
            missing = [p for p in cls.persisted_properties if have is None or p.name not in have]
            if have is not None and not missing:
                continue
            async with conn.transaction():
                if have is None:
                    await self._create_table(conn, cls, classes)
                else:
                    for prop in missing:
                        await self._add_column(conn, cls.name, prop, classes)
            await self.load(conn)

    async def _create_table(
        self, conn: psycopg.AsyncConnection[Any], cls: ObjectSchema,
        classes: dict[str, ObjectSchema],
    ) -> None:  # fmt: skip
        assert cls.primary_key is not None
        ident = sql.Identifier
        columns = [sql.SQL("{} text NOT NULL").format(ident(REALM_COLUMN))]
        for prop in cls.persisted_properties:
            null = " NOT NULL" if prop.is_primary_key and not prop.optional else ""
            kind = column_type(prop, classes) + null
            columns.append(sql.SQL("{} " + kind).format(ident(prop.name)))
        table = self.name(cls.name)
        create = sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}, {}))")
        await conn.execute(create.format(table, sql.SQL(", ").join(columns),
                                         ident(REALM_COLUMN), ident(cls.primary_key)))  # fmt: skip
        for prop in cls.persisted_properties:
            await self._comment(conn, cls.name, prop)
        await self._capture(conn, cls.name, cls.primary_key)
        log(logging.INFO, "adapter_table_created", table=f"{self.schema}.{cls.name}")

    async def _add_column(
        self, conn: psycopg.AsyncConnection[Any], table: str, prop: Property,
        classes: dict[str, ObjectSchema],
    ) -> None:  # fmt: skip
        await conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} " +
                                   column_type(prop, classes)).format(
            self.name(table), sql.Identifier(prop.name)))  # fmt: skip
        await self._comment(conn, table, prop)
        log(logging.INFO, "adapter_column_added", table=f"{self.schema}.{table}", column=prop.name,
            type=prop.type_string)  # fmt: skip

    async def _comment(
        self, conn: psycopg.AsyncConnection[Any], table: str, prop: Property
    ) -> None:
        comment = sql.SQL("COMMENT ON COLUMN {}.{} IS {}")
        await conn.execute(comment.format(self.name(table), sql.Identifier(prop.name),
                                          sql.Literal(type_comment(prop))))  # fmt: skip

    def mirrored_columns(
        self, cls: ObjectSchema, classes: dict[str, ObjectSchema]
    ) -> list[Property]:
        """The properties of ``cls`` written to its table: those whose column has
        the type the mapping gives (a clash between realms is logged once)."""
        have = self.columns.get(cls.name, {})
        out = []
        for prop in cls.persisted_properties:
            actual = have.get(prop.name)
            if actual is None:
                continue
            wanted = column_type(prop, classes)
            if actual != _INFORMATION_SCHEMA_NAMES.get(wanted, wanted):
                if (cls.name, prop.name) not in self._mismatch_logged:
                    self._mismatch_logged.add((cls.name, prop.name))
                    log(logging.ERROR, "adapter_column_type_clash", table=cls.name,
                        column=prop.name, column_type=actual, realm_type=prop.type_string,
                        advice="realms mirrored into one schema must agree on "
                        "property types")  # fmt: skip
                continue
            out.append(prop)
        return out

    # ------------------------------------------------------------------ writing rows

    async def mark_own_writes(self, cur: psycopg.AsyncCursor[Any]) -> None:
        """Inside a transaction: the capture triggers skip what follows."""
        await cur.execute("SELECT set_config(%s, 'on', true)", (OWN_WRITE_SETTING,))

    async def upsert(
        self, cur: psycopg.AsyncCursor[Any], table: str, key: str, columns: Sequence[Property],
        rows: Sequence[Sequence[Any]],
    ) -> None:  # fmt: skip
        """Insert or update rows (``_realm`` first, then ``columns``): ``executemany``
        for a few, ``COPY`` into a temporary table then one merge for many."""
        if not rows:
            return
        ident = sql.Identifier
        names = sql.SQL(", ").join(map(ident, [REALM_COLUMN, *(p.name for p in columns)]))
        updates = [sql.SQL("{0} = EXCLUDED.{0}").format(ident(p.name)) for p in columns
                   if p.name != key]  # fmt: skip
        conflict = sql.SQL(" ON CONFLICT ({}, {}) DO {}").format(
            ident(REALM_COLUMN), ident(key),
            sql.SQL("UPDATE SET ") + sql.SQL(", ").join(updates) if updates else sql.SQL("NOTHING"),
        )  # fmt: skip
        if len(rows) < COPY_FROM_ROWS:
            values = sql.SQL(", ").join(sql.Placeholder() * (len(columns) + 1))
            await cur.executemany(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                self.name(table), names, values) + conflict, rows)  # fmt: skip
            return
        staging = ident(f"_studio_staging_{table}"[:63])
        create = sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA")
        await cur.execute(create.format(staging, names, self.name(table)))
        async with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(staging, names)) as copy:
            for row in rows:
                await copy.write_row(row)
        await cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            self.name(table), names, names, staging) + conflict)  # fmt: skip
        await cur.execute(sql.SQL("DROP TABLE {}").format(staging))

    async def delete(
        self, cur: psycopg.AsyncCursor[Any], table: str, key: str, realm: str, keys: Iterable[Any]
    ) -> None:
        rows = [(realm, k) for k in keys]
        if rows:
            query = sql.SQL("DELETE FROM {} WHERE {} = %s AND {} = %s").format(
                self.name(table), sql.Identifier(REALM_COLUMN), sql.Identifier(key))
            await cur.executemany(query, rows)

    async def stored_version(self, cur: psycopg.AsyncCursor[Any], realm: str) -> int | None:
        """The server version mirrored for ``realm`` (locked until the transaction ends)."""
        await cur.execute(sql.SQL("SELECT server_version FROM {} WHERE realm = %s FOR UPDATE")
                          .format(self.name(STATE_TABLE)), (realm,))  # fmt: skip
        row = await cur.fetchone()
        return None if row is None else int(row[0])

    async def store_version(self, cur: psycopg.AsyncCursor[Any], realm: str, version: int) -> None:
        await cur.execute(sql.SQL(
            "INSERT INTO {} (realm, server_version) VALUES (%s, %s) ON CONFLICT (realm)"
            " DO UPDATE SET server_version = EXCLUDED.server_version, updated_at = now()"
        ).format(self.name(STATE_TABLE)), (realm, version))  # fmt: skip

    async def dead_letter(
        self, cur: psycopg.AsyncCursor[Any], change: Change, error: str
    ) -> None:
        await cur.execute(sql.SQL(
            "INSERT INTO {} (realm, class, op, key, \"row\", error, captured_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ).format(self.name(DEAD_LETTERS_TABLE)), (
            change.realm, change.table, change.op, Jsonb(change.key), Jsonb(change.row), error,
            change.captured_at))  # fmt: skip

    # ------------------------------------------------------------------ captured changes

    async def pending_changes(
        self, conn: psycopg.AsyncConnection[Any], limit: int, waiting: Sequence[str]
    ) -> list[Change]:
        """The oldest captured changes, leaving out those of realms in ``waiting``."""
        cur = await conn.execute(sql.SQL(
            "SELECT id, realm, class, op, key, old_realm, old_key, \"row\", changed, captured_at"
            " FROM {} WHERE NOT (coalesce(realm, '') = ANY(%s)"
            " OR coalesce(old_realm, '') = ANY(%s))"
            " ORDER BY id LIMIT %s").format(self.name(CHANGES_TABLE)),
            (list(waiting), list(waiting), limit))  # fmt: skip
        return [Change(*row) for row in await cur.fetchall()]

    async def forget_changes(self, cur: psycopg.AsyncCursor[Any], ids: Sequence[int]) -> None:
        await cur.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(
            self.name(CHANGES_TABLE)), (list(ids),))  # fmt: skip

    async def rows_of_realm(
        self, conn: psycopg.AsyncConnection[Any], table: str, realm: str
    ) -> list[dict[str, Any]]:
        """Every row of ``realm`` in a class table, as ``to_jsonb`` images."""
        cur = await conn.execute(sql.SQL("SELECT to_jsonb(t) FROM {} t WHERE {} = %s").format(
            self.name(table), sql.Identifier(REALM_COLUMN)), (realm,))  # fmt: skip
        return [row[0] for row in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class Change:
    """One row of ``_studio_changes``: an INSERT, UPDATE or DELETE by another SQL client."""

    id: int
    realm: str | None
    table: str
    op: str
    key: Any
    old_realm: str | None
    old_key: Any
    row: dict[str, Any] | None
    changed: list[str] | None
    captured_at: Any

    @property
    def moved(self) -> bool:
        """An UPDATE that changed the primary key or the realm: a delete and an insert."""
        return self.op == "UPDATE" and (self.old_realm, self.old_key) != (self.realm, self.key)
