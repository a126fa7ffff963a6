"""Plain JSON and CSV files of a realm's objects: what ``studio export`` writes.

The output is plain data, not a reference graph, so any tool can read it:

* one file per top-level class, ``<Class>.json`` (a JSON array of objects, one object
  a line) or ``<Class>.csv`` (a header row of property names, then one row an object);
  embedded classes get no file of their own, they are nested in their parents;
* a link is the target's primary key, or for a target class without a primary key its
  object key (``obj._key``), which such classes export as a leading ``_key`` field;
* dates are ISO 8601 in UTC with a ``Z``; data is base64; objectId, uuid and decimal128
  are strings; lists and sets are arrays, dictionaries objects; a non-finite double is
  the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` (JSON has no such numbers);
* a mixed value is rendered as its own type would be; a mixed link becomes
  ``{"class": "Book", "primaryKey": ...}`` (or ``{"class": ..., "_key": ...}``);
* CSV cells use the same renderings; collections, embedded objects and mixed values
  are JSON text in the cell (so a mixed ``"7"`` and ``7`` stay apart), null is an
  empty cell.

Output is deterministic: objects are sorted by primary key (by object key without
one), fields follow the schema order, dictionaries their key order, sets their stored
value order. Exporting the same file twice gives byte-identical files.

The same functions export the objects of a genuine Realm Core file
(:mod:`studio.realmfile.browse`): they read an object only through
:class:`ExportObject` (its ``object_schema``, its object key ``_key`` and
``obj[name]``), and a nested list or dictionary inside a mixed value (file format 24)
becomes an array or object of exported elements.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from studio.core.errors import RealmError
from studio.core.text_codecs import format_date
from studio.primitives.objectid import ObjectId

if TYPE_CHECKING:
    from studio.core.realm import Realm
    from studio.core.schema import ObjectSchema, Property

FORMATS: tuple[str, ...] = ("json", "csv")
KEY_FIELD = "_key"
"""The field that carries the object key of objects whose class has no primary key."""

ExportProgress = Callable[[str, int, int], None]
"""``progress(class_name, objects_done, objects_in_class)``; raise from it to cancel."""

_UNSAFE_FILE_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
_PROGRESS_EVERY = 500


class ExportError(RealmError):
    """An export could not be written (unknown format, unusable output directory)."""


class ExportObject(Protocol):
    """What the export reads of an object: a studio realm's ``RealmObject``, or a Realm
    Core file's ``CoreObject``. A value is taken for an object when it has an
    ``object_schema``; its collections are sequences (lists, sets) or mappings
    (dictionaries)."""

    @property
    def object_schema(self) -> ObjectSchema: ...

    @property
    def _key(self) -> int: ...  # the object key, its identity (docs/query-language.md)

    def __getitem__(self, name: str) -> Any: ...


# -- single values -------------------------------------------------------------------------


def format_float(value: float) -> float | str:
    """A JSON-safe double: finite values as numbers, the others as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def export_scalar(value: Any) -> Any:
    """The JSON-ready form of a primitive value, chosen by its Python type."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return format_date(value)
    if isinstance(value, ObjectId | uuid.UUID | Decimal):
        return str(value)
    raise ExportError(f"cannot export a value of type {type(value).__name__}: {value!r:.60}")


def link_reference(obj: ExportObject) -> Any:
    """What a link to ``obj`` exports as: its primary key, or its object key without one."""
    schema = obj.object_schema
    if schema.primary_key is not None:
        return export_scalar(obj[schema.primary_key])
    return obj._key


def _element(prop: Property, value: Any) -> Any:
    schema: ObjectSchema | None = getattr(value, "object_schema", None)
    if schema is not None:  # an ExportObject
        if schema.embedded:
            return export_object(value)
        if prop.type == "mixed":
            field = "primaryKey" if schema.primary_key is not None else KEY_FIELD
            return {"class": schema.name, field: link_reference(value)}
        return link_reference(value)
    if isinstance(value, list):  # a nested list in a mixed value (Realm Core format 24)
        return [_element(prop, item) for item in value]
    if isinstance(value, dict):  # a nested dictionary in a mixed value (format 24)
        return {str(key): _element(prop, item) for key, item in value.items()}
    return export_scalar(value)


def _canonical(value: Any) -> tuple[int, Any]:
    """A sort key that orders numbers numerically, strings by code point, and never
    compares values of different kinds (as mixed sets can hold)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, json.dumps(value, sort_keys=True, ensure_ascii=False))


def _first(pair: tuple[str, Any]) -> str:
    return pair[0]


def export_value(prop: Property, value: Any) -> Any:
    """The JSON-ready form of one property's value (a collection becomes a list or dict)."""
    if prop.collection == "dictionary":
        return {key: _element(prop, item) for key, item in sorted(value.items(), key=_first)}
    if prop.collection == "set" and prop.type in ("object", "mixed"):
        # A set stores links by object key, which differs between two realms holding the
        # same objects; ordering by the exported values keeps the output the same.
        return sorted((_element(prop, item) for item in value), key=_canonical)
    if prop.collection is not None:
        return [_element(prop, item) for item in value]
    return None if value is None else _element(prop, value)


