"""``convert``: copy a genuine Realm Core file into a new studio.core realm.

Uses only studio.core's public API (``Realm.open``, ``realm.write()``,
``realm.create``, item assignment). Two passes, so that links can point at
objects created later:

1. every top-level object is created with its primary key and its plain values
   (scalars, lists / sets / dictionaries of primitives, mixed values);
2. links, lists / sets / dictionaries of links, mixed values holding links and
   embedded objects (given as nested dicts, so they stay embedded) are set.

A class without a primary key gets an ``_id`` objectId property, filled with a
new ObjectId per object, which becomes its primary key (studio realms address
objects by primary key for sync). Writes are committed in batches.

A file without any SDK class (no ``class_`` table: written by Realm Core
directly) has its tables copied as classes of the same names.

Known losses, reported in :attr:`ConvertReport.warnings`: studio.core's mixed
cannot hold a nested list or dictionary (format 24), so those are stored as
their JSON text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from studio.core import ObjectId, Realm
from studio.core.schema import ObjectSchema, Property
from studio.realmfile.errors import RealmFileError
from studio.realmfile.objects import RealmObject
from studio.realmfile.reader import RealmFile

Progress = Callable[[int, int], None]
BATCH = 2000  # objects per write transaction
GENERATED_PK = "_id"


@dataclass
class ConvertReport:
    classes: int = 0
    objects: int = 0
    generated_primary_keys: dict[str, str] = field(default_factory=dict)  # class -> property
    warnings: list[str] = field(default_factory=list)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, RealmObject):
        return repr(value)
    if isinstance(value, datetime | Decimal | ObjectId):
        return str(value)
    return str(value)


class _Converter:
    def __init__(self, src: RealmFile, report: ConvertReport, progress: Progress | None) -> None:
        self.src = src
        self.report = report
        self.progress = progress
        self._dst: Realm | None = None
        self.generated: dict[tuple[str, int], ObjectId] = {}
        self.pk_names: dict[str, str] = {}
        schemas = src.schema
        if not schemas:
            # No class_ tables: the file was written by Realm Core itself, not by an
            # SDK, so its tables are the data (there is no SDK metadata to skip).
            schemas = [src.object_schema(n) for n in src.class_names(include_internal=True)]
            if schemas:
                report.warnings.append(
                    "the file has no SDK classes (tables named class_...); its tables were "
                    "copied as classes of the same names"
                )
        self.schemas = {s.name: s for s in schemas}
        self.done = 0
        self.total = 2 * sum(src.count(s.name) for s in schemas if not s.embedded)
        self._nested_warned: set[str] = set()

    @property
    def dst(self) -> Realm:
        assert self._dst is not None, "the destination realm is opened after the schema is built"
        return self._dst

    # -- schema ------------------------------------------------------------------------

    def schema_json(self) -> list[dict[str, Any]]:
        out = []
        for schema in self.schemas.values():
            spec = schema.to_json()
            for prop_json, prop in zip(spec["properties"], schema.properties, strict=True):
                if prop.indexed and (prop.collection is not None or prop.type not in _INDEXABLE):
                    prop_json.pop("indexed", None)
            if schema.primary_key is not None:
                self.pk_names[schema.name] = schema.primary_key
            elif not schema.embedded:
                name = GENERATED_PK
                taken = {p.name for p in schema.properties}
                while name in taken:
                    name = "_" + name
                spec["properties"].insert(0, {"name": name, "type": "objectId"})
                spec["primaryKey"] = name
                self.pk_names[schema.name] = name
                self.report.generated_primary_keys[schema.name] = name
            out.append(spec)
        return out

    # -- values --------------------------------------------------------------------------

    def pk_of(self, obj: RealmObject) -> Any:
        generated = self.generated.get((obj.class_name, obj.key))
        if generated is not None:
            return generated
        return obj[self.pk_names[obj.class_name]]

    def target(self, obj: RealmObject) -> Any:
        found = self.dst.object_for_primary_key(obj.class_name, self.pk_of(obj))
        if found is None:
            raise RealmFileError(f"convert: {obj!r} was not copied")
        return found

    def value(self, value: Any, where: str) -> Any:
        """A source value in the form studio.core's create / assignment take."""
        if isinstance(value, RealmObject):
            schema = self.schemas.get(value.class_name)
            if schema is not None and schema.embedded:
                return self.embedded(value)
            return self.target(value)
        if isinstance(value, list):
            return [self.value(v, where) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v, where) for k, v in value.items()}
        return value

    def mixed(self, value: Any, where: str) -> Any:
        if isinstance(value, list | dict):
            if where not in self._nested_warned:
                self._nested_warned.add(where)
                self.report.warnings.append(
                    f"{where}: a mixed value holds a nested list or dictionary, which studio "
                    "realms do not support; it was stored as JSON text"
                )
            plain = self.src._plain(value, 0)
            return json.dumps(plain, default=_json_default, ensure_ascii=False)
        return self.value(value, where)

    def convert(self, prop: Property, raw: Any, where: str) -> Any:
        if prop.type == "mixed":
            if prop.collection is None:
                return self.mixed(raw, where)
            if prop.collection == "dictionary":
                return {k: self.mixed(v, where) for k, v in raw.items()}
            return [self.mixed(v, where) for v in raw]
        return self.value(raw, where)

    def embedded(self, obj: RealmObject) -> dict[str, Any]:
        schema = self.schemas[obj.class_name]
        return {
            p.name: self.convert(p, obj[p.name], f"{schema.name}.{p.name}")
            for p in schema.properties
        }

    # -- passes --------------------------------------------------------------------------

    def run(self) -> None:
        classes = [s for s in self.schemas.values() if not s.embedded]
        self._pass(classes, first=True)
        self._pass(classes, first=False)
        self.report.classes = len(self.schemas)

    def _pass(self, classes: list[ObjectSchema], first: bool) -> None:
        batch: list[tuple[ObjectSchema, RealmObject]] = []
        for schema in classes:
            if not first and not any(_second_pass(p) for p in schema.properties):
                self._tick(self.src.count(schema.name))  # nothing to link in this class
                continue
            for obj in self.src.objects(schema.name):
                batch.append((schema, obj))
                if len(batch) >= BATCH:
                    self._write(batch, first)
                    batch = []
        if batch:
            self._write(batch, first)

    def _write(self, batch: list[tuple[ObjectSchema, RealmObject]], first: bool) -> None:
        with self.dst.write():
            for schema, obj in batch:
                if first:
                    self._create(schema, obj)
                else:
                    self._link(schema, obj)
        self._tick(len(batch))

    def _tick(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)

    def _create(self, schema: ObjectSchema, obj: RealmObject) -> None:
        values: dict[str, Any] = {}
        pk_name = self.pk_names[schema.name]
        if schema.name in self.report.generated_primary_keys:
            oid = ObjectId()
            self.generated[(schema.name, obj.key)] = oid
            values[pk_name] = oid
        for prop in schema.properties:
            if _second_pass(prop):
                continue
            values[prop.name] = self.convert(prop, obj[prop.name], f"{schema.name}.{prop.name}")
        self.dst.create(schema.name, values)
        self.report.objects += 1

    def _link(self, schema: ObjectSchema, obj: RealmObject) -> None:
        dst_obj = None
        for prop in schema.properties:
            if not _second_pass(prop):
                continue
            raw = obj[prop.name]
            if raw is None or raw == [] or raw == {}:
                continue
            if dst_obj is None:
                dst_obj = self.target(obj)
            dst_obj[prop.name] = self.convert(prop, raw, f"{schema.name}.{prop.name}")


_INDEXABLE = frozenset({"bool", "int", "string", "date", "objectId", "uuid", "mixed"})


def _second_pass(prop: Property) -> bool:
    """Links, embedded objects and mixed values (which may hold links) are set in pass 2."""
    return prop.type in ("object", "mixed")


def convert(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    progress: Progress | None = None,
) -> ConvertReport:
    """Copy the Realm Core file ``src_path`` into a new studio realm at ``dst_path``
    (which must not exist). ``progress(done, total)`` is called after each batch."""
    if os.path.exists(dst_path):
        raise RealmFileError(f"convert: {os.fspath(dst_path)} already exists; choose a new file")
    report = ConvertReport()
    with RealmFile.open(src_path) as src:
        converter = _Converter(src, report, progress)
        schema = converter.schema_json()
        dst = Realm.open(dst_path, schema=schema, schema_version=1)
        try:
            converter._dst = dst
            converter.run()
        finally:
            dst.close()
    return report
