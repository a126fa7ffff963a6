"""The group (list of tables) and each table's spec: column names, types and keys.

Group top array: ``[0]`` table names, ``[1]`` table top refs (a tagged number
marks a deleted table's free slot), then file size, free lists, version,
history and sync fields that a reader does not need.

Table top array: ``[0]`` spec, ``[2]`` cluster tree root, ``[3]`` table key
(tagged), ``[7]``/``[8]`` per column leaf the opposite table key / column key of
links and backlinks, ``[11]`` primary-key column key (tagged; untagged 0 means
none), ``[12]`` flags (table type in bits 0-1), ``[13]`` tombstones.

Spec: ``[0]`` column types (low 16 bits; bits 16+ the key type of a dictionary),
``[1]`` names (backlink columns have none), ``[2]`` attributes, ``[4]`` enum
keys per column, ``[5]`` column keys. A column key packs the leaf index (bits
0-15), the type (16-21), the attributes (22-29) and a tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from studio.core.schema import ObjectSchema, Property
from studio.realmfile.leaves import string_leaf
from studio.realmfile.mixed import (
    T_BACKLINK,
    T_BINARY,
    T_BOOL,
    T_DECIMAL,
    T_DOUBLE,
    T_FLOAT,
    T_INT,
    T_LINK,
    T_LINKLIST,
    T_MIXED,
    T_OBJECT_ID,
    T_STRING,
    T_TIMESTAMP,
    T_TYPED_LINK,
    T_UUID,
)
from studio.realmfile.node import NodeHeader, RealmBuffer
from studio.realmfile.trees import ClusterTree

ATTR_INDEXED: Final = 1
ATTR_NULLABLE: Final = 16
ATTR_LIST: Final = 32
ATTR_DICTIONARY: Final = 64
ATTR_SET: Final = 128
ATTR_FULLTEXT: Final = 256

TABLE_TOP_LEVEL: Final = 0
TABLE_EMBEDDED: Final = 1
TABLE_ASYMMETRIC: Final = 2

CLASS_PREFIX: Final = "class_"
_NULL_TABLE_KEY: Final = 0x7FFFFFFF

# Core column type -> the base type name of studio.core's schema.
BASE_TYPES: Final[dict[int, str]] = {
    T_INT: "int",
    T_BOOL: "bool",
    T_STRING: "string",
    T_BINARY: "data",
    T_MIXED: "mixed",
    T_TIMESTAMP: "date",
    T_FLOAT: "float",
    T_DOUBLE: "double",
    T_DECIMAL: "decimal128",
    T_LINK: "object",
    T_LINKLIST: "object",
    T_OBJECT_ID: "objectId",
    T_TYPED_LINK: "mixed",
    T_UUID: "uuid",
}


@dataclass(slots=True)
class Column:
    name: str
    col_key: int
    leaf_index: int
    col_type: int  # link lists are T_LINK with is_list, whichever way the file spells them
    attrs: int
    spec_index: int
    key_type: int = T_STRING  # dictionaries only
    target_table: int | None = None  # links: table key of the target / backlinks: origin
    origin_col_key: int | None = None  # backlinks: the link column they mirror
    enum_keys_ref: int = 0

    nullable: bool = False
    collection: str | None = None  # 'list', 'set', 'dictionary'

    def __post_init__(self) -> None:
        self.nullable = bool(self.attrs & ATTR_NULLABLE)
        if self.attrs & ATTR_LIST:
            self.collection = "list"
        elif self.attrs & ATTR_SET:
            self.collection = "set"
        elif self.attrs & ATTR_DICTIONARY:
            self.collection = "dictionary"

    @property
    def is_link(self) -> bool:
        return self.col_type == T_LINK


@dataclass(slots=True)
class TableInfo:
    index: int
    raw_name: str
    key: int
    top_ref: int
    table_type: int
    columns: list[Column]
    backlinks: list[Column]
    pk_col_key: int | None
    cluster_root: int
    tree: ClusterTree
    by_name: dict[str, Column] = field(default_factory=dict)
    names: tuple[str, ...] = ()  # property names in column order (iterating an object)
    name: str = ""  # the class name as SDKs show it: class_Person -> Person
    is_internal: bool = False  # metadata, pk, sync tables: anything not named class_...
    primary_key: Column | None = None

    def __post_init__(self) -> None:
        self.is_internal = not self.raw_name.startswith(CLASS_PREFIX)
        self.name = self.raw_name if self.is_internal else self.raw_name[len(CLASS_PREFIX) :]
        self.by_name = {c.name: c for c in self.columns}
        self.names = tuple(c.name for c in self.columns)
        if self.pk_col_key is not None:
            self.primary_key = next((c for c in self.columns if c.col_key == self.pk_col_key), None)


def _top_int(values: list[int], index: int) -> int:
    """Element ``index`` of a top array, 0 when an older file's array is shorter."""
    return values[index] if index < len(values) else 0


