"""The SQLite layout of a realm file: table names, column names, connection setup.

See docs/storage-layout.md for the whole layout; this module is its one source
of truth in code.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable

from studio.core.schema import ObjectSchema, Property
from studio.core.values import SQL_TYPES, compare_decimal_text

FORMAT = "studio-2"
# Layouts of earlier versions that opening a file for writing upgrades (layout_upgrade.py);
# read-only, they are read as they are.
UPGRADABLE_FORMATS = ("studio-1",)
KEY = '"@key"'
META_TABLE = "_studio_meta"
SCHEMA_TABLE = "_studio_schema"
CHANGES_TABLE = "_studio_changes"
HISTORY_TABLE = "_studio_history"

_connection_hooks: list[Callable[[sqlite3.Connection], None]] = []


def new_file_ident() -> int:
    """A random identity for a new file (sync tells files apart by it)."""
    return secrets.randbits(62) + 1


def quote(identifier: str) -> str:
    """Quote an SQL identifier (class and property names may hold any printable character)."""
    return '"' + identifier.replace('"', '""') + '"'


def class_table(class_name: str) -> str:
    return quote("class_" + class_name)


def collection_table(class_name: str, prop: Property) -> str:
    """The side table of a list, set or dictionary property."""
    assert prop.collection is not None
    return quote(f"{prop.collection}:{class_name}.{prop.name}")


def column(prop_name: str) -> str:
    return quote(prop_name)


def tag_column(prop_name: str) -> str:
    """The type-tag column beside a mixed value column."""
    return quote(prop_name + "@type")


def add_connection_hook(hook: Callable[[sqlite3.Connection], None]) -> None:
    """Run ``hook`` on every connection the core opens (to register SQL functions)."""
    _connection_hooks.append(hook)


def configure_connection(conn: sqlite3.Connection) -> None:
    conn.create_collation("DECIMAL", compare_decimal_text)
    for hook in _connection_hooks:
        hook(conn)


def column_defs(prop: Property) -> list[str]:
    """Column definitions for a property stored in the class table (scalars and to-one links)."""
    if prop.type == "mixed":
        return [f"{column(prop.name)}", f"{tag_column(prop.name)} INTEGER NOT NULL DEFAULT 0"]
    return [f"{column(prop.name)} {SQL_TYPES[prop.type]}"]


def class_table_ddl(cls: ObjectSchema) -> list[str]:
    """CREATE statements for a class table, its indexes and its collection tables."""
    cols = [f"{KEY} INTEGER PRIMARY KEY AUTOINCREMENT"]
    stmts: list[str] = []
    table = class_table(cls.name)
    for prop in cls.properties:
        if prop.is_backlink or prop.collection is not None:
            continue
        cols.extend(column_defs(prop))
    stmts.append(f"CREATE TABLE {table} ({', '.join(cols)})")
    for prop in cls.properties:
        if prop.is_backlink:
            continue
        if prop.collection is None:
            stmts.extend(property_index_ddl(cls, prop))
        else:
            stmts.extend(collection_table_ddl(cls.name, prop))
    return stmts


def fulltext_table(class_name: str, prop_name: str) -> str:
    """The FTS5 table of a full-text indexed property (docs/storage-layout.md)."""
    return quote(f"fts:{class_name}.{prop_name}")


# Realm's full-text tokens: runs of letters and digits, case- and diacritics-insensitive.
FULLTEXT_TOKENIZER = "unicode61 remove_diacritics 2"


def drop_fulltext_ddl(cls: ObjectSchema, prop: Property) -> list[str]:
    """Statements removing a property's full-text table and the triggers that keep it."""
    base = f"fts:{cls.name}.{prop.name}"
    return [
        *(f"DROP TRIGGER IF EXISTS {quote(f'{base}:{when}')}" for when in ("ai", "ad", "au")),
        f"DROP TABLE IF EXISTS {fulltext_table(cls.name, prop.name)}",
    ]


def fulltext_ddl(cls: ObjectSchema, prop: Property) -> list[str]:
    """An external-content FTS5 table over the class table's column, kept up to date by
    triggers on insert, delete and update of that column (so every write path, the
    writer, bulk imports, sync replay, keeps it), and filled from the existing rows."""
    table = class_table(cls.name)
    fts = fulltext_table(cls.name, prop.name)
    col = column(prop.name)
    base = f"fts:{cls.name}.{prop.name}"
    insert = f"INSERT INTO {fts}(rowid, {col}) VALUES (new.{KEY}, new.{col});"
    delete = f"INSERT INTO {fts}({fts}, rowid, {col}) VALUES ('delete', old.{KEY}, old.{col});"
    return [
        *drop_fulltext_ddl(cls, prop),
        f"CREATE VIRTUAL TABLE {fts} USING fts5({col}, content={sql_text('class_' + cls.name)}, "
        f"content_rowid='@key', tokenize={sql_text(FULLTEXT_TOKENIZER)})",
        f"CREATE TRIGGER {quote(base + ':ai')} AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER {quote(base + ':ad')} AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER {quote(base + ':au')} AFTER UPDATE OF {col} ON {table} "
        f"BEGIN {delete} {insert} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def sql_text(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def property_index_ddl(cls: ObjectSchema, prop: Property) -> list[str]:
    table = class_table(cls.name)
    name = quote(f"index:{cls.name}.{prop.name}")
    if prop.fulltext:
        return fulltext_ddl(cls, prop)
    if prop.is_primary_key:
        return [f"CREATE UNIQUE INDEX {name} ON {table} ({column(prop.name)})"]
    if prop.indexed or prop.type == "object":
        # Links are always indexed: deleting the target nulls them and backlinks look them up.
        return [f"CREATE INDEX {name} ON {table} ({column(prop.name)})"]
    return []


def collection_table_ddl(class_name: str, prop: Property) -> list[str]:
    table = collection_table(class_name, prop)
    value_type = SQL_TYPES[prop.type]
    cols = ["owner INTEGER NOT NULL"]
    if prop.collection == "list":
        cols.append("pos INTEGER NOT NULL")
    elif prop.collection == "dictionary":
        cols.append("key TEXT NOT NULL")
    cols.append(f"value {value_type}".rstrip())
    if prop.type == "mixed":
        cols.append('"value@type" INTEGER NOT NULL DEFAULT 0')
    base = f"{prop.collection}:{class_name}.{prop.name}"
    stmts = [f"CREATE TABLE {table} ({', '.join(cols)})"]
    if prop.collection == "list":
        stmts.append(f"CREATE INDEX {quote('index:' + base)} ON {table} (owner, pos)")
    elif prop.collection == "set":
        extra = ', "value@type"' if prop.type == "mixed" else ""
        stmts.append(
            f"CREATE UNIQUE INDEX {quote('index:' + base)} ON {table} (owner, value{extra})"
        )
    else:
        stmts.append(f"CREATE UNIQUE INDEX {quote('index:' + base)} ON {table} (owner, key)")
    if prop.type == "object":
        stmts.append(f"CREATE INDEX {quote('index:' + base + '@value')} ON {table} (value)")
    return stmts
