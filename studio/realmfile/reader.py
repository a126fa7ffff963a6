"""``RealmFile``: open a genuine Realm Core file (formats 20-24) read-only.

Opening reads the file header, the table list and each table's spec -- nothing
else. Objects are decoded when they are read, one cluster column at a time,
and decoded columns are kept in a small LRU cache.
"""

from __future__ import annotations

import os
import uuid
from collections import OrderedDict
from types import TracebackType
from typing import Any, Final

from studio.core.schema import ObjectSchema
from studio.primitives.objectid import ObjectId
from studio.realmfile.containers import bptree_values, dictionary_items
from studio.realmfile.errors import CorruptRealmError, RealmFileError, UnknownNameError
from studio.realmfile.leaves import backlink_leaf, ref_leaf, string_leaf
from studio.realmfile.mixed import (
    T_BACKLINK,
    T_BINARY,
    T_LINK,
    T_MIXED,
    T_OBJECT_ID,
    T_STRING,
    T_TYPED_LINK,
    T_UUID,
    CollectionRef,
    LinkRef,
    element_decoder,
    mixed_leaf,
)
from studio.realmfile.node import RealmBuffer, looks_encrypted
from studio.realmfile.objects import _UNEXPECTED, ClusterCells, RealmObject, Results, guarded
from studio.realmfile.tables import TABLE_EMBEDDED, Column, TableInfo, object_schema, read_tables
from studio.realmfile.trees import ClusterLeaf

# Decoded cluster columns kept (a few hundred values each), and clusters tracked
# (an object made for a link target registers its cluster before decoding any).
_CACHE_SIZE: Final = 2048
_MAX_CLUSTERS: Final = 4096
_NESTING_LIMIT: Final = 32  # nested collections / embedded objects deeper than this are damage
_OBJECT_TYPES: Final = (T_LINK, T_MIXED, T_TYPED_LINK)  # values that may be objects


