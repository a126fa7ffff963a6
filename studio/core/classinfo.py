"""Per-class runtime facts derived once from the schema: SQL, column positions, converters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.core.row_encoder import RowEncoder, build_row_encoder
from studio.core.schema import ObjectSchema, Property
from studio.core.storage import KEY, class_table, collection_table, column, quote, tag_column
from studio.core.values import make_decoder, make_encoder


@dataclass(slots=True)
class ColumnInfo:
    """Where a stored scalar, mixed or link property sits in a class table row."""

    prop: Property
    index: int  # position in the row of ``ClassInfo.select_sql``
    encode: Callable[[Any], Any] | None
    decode: Callable[[Any], Any] | None


@dataclass(slots=True)
class IncomingLink:
    """A place that can point at objects of a class: a link column or a collection table."""

    class_name: str
    prop: Property


@dataclass(slots=True)
class ClassInfo:
    schema: ObjectSchema
    table: str
    columns: dict[str, ColumnInfo]
    collections: dict[str, Property]
    backlinks: dict[str, Property]
    select_sql: str
    select_one_sql: str
    select_many_sql: str  # rows for a JSON array of keys, in that array's order
    column_names: list[str]
    # For classes whose columns are all primitives: one INSERT of every column, with the
    # encoders in column order (the bulk-create fast path).
    simple_insert_sql: str | None = None
    simple_insert_keyed_sql: str | None = None  # the same with the object key last
    # (rows per statement, the INSERT of that many keyed rows): made on first use, as the
    # number depends on the connection's parameter limit.
    rows_insert: tuple[int, str] | None = None
    pk_position: int = -1  # index of the primary key among simple_encoders
    simple_encoders: list[tuple[str, Callable[[Any], Any], bool]] = field(default_factory=list)
    # The same columns' values checked and encoded by one compiled function (row_encoder.py).
    encode_row: RowEncoder | None = None
    property_names: frozenset[str] = frozenset()
    simple_property_names: frozenset[str] = frozenset()  # property_names minus collections
    incoming: list[IncomingLink] = field(default_factory=list)
    incoming_mixed: list[IncomingLink] = field(default_factory=list)
    pk_column: ColumnInfo | None = None

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def embedded(self) -> bool:
        return self.schema.embedded

    def collection_table(self, prop: Property) -> str:
        return collection_table(self.schema.name, prop)


def build_class_info(cls: ObjectSchema) -> ClassInfo:
    columns: dict[str, ColumnInfo] = {}
    names = [KEY]
    collections: dict[str, Property] = {}
    backlinks: dict[str, Property] = {}
    for prop in cls.properties:
        if prop.is_backlink:
            backlinks[prop.name] = prop
        elif prop.collection is not None:
            collections[prop.name] = prop
        elif prop.type == "mixed":
            columns[prop.name] = ColumnInfo(prop, len(names), None, None)
            names.extend([column(prop.name), tag_column(prop.name)])
        elif prop.type == "object":
            columns[prop.name] = ColumnInfo(prop, len(names), None, None)
            names.append(column(prop.name))
        else:
            columns[prop.name] = ColumnInfo(
                prop, len(names), make_encoder(prop.type, prop.optional), make_decoder(prop.type)
            )
            names.append(column(prop.name))
    table = class_table(cls.name)
    select = f"SELECT {', '.join(names)} FROM {table}"
    info = ClassInfo(
        schema=cls,
        table=table,
        columns=columns,
        collections=collections,
        backlinks=backlinks,
        select_sql=select,
        select_one_sql=f"{select} WHERE {KEY} = ?",
        select_many_sql=(
            f"SELECT {', '.join('t.' + n for n in names)} FROM json_each(?) AS j "
            f"JOIN {table} AS t ON t.{KEY} = j.value ORDER BY j.key"
        ),
        column_names=names,
    )
    if cls.primary_key is not None:
        info.pk_column = columns[cls.primary_key]
    # Settable properties: a linkingObjects name sends create() to the checks of the slow path.
    info.property_names = frozenset(p.name for p in cls.properties if not p.is_backlink)
    info.simple_property_names = info.property_names - collections.keys()
    if not cls.embedded and all(c.encode is not None for c in columns.values()):
        info.simple_encoders = [
            (name, c.encode, c.prop.optional) for name, c in columns.items() if c.encode
        ]
        info.encode_row = build_row_encoder(
            cls.name,
            [(name, c.prop.type, c.prop.optional) for name, c in columns.items()]
        )
        cols = ", ".join(column(name) for name in columns)
        marks = ", ".join("?" * len(columns))
        info.simple_insert_sql = (
            f"INSERT INTO {table} ({cols}) VALUES ({marks})" if columns
            else f"INSERT INTO {table} DEFAULT VALUES"
        )
        keyed_cols = ", ".join([*(column(name) for name in columns), KEY])
        info.simple_insert_keyed_sql = (
            f"INSERT INTO {table} ({keyed_cols}) VALUES ({', '.join('?' * (len(columns) + 1))})"
        )
        names = [name for name, _, _ in info.simple_encoders]
        if cls.primary_key in names:
            info.pk_position = names.index(cls.primary_key)
    return info


def build_class_infos(classes: Mapping[str, ObjectSchema]) -> dict[str, ClassInfo]:
    infos = {name: build_class_info(cls) for name, cls in classes.items()}
    for info in infos.values():
        for prop in info.schema.properties:
            if prop.is_backlink:
                continue
            if prop.type == "object":
                target = infos[prop.object_type or ""]
                target.incoming.append(IncomingLink(info.name, prop))
            elif prop.type == "mixed":
                for target in infos.values():
                    target.incoming_mixed.append(IncomingLink(info.name, prop))
    return infos


def mixed_link_text(class_name: str, key: int) -> str:
    return f"{class_name}\x1f{key}"


def parse_mixed_link(text: str) -> tuple[str, int]:
    name, _, key = text.rpartition("\x1f")
    return name, int(key)


__all__ = ["ClassInfo", "ColumnInfo", "IncomingLink", "build_class_infos", "quote"]