def export_object(obj: ExportObject) -> dict[str, Any]:
    """One object as a plain dict in schema order (``_key`` first for classes without a
    primary key; linkingObjects are computed and left out)."""
    schema = obj.object_schema
    out: dict[str, Any] = {}
    if schema.primary_key is None and not schema.embedded:
        out[KEY_FIELD] = obj._key
    for prop in schema.properties:
        if not prop.is_backlink:
            out[prop.name] = export_value(prop, obj[prop.name])
    return out


# -- CSV cells -----------------------------------------------------------------------------


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def csv_cell(prop: Property, value: Any) -> str:
    """The text of one CSV cell; :mod:`studio.core.csv_import` reads it back."""
    if prop.collection is not None:
        return _json_text(export_value(prop, value))
    if value is None:
        return ""
    if prop.type == "mixed":
        return _json_text(export_value(prop, value))
    if prop.type == "object":
        ref = export_value(prop, value)
        return ref if isinstance(ref, str) else _json_text(ref)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same double; nan, inf
    rendered = export_scalar(value)
    return rendered if isinstance(rendered, str) else str(rendered)


def csv_header(schema: ObjectSchema) -> list[str]:
    names = [KEY_FIELD] if schema.primary_key is None and not schema.embedded else []
    return names + [p.name for p in schema.properties if not p.is_backlink]


def csv_row(obj: ExportObject) -> list[str]:
    schema = obj.object_schema
    cells = [str(obj._key)] if schema.primary_key is None and not schema.embedded else []
    for prop in schema.properties:
        if not prop.is_backlink:
            cells.append(csv_cell(prop, obj[prop.name]))
    return cells


# -- whole files ---------------------------------------------------------------------------


def _counted(
    objects: Iterable[ExportObject], name: str, total: int, progress: ExportProgress | None
) -> Iterator[ExportObject]:
    done = 0
    for obj in objects:
        yield obj
        done += 1
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress(name, done, total)
    if progress is not None:
        progress(name, done, total)


def write_json(
    objects: Iterable[ExportObject],
    out: IO[str],
    *,
    class_name: str = "",
    total: int = 0,
    progress: ExportProgress | None = None,
) -> int:
    """Write objects as a JSON array, one object a line; returns how many were written.

    The caller chooses the objects and their order (a class, a query's Results).
    """
    count = 0
    out.write("[")
    for obj in _counted(objects, class_name, total, progress):
        out.write(",\n" if count else "\n")
        out.write(json.dumps(export_object(obj), ensure_ascii=False, allow_nan=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def write_csv(
    objects: Iterable[ExportObject],
    schema: ObjectSchema,
    out: IO[str],
    *,
    total: int = 0,
    progress: ExportProgress | None = None,
) -> int:
    """Write a header row and one row per object; returns how many were written.

    ``out`` must be opened with ``newline=""`` (the csv module writes the line ends).
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_header(schema))
    count = 0
    for obj in _counted(objects, schema.name, total, progress):
        writer.writerow(csv_row(obj))
        count += 1
    return count


def sorted_objects(realm: Realm, class_name: str) -> Iterable[ExportObject]:
    """All objects of a class in export order: by primary key, else by object key."""
    results = realm.objects(class_name)
    primary_key = results.object_schema.primary_key
    # realm.objects() is in object key order already; sorting by the key again is a no-op.
    return results.sorted(primary_key) if primary_key is not None else results


def file_name(class_name: str, fmt: str) -> str:
    """``<Class>.<fmt>``, with characters a file system would refuse replaced by ``_``."""
    return _UNSAFE_FILE_CHARS.sub("_", class_name) + "." + fmt


def export_realm(
    realm: Realm,
    out_dir: str | os.PathLike[str],
    fmt: str = "json",
    *,
    classes: Iterable[str] | None = None,
    progress: ExportProgress | None = None,
) -> list[Path]:
    """Write one ``<Class>.json`` or ``<Class>.csv`` per top-level class into ``out_dir``
    (created if needed); returns the files written, in class-name order.

    Each file is written to a temporary name and renamed, so an interrupted export
    never leaves a half-written file under the final name.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target} exists and is not a directory")
    by_name = {schema.name: schema for schema in realm.schema}
    if classes is None:
        names = sorted(name for name, schema in by_name.items() if not schema.embedded)
    else:
        names = list(classes)
        for name in names:
            if name not in by_name:
                raise ExportError(
                    f"this realm has no class {name!r}; its classes are: "
                    + (", ".join(sorted(by_name)) or "(none)")
                )
    target.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    written: list[Path] = []
    for name in names:
        file = file_name(name, fmt)
        if file.lower() in used:  # two class names that map to one file name
            raise ExportError(f"classes {name!r} and another both export to {file}")
        used.add(file.lower())
        path = target / file
        temp = path.with_name(path.name + ".part")
        objects = sorted_objects(realm, name)
        total = len(realm.objects(name))
        try:
            with temp.open("w", encoding="utf-8", newline="") as out:
                if fmt == "json":
                    write_json(objects, out, class_name=name, total=total, progress=progress)
                else:
                    write_csv(objects, by_name[name], out, total=total, progress=progress)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        written.append(path)
    return written