class RealmFile:
    """A Realm Core file opened read-only.

    ``RealmFile.open(path)`` (or use it as a context manager); ``format_version``,
    ``schema``, ``class_names()``, ``objects(name)``, ``object_for_primary_key()``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._buf = RealmBuffer(path)
        try:
            header = self._buf.file_header()
            self.format_version: int = header.format_version
            self._tables = guarded(read_tables)(self._buf, header.top_ref)
        except BaseException:
            self._buf.close()
            raise
        self.path = self._buf.path
        self._by_key = {t.key: t for t in self._tables}
        self._by_name: dict[str, TableInfo] = {}
        for t in self._tables:  # internal tables by raw name, then user classes win
            if t.is_internal:
                self._by_name[t.raw_name] = t
        for t in self._tables:
            if not t.is_internal:
                self._by_name[t.name] = t
        self._schemas: dict[int, ObjectSchema] = {}
        # LRU of clusters by (table key, cluster ref); see ClusterCells.
        self._clusters: OrderedDict[tuple[int, int], ClusterCells] = OrderedDict()
        self._decoded = 0  # column leaves held by the clusters in _clusters
        self._enum_keys: dict[int, list[str | None]] = {}
        self._pk_index: dict[int, dict[Any, int]] = {}
        self._dict_plans: dict[int, tuple[list[tuple[str, bool]], list[str]]] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RealmFile:
        return cls(path)

    # -- life cycle ------------------------------------------------------------------

    def close(self) -> None:
        # Emptied, not just dropped: objects still holding them must reach the
        # slow path, which reports the closed file.
        for cells in self._clusters.values():
            cells.drop()
        self._clusters.clear()
        self._decoded = 0
        self._buf.close()

    @property
    def closed(self) -> bool:
        return self._buf.closed

    def _check_open(self) -> None:
        if self._buf.closed:
            raise RealmFileError("the realm file was closed", path=self.path)

    def __enter__(self) -> RealmFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RealmFile {self.path!r} format {self.format_version}>"

    # -- schema ------------------------------------------------------------------------

    def _table(self, name: str) -> TableInfo:
        table = self._by_name.get(name)
        if table is None:
            raise UnknownNameError(
                f"the file has no class {name!r}; its classes are: {', '.join(self.class_names())}",
                path=self.path,
            )
        return table

    def class_names(self, include_internal: bool = False) -> list[str]:
        """Class names as SDKs show them; internal tables (``metadata``, ``pk``,
        sync and subscription tables) only with ``include_internal``."""
        return [t.name for t in self._tables if include_internal or not t.is_internal]

    @guarded
    def object_schema(self, name: str) -> ObjectSchema:
        table = self._table(name)
        schema = self._schemas.get(table.key)
        if schema is None:
            schema = object_schema(table, self._by_key)
            self._schemas[table.key] = schema
        return schema

    @property
    def schema(self) -> list[ObjectSchema]:
        """The user classes (tables named ``class_...``) as studio.core ObjectSchemas."""
        return [self.object_schema(t.name) for t in self._tables if not t.is_internal]

    def is_embedded(self, name: str) -> bool:
        return self._table(name).table_type == TABLE_EMBEDDED

    def table_type(self, name: str) -> str:
        """'top-level', 'embedded' or 'asymmetric' (data ingest)."""
        return ("top-level", "embedded", "asymmetric", "unknown")[self._table(name).table_type]

    @guarded
    def count(self, name: str) -> int:
        self._check_open()
        return self._table(name).tree.size()

    @guarded
    def incoming_links(self, name: str) -> list[tuple[str, str]]:
        """(origin class, origin property) of every link property pointing at ``name``."""
        out = []
        for col in self._table(name).backlinks:
            origin = self._by_key.get(col.target_table) if col.target_table is not None else None
            if origin is None:
                continue
            for c in origin.columns:
                if c.col_key == col.origin_col_key:
                    out.append((origin.name, c.name))
        return out

    # -- objects ----------------------------------------------------------------------

    def objects(self, name: str) -> Results:
        return Results(self, self._table(name))

    @guarded
    def object_for_primary_key(self, name: str, pk: Any) -> RealmObject | None:
        self._check_open()
        table = self._table(name)
        col = table.primary_key
        if col is None:
            raise RealmFileError(f"class {table.name!r} has no primary key", path=self.path)
        if col.col_type == T_OBJECT_ID and isinstance(pk, str):
            pk = ObjectId(pk)
        elif col.col_type == T_UUID and isinstance(pk, str):
            pk = uuid.UUID(pk)
        index = self._pk_index.get(table.key)
        if index is None:
            index = {}
            for leaf in table.tree.leaves():
                values = self._column(self._cluster(table, leaf), col)
                for key, value in zip(table.tree.keys(leaf), values, strict=True):
                    index.setdefault(value, key)
            self._pk_index[table.key] = index
        found = index.get(pk)
        return None if found is None else self._object(table.key, found)

    def _object(self, table_key: int | None, key: int) -> RealmObject | None:
        table = self._by_key.get(table_key) if table_key is not None else None
        if table is None:
            return None
        found = table.tree.find(key)
        if found is None:
            return None
        leaf, row = found
        return RealmObject(self._cluster(table, leaf), row, key)

    # -- values ---------------------------------------------------------------------------

    def _cluster(self, table: TableInfo, leaf: ClusterLeaf) -> ClusterCells:
        """The (cached) ClusterCells of one cluster of ``table``."""
        cache_key = (table.key, leaf.ref)
        cells = self._clusters.get(cache_key)
        if cells is not None:
            self._clusters.move_to_end(cache_key)
            return cells
        cells = ClusterCells(self, table, leaf)
        self._clusters[cache_key] = cells
        self._evict()
        return cells

    def _evict(self) -> None:
        clusters = self._clusters
        # The newest cluster is never evicted: it is the one being read.
        while len(clusters) > 1 and (self._decoded > _CACHE_SIZE or len(clusters) > _MAX_CLUSTERS):
            _, old = clusters.popitem(last=False)
            self._decoded -= len(old.raw)
            old.drop()

    def _column(self, cells: ClusterCells, col: Column) -> list[Any]:
        """The decoded leaf of ``col`` in one cluster (cached in ``cells``); when its
        values need no work on each read, also their finished form in ``cells``."""
        self._check_open()
        values = cells.raw.get(col.leaf_index)
        if values is not None:
            return values
        table, leaf = cells.table, cells.leaf
        what = f"{table.name}.{col.name or 'backlinks'}"
        refs = cells.refs
        if refs is None:
            refs = cells.refs = table.tree.cluster_refs(leaf)
        ref = table.tree.column_ref(leaf, col.leaf_index, what, refs)
        if col.col_type == T_BACKLINK:
            values = backlink_leaf(self._buf, ref, what)
        elif col.collection is not None:
            values = ref_leaf(self._buf, ref, what)
        else:
            enum_keys = self._enum_values(col) if col.col_type == T_STRING else None
            decode = element_decoder(
                col.col_type, col.nullable, in_cluster=True, enum_keys=enum_keys
            )
            values = decode(self._buf, ref)
        if len(values) != leaf.count:
            raise CorruptRealmError(
                f"{what}: a column leaf holds {len(values)} values for {leaf.count} objects",
                path=self.path,
                offset=ref,
            )
        cells.raw[col.leaf_index] = values
        self._decoded += 1
        if col.name:
            finished = self._finished(col, values)
            # Resolving links registers their targets' clusters, which may have
            # evicted this one: a finished column is kept only where close() and
            # eviction will find it again.
            if finished is not None and self._clusters.get((table.key, leaf.ref)) is cells:
                cells[col.name] = finished
        self._evict()
        return values

    def _finished(self, col: Column, raw: list[Any]) -> list[Any] | None:
        """What ``obj[col.name]`` returns for each row of a decoded column leaf, or
        None when that has to be worked out on every read (collections, which are
        returned as fresh lists, and Mixed values holding one)."""
        if col.collection is not None:
            return None
        col_type = col.col_type
        if col_type in _OBJECT_TYPES:
            if col_type == T_MIXED:
                kinds = set(map(type, raw))
                if CollectionRef in kinds:
                    return None
                if LinkRef not in kinds:
                    return raw
            try:
                return self._resolve_column(col, raw)
            except (RealmFileError, *_UNEXPECTED):
                # Damage stays with the rows that hit it: they raise when read.
                return None
        # A required string or binary leaf of width 0 reads as all-null; Realm means
        # empty. (Only these columns are searched for None: `in` would call the
        # __eq__ of every ObjectId or Decimal in the others.)
        if col_type == T_STRING and not col.nullable and None in raw:
            return ["" if v is None else v for v in raw]
        if col_type == T_BINARY and not col.nullable and None in raw:
            return [b"" if v is None else v for v in raw]
        return raw

    def _resolve_column(self, col: Column, raw: list[Any]) -> list[Any]:
        """The links of a column leaf (link, typed link, or Mixed without nested
        collections) resolved to objects. Many objects link to the same few
        targets, so each distinct link is resolved once."""
        link_table = col.target_table
        if col.col_type == T_MIXED:
            links = {v for v in raw if isinstance(v, LinkRef)}
            # Other Mixed values stay as they are: they must not meet in a dict,
            # where 1, 1.0 and True are the same key.
            found = {v: self._resolve(v, link_table, 0) for v in links}
            return [found[v] if isinstance(v, LinkRef) else v for v in raw]
        lookup: dict[Any, Any] = {}
        for v in set(raw):  # object keys, or (table key, key) pairs of typed links
            if v is None:
                lookup[v] = None
            elif col.col_type == T_LINK:
                lookup[v] = self._object(link_table, v)
            else:
                lookup[v] = self._resolve(v, link_table, 0)
        return list(map(lookup.__getitem__, raw))

    def _enum_values(self, col: Column) -> list[str | None] | None:
        if not col.enum_keys_ref:
            return None
        values = self._enum_keys.get(col.enum_keys_ref)
        if values is None:
            values = string_leaf(self._buf, col.enum_keys_ref, None, f"enum keys of {col.name}")
            self._enum_keys[col.enum_keys_ref] = values
        return values

    def _value(self, obj: RealmObject, col: Column) -> Any:
        """``obj[col.name]`` when it is not in the object's ClusterCells yet."""
        self._check_open()
        cells = obj._cells
        current = self._cluster(cells.table, cells.leaf)
        if current is not cells:  # evicted since the object was made
            object.__setattr__(obj, "_cells", current)
        raw_values = self._column(current, col)
        finished = current.get(col.name)
        if finished is not None:
            return finished[obj._row]
        raw = raw_values[obj._row]
        what = f"{current.table.name}.{col.name}"
        collection = col.collection
        if collection == "dictionary":
            items = dictionary_items(self._buf, raw, self.format_version, col.key_type, what)
            return {k: self._resolve(v, col.target_table, 0) for k, v in items}
        if collection is not None:
            decode = element_decoder(col.col_type, col.nullable, in_cluster=False)
            elements = bptree_values(self._buf, raw, decode, what)
            if col.col_type == T_LINK:
                found = (self._object(col.target_table, k) for k in elements)
                return [o for o in found if o is not None]
            if col.col_type in (T_MIXED, T_TYPED_LINK):
                return [self._resolve(v, col.target_table, 0) for v in elements]
            return elements
        if col.col_type == T_LINK:
            return None if raw is None else self._object(col.target_table, raw)
        if col.col_type in (T_MIXED, T_TYPED_LINK):
            return self._resolve(raw, col.target_table, 0)
        # A scalar column whose cluster was evicted while it was decoded.
        if raw is None and not col.nullable:
            if col.col_type == T_STRING:
                return ""
            if col.col_type == T_BINARY:
                return b""
        return raw

    def _resolve(self, value: Any, link_table: int | None, depth: int) -> Any:
        """Turn the markers of Mixed and typed-link values into objects and collections."""
        if isinstance(value, LinkRef):
            table_key = value.table_key if value.table_key is not None else link_table
            return self._object(table_key, value.key)
        if isinstance(value, tuple):  # a typed link column: (table key, object key)
            return self._object(value[0], value[1])
        if isinstance(value, CollectionRef):
            if depth >= _NESTING_LIMIT:
                raise CorruptRealmError(
                    f"collections are nested more than {_NESTING_LIMIT} deep",
                    path=self.path,
                    offset=value.ref,
                )
            what = f"nested {value.kind}"
            if value.kind == "dictionary":
                # Nested collections exist only since format 24: always the
                # [keys, values] layout, always string keys.
                items = dictionary_items(self._buf, value.ref, 24, T_STRING, what)
                return {k: self._resolve(v, link_table, depth + 1) for k, v in items}
            elements = bptree_values(self._buf, value.ref, mixed_leaf, what)
            return [self._resolve(v, link_table, depth + 1) for v in elements]
        return value

    # -- plain values and backlinks -----------------------------------------------------

    def _plain_object(self, obj: RealmObject, depth: int) -> dict[str, Any]:
        if depth > _NESTING_LIMIT:
            raise CorruptRealmError(
                f"embedded objects are nested more than {_NESTING_LIMIT} deep (a cycle?)",
                path=self.path,
            )
        cells, row = obj._cells, obj._row
        table = cells.table
        plan = self._dict_plans.get(table.key)
        if plan is None:
            plan = self._dict_plan(table)
        steps, object_names = plan
        columns = cells.columns
        if columns is None and len(cells) == len(table.names):
            columns = cells.columns = [cells[name] for name in table.names]
        if columns is not None:
            # Every property has finished values: the row in one zip, then only
            # the values that may be objects, lists or dicts are converted.
            out = dict(zip(table.names, [values[row] for values in columns], strict=True))
            for name in object_names:
                value = out[name]
                if isinstance(value, RealmObject | list | dict):
                    out[name] = self._plain(value, depth)
            return out
        out = {}
        for name, scalar in steps:
            values = cells.get(name)
            if values is not None and scalar:
                out[name] = values[row]  # obj[name], without the call
                continue
            value = obj[name]  # (may refresh obj._cells: then `cells` only misses)
            if not scalar and isinstance(value, RealmObject | list | dict):
                value = self._plain(value, depth)
            out[name] = value
        return out

    def _dict_plan(self, table: TableInfo) -> tuple[list[tuple[str, bool]], list[str]]:
        """Per property: whether its values are plain already (scalars), or may
        hold objects, lists or dicts that to_dict() has to convert; and the
        names of the latter."""
        steps = [
            (c.name, c.collection is None and c.col_type not in _OBJECT_TYPES)
            for c in table.columns
        ]
        plan = steps, [name for name, scalar in steps if not scalar]
        self._dict_plans[table.key] = plan
        return plan

    def _plain(self, value: Any, depth: int) -> Any:
        if isinstance(value, RealmObject):
            table = value._table
            if table.table_type == TABLE_EMBEDDED:
                return self._plain_object(value, depth + 1)
            pk = table.primary_key
            return value[pk.name] if pk is not None else value.key
        if isinstance(value, list):
            return [self._plain(v, depth) for v in value]
        if isinstance(value, dict):
            return {k: self._plain(v, depth) for k, v in value.items()}
        return value

    def _linking_objects(
        self, obj: RealmObject, origin_class: str, origin_property: str
    ) -> list[RealmObject]:
        table = obj._table
        origin = self._table(origin_class)
        origin_col = origin.by_name.get(origin_property)
        if origin_col is None:
            raise UnknownNameError(
                f"class {origin.name!r} has no property {origin_property!r}", path=self.path
            )
        for col in table.backlinks:
            if col.target_table == origin.key and col.origin_col_key == origin_col.col_key:
                keys = self._column(self._cluster(table, obj._leaf), col)[obj._row]
                found = (self._object(origin.key, k) for k in keys)
                return [o for o in found if o is not None]
        raise UnknownNameError(
            f"{origin.name}.{origin_property} does not link to class {table.name!r}", path=self.path
        )


def is_realm_core_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts like a Realm Core file (any format, encrypted
    realms included); cheap: reads the first bytes only."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError:
        return False
    if len(head) == 24 and head[16:20] == b"T-DB":
        return True
    try:
        buf = RealmBuffer(path)
    except RealmFileError:
        return False
    try:
        return looks_encrypted(buf)
    finally:
        buf.close()