def _ref_list(buf: RealmBuffer, values: list[int], index: int, what: str) -> list[int] | None:
    ref = _top_int(values, index)
    if not ref or ref & 1:
        return None
    return buf.node_ints(ref, what)


def read_tables(buf: RealmBuffer, top_ref: int) -> list[TableInfo]:
    """All tables of the file (internal ones included), in group order."""
    if not top_ref:
        return []
    top: NodeHeader = buf.header(top_ref, "group top array")
    if not top.has_refs or top.size < 2:
        raise buf.corrupt("the group top array is malformed", top_ref)
    names_ref = buf.child_ref(top, 0, "table names")
    tables_ref = buf.child_ref(top, 1, "table list")
    if not names_ref or not tables_ref:
        raise buf.corrupt("the group top array lacks its table names or table list", top_ref)
    if top.size > 2:
        # The logical file size: a file shorter than that was cut off (a partial copy).
        logical = buf.int_at(top, 2)
        if logical & 1 and (logical >> 1) > buf.size:
            raise buf.corrupt(
                f"the file is truncated: it should be at least {logical >> 1} bytes long but "
                f"is {buf.size}",
                buf.size,
            )
    names = string_leaf(buf, names_ref, None, "table names")
    refs = buf.node_ints(tables_ref, "table list")
    if len(refs) != len(names):
        raise buf.corrupt(
            f"the file lists {len(names)} table names but {len(refs)} tables", tables_ref
        )
    tables: list[TableInfo] = []
    for index, (name, ref) in enumerate(zip(names, refs, strict=True)):
        if ref == 0 or ref & 1 or name is None:
            continue  # the free slot of a deleted table
        buf.check_ref(ref, f"table {name!r}")
        tables.append(_read_table(buf, index, name, ref))
    by_key = {t.key: t for t in tables}
    if len(by_key) != len(tables):
        raise buf.corrupt("two tables have the same table key", tables_ref)
    for table in tables:
        for col in table.columns + table.backlinks:
            if col.target_table is not None and col.target_table not in by_key:
                raise buf.corrupt(
                    f"column {table.name}.{col.name or '(backlink)'} refers to table key "
                    f"{col.target_table}, which is not in the file",
                    table.top_ref,
                )
    return tables


def _read_table(buf: RealmBuffer, index: int, name: str, ref: int) -> TableInfo:
    what = f"table {name!r}"
    hdr = buf.header(ref, what)
    if not hdr.has_refs or hdr.size < 3:
        raise buf.corrupt(f"{what}: its top array is malformed", ref)
    values = buf.ints(hdr)
    spec_ref = values[0]
    if not spec_ref or spec_ref & 1:
        raise buf.corrupt(f"{what}: it has no spec", ref)
    buf.check_ref(spec_ref, f"{what} spec")
    cluster_root = values[2]
    if cluster_root & 1:
        raise buf.corrupt(f"{what}: its object tree ref is a tagged number", ref)
    if cluster_root:
        buf.check_ref(cluster_root, f"{what} objects")
    key_value = _top_int(values, 3)
    table_key = key_value >> 1 if key_value & 1 else index
    opposite_tables = _ref_list(buf, values, 7, f"{what} link targets") or []
    opposite_cols = _ref_list(buf, values, 8, f"{what} link origins") or []
    pk_raw = _top_int(values, 11)
    pk_col_key = pk_raw >> 1 if pk_raw & 1 else None
    flags_raw = _top_int(values, 12)
    table_type = (flags_raw >> 1) & 3 if flags_raw & 1 else TABLE_TOP_LEVEL
    columns, backlinks = _read_spec(buf, what, spec_ref, opposite_tables, opposite_cols)
    tree = ClusterTree(buf, cluster_root, what)
    info = TableInfo(
        index, name, table_key, ref, table_type, columns, backlinks, pk_col_key, cluster_root, tree
    )
    if pk_col_key is not None and info.primary_key is None:
        raise buf.corrupt(f"{what}: its primary key column does not exist", ref)
    return info


def _read_spec(
    buf: RealmBuffer, what: str, spec_ref: int, opposite_tables: list[int], opposite_cols: list[int]
) -> tuple[list[Column], list[Column]]:
    hdr = buf.header(spec_ref, f"{what} spec")
    if not hdr.has_refs or hdr.size < 6:
        raise buf.corrupt(
            f"{what}: its spec is malformed (file formats 20-24 have 6 entries)", spec_ref
        )
    refs = buf.ints(hdr)
    for i in (0, 1, 2, 5):
        if not refs[i] or refs[i] & 1:
            raise buf.corrupt(f"{what}: its spec lacks entry {i}", spec_ref)
    types = buf.node_ints(refs[0], f"{what} column types")
    names = string_leaf(buf, refs[1], None, f"{what} column names")
    attrs = buf.node_ints(refs[2], f"{what} column attributes")
    keys = buf.node_ints(refs[5], f"{what} column keys")
    enum_keys = []
    if refs[4] and not refs[4] & 1:
        enum_keys = buf.node_ints(refs[4], f"{what} enum keys")
    n = len(types)
    if len(attrs) != n or len(keys) != n or len(names) > n:
        raise buf.corrupt(f"{what}: its spec arrays disagree on the number of columns", spec_ref)
    columns: list[Column] = []
    backlinks: list[Column] = []
    seen_leaves: set[int] = set()
    for i in range(n):
        col_key = keys[i]
        leaf_index = col_key & 0xFFFF
        if leaf_index in seen_leaves:
            raise buf.corrupt(f"{what}: two columns share leaf {leaf_index}", spec_ref)
        seen_leaves.add(leaf_index)
        spec_type = types[i] & 0xFFFF
        key_type = (types[i] >> 16) & 0xFFFF
        col_type = (col_key >> 16) & 0x3F
        attr = attrs[i] | ((col_key >> 22) & 0xFF)
        if spec_type == T_LINKLIST or col_type == T_LINKLIST:
            col_type = T_LINK
            attr |= ATTR_LIST
        if col_type not in BASE_TYPES and col_type != T_BACKLINK:
            raise buf.corrupt(f"{what}: column {i} has unknown type {col_type}", refs[0])
        name = names[i] if i < len(names) else None
        col = Column(name or "", col_key, leaf_index, col_type, attr, i, key_type)
        if i < len(enum_keys) and enum_keys[i] and not enum_keys[i] & 1:
            col.enum_keys_ref = enum_keys[i]
        if col_type in (T_LINK, T_BACKLINK):
            if leaf_index >= len(opposite_tables):
                raise buf.corrupt(f"{what}: link column {name or i} has no target table", spec_ref)
            target = opposite_tables[leaf_index]
            col.target_table = None if target == _NULL_TABLE_KEY else target
            if col_type == T_BACKLINK and leaf_index < len(opposite_cols):
                col.origin_col_key = opposite_cols[leaf_index]
        if col_type == T_BACKLINK:
            backlinks.append(col)
        else:
            if not name:
                raise buf.corrupt(f"{what}: column {i} has no name", refs[1])
            columns.append(col)
    return columns, backlinks


def class_name_of(tables_by_key: dict[int, TableInfo], table_key: int | None) -> str:
    table = tables_by_key.get(table_key) if table_key is not None else None
    return table.name if table is not None else f"<table {table_key}>"


def object_schema(table: TableInfo, tables_by_key: dict[int, TableInfo]) -> ObjectSchema:
    """The table as a studio.core ObjectSchema (persisted properties only)."""
    props: list[Property] = []
    pk = table.primary_key
    for col in table.columns:
        base = BASE_TYPES[col.col_type]
        collection = col.collection
        object_type = None
        optional = col.nullable
        if base == "object":
            object_type = class_name_of(tables_by_key, col.target_table)
            optional = collection is None or collection == "dictionary"
        elif base == "mixed":
            optional = True
        is_pk = pk is not None and col.col_key == pk.col_key
        indexed = bool(col.attrs & (ATTR_INDEXED | ATTR_FULLTEXT)) or is_pk
        props.append(
            Property(col.name, base, collection, optional, object_type, None, indexed, is_pk)
        )
    return ObjectSchema(
        table.name,
        tuple(props),
        pk.name if pk is not None else None,
        table.table_type == TABLE_EMBEDDED,
    )
