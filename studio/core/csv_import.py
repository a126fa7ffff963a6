"""Import CSV files into classes of a realm (``studio import-csv`` and the Studio).

The first row names the columns. When the class exists, each column is a property
and its cells are read by the property's type; when it does not, the class is
created with a type per column inferred from *every* row of the file (bool, int,
double, date or string; optional when the column has empty cells).

Cells use the renderings of :mod:`studio.core.export_files`, so an exported CSV
imports back to the same objects: ``true``/``false``, numbers, ISO 8601 dates,
base64 data, hex objectIds, uuids and decimals as text, a link as the target's
primary key, collections, embedded objects and mixed values as JSON text. An empty
cell is null for an optional property, ``""`` (or empty data) for a required one and
an empty collection for a collection. For a class without a primary key, the
``_key`` column of an export is not stored: the import maps it to the new objects'
keys, so links to them from the imported files still point at the right objects.

Rows are committed in batches, one write transaction each. A bad row stops the
import with its line number and the reason; its whole batch is rolled back, the
batches before it stay committed (the error says how many rows that was).

Links, embedded objects and mixed values (which may hold links) are checked with
their row but set in a second pass, once every object exists: a row may link to a
row further down, and :func:`import_csv_files` imports several files whose classes
link to each other, in cycles too.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import json
import os
import re
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.errors import RealmError
from studio.core.export_files import KEY_FIELD
from studio.core.schema import ObjectSchema, Property, parse_object_schema
from studio.primitives.objectid import ObjectId

if TYPE_CHECKING:
    from studio.core.objects import RealmObject
    from studio.core.realm import Realm

DEFAULT_BATCH_SIZE = 1000

ImportProgress = Callable[[int, int, int], None]
"""``progress(rows_done, bytes_read, bytes_total)``; raise from it to cancel (the batch
in progress is rolled back)."""

_UTF8_BOM = b"\xef\xbb\xbf"
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
# Inference is stricter than typed reading: "007" or "1_000" stay strings (zip codes,
# ids), and words like "nan" are never taken for numbers.
_INFER_INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_INFER_DOUBLE = re.compile(r"[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INFER_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_FIELD_LIMIT = 2**31 - 1
PENDING: Any = object()  # a link to an object that a later row of the import creates


class CsvImportError(RealmError):
    """A CSV file could not be imported.

    ``line`` is the 1-based line of the file where the bad row starts (``None`` when
    the problem is not about one row); ``committed_rows`` how many rows earlier
    batches committed before the import stopped.
    """

    def __init__(self, message: str, *, line: int | None = None, committed_rows: int = 0,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.committed_rows = committed_rows
        self.reason = reason if reason is not None else message


class BadValueError(ValueError):
    """A cell's text does not fit its property's type (the message says why)."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    class_name: str
    rows: int
    batches: int
    created_class: bool
    schema: ObjectSchema


# -- reading the file ----------------------------------------------------------------------


class CsvSource:
    """The records of a UTF-8 CSV file with the line each starts on and the bytes read.

    The file is read in binary and decoded line by line, so progress can be told in
    bytes (text files cannot ``tell()`` while iterated) and a decoding error names its
    line. A newline byte is never part of a multi-byte UTF-8 sequence, so splitting
    before decoding is safe.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.bytes_read = 0
        self._physical_line = 0

    def _lines(self, raw_lines: Iterator[bytes]) -> Iterator[str]:
        for raw in raw_lines:
            if self._physical_line == 0 and raw.startswith(_UTF8_BOM):
                raw = raw[len(_UTF8_BOM):]  # Excel writes a BOM before UTF-8 CSV
            self.bytes_read += len(raw)
            self._physical_line += 1
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                reason = (f"not UTF-8 text ({exc.reason} at byte {exc.start} of the line); "
                          "save the file as UTF-8")
                raise CsvImportError(
                    f"line {self._physical_line}: {reason}", line=self._physical_line,
                    reason=reason,
                ) from None

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """``(line, cells)`` per record; blank lines are skipped."""
        # The csv module refuses cells over 128 KiB by default, and base64 data is often
        # larger. The limit is process-wide; raising it harms no other reader.
        csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
        with self.path.open("rb") as fh:
            reader = csv.reader(self._lines(iter(fh)))
            start = 1
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    reason = f"not valid CSV: {exc}"
                    if "new-line character" in str(exc):  # the csv module's advice misleads
                        reason = ("not valid CSV: a carriage return inside a line (old Mac line "
                                  "ends?); save the file with LF or CRLF line ends")
                    raise CsvImportError(
                        f"line {reader.line_num}: {reason}", line=reader.line_num, reason=reason
                    ) from None
                line, start = start, reader.line_num + 1
                if cells:
                    yield line, cells


def _read_header(records: Iterator[tuple[int, list[str]]], path: Path) -> list[str]:
    first = next(records, None)
    if first is None:
        raise CsvImportError(f"{path} is empty; the first row must name the columns", line=1)
    names = [cell.strip() for cell in first[1]]
    for index, name in enumerate(names):
        if not name:
            raise CsvImportError(f"line {first[0]}: column {index + 1} has no name", line=first[0])
        if name in names[:index]:
            raise CsvImportError(f"line {first[0]}: column {name!r} appears twice", line=first[0])
    return names


def _check_width(cells: list[str], header: list[str]) -> None:
    if len(cells) != len(header):
        raise BadValueError(f"the row has {len(cells)} cells, the header has {len(header)}")


# -- text to values ------------------------------------------------------------------------


def parse_date(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a time zone it is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadValueError(f"expected an ISO 8601 date, got {text!r:.60}") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadValueError(f"expected true or false, got {text!r:.60}")


def _parse_int(text: str) -> int:
    stripped = text.strip()
    if not _INT_TEXT.fullmatch(stripped):
        raise BadValueError(f"expected an integer, got {text!r:.60}")
    return int(stripped)


def _parser(
    what: str, convert: Callable[[str], Any], errors: tuple[type[Exception], ...]
) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return convert(text.strip())
        except errors:
            raise BadValueError(f"expected {what}, got {text!r:.60}") from None

    return parse


def _base64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _parse_string(text: str) -> str:
    return text


# float() also reads NaN, Infinity and -Infinity, as exports write them.
_parse_float = _parser("a number", float, (ValueError,))
TEXT_PARSERS: dict[str, Callable[[str], Any]] = {
    "bool": _parse_bool,
    "int": _parse_int,
    "float": _parse_float,
    "double": _parse_float,
    "string": _parse_string,
    "data": _parser("base64 data", _base64, (binascii.Error, ValueError)),
    "date": parse_date,
    "objectId": _parser("an ObjectId (24 hex digits)", ObjectId, (ValueError,)),
    "uuid": _parser("a UUID", uuid.UUID, (ValueError,)),
    "decimal128": _parser("a decimal number", Decimal, (InvalidOperation,)),
}


class _ValueReader:
    """Turns cell text (and the JSON inside collection cells) into values for ``create``.

    Links are looked up in the realm inside the batch's transaction. While ``checking``
    (the first pass), a link may also name an object that a file of this import will
    create: ``pending`` holds the primary keys (and, for classes without one, the
    ``_key`` values) that the files define, and such a link reads as ``PENDING``.
    ``key_maps`` maps a keyless class's ``_key`` values in the files to the object
    keys the import gave them, so links to those objects survive the round trip.
    """

    def __init__(self, realm: Realm) -> None:
        self.realm = realm
        self.schemas = {s.name: s for s in realm.schema}
        self.checking = False
        self.pending: dict[str, set[Any]] = {}
        self.key_maps: dict[str, dict[int, int]] = {}

    def _link(self, target_name: str, ref: Any, from_text: bool) -> Any:
        target = self.schemas[target_name]
        found: RealmObject | None
        if target.primary_key is None:
            if from_text:
                ref = _parse_int(ref)
            if not isinstance(ref, int) or isinstance(ref, bool):
                raise BadValueError(
                    f"a link to {target_name} (no primary key) is its object key, got {ref!r:.60}"
                )
            mapping = self.key_maps.get(target_name)
            key = ref if mapping is None else mapping.get(ref)
            found = None if key is None else self.realm.object_for_key(target_name, key)
            what = f"{KEY_FIELD} {ref}" if mapping is not None else f"object key {ref}"
        else:
            pk = target.get_property(target.primary_key)
            if from_text:
                ref = None if ref == "" and pk.optional else TEXT_PARSERS[pk.type](ref)
            else:
                ref = self.from_json(pk, ref)
            found = self.realm.object_for_primary_key(target_name, ref)
            what = f"primary key {ref!r:.60}"
        if found is None:
            if self.checking and ref in self.pending.get(target_name, ()):
                return PENDING
            raise BadValueError(f"there is no {target_name} with {what}")
        return found

    def _embedded(self, target_name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise BadValueError(
                f"an embedded {target_name} is a JSON object, got {json.dumps(value)[:60]}"
            )
        schema = self.schemas[target_name]
        return {name: self.from_json(schema.get_property(name), item)
                for name, item in value.items()}

    def _mixed(self, value: Any) -> Any:
        if isinstance(value, dict):
            if "class" in value and ("primaryKey" in value or KEY_FIELD in value):
                name = value["class"]
                if name not in self.schemas:
                    raise BadValueError(f"a mixed link names class {name!r}, which is not here")
                ref = value.get("primaryKey", value.get(KEY_FIELD))
                return self._link(name, ref, from_text=False)
            raise BadValueError("a mixed value cannot be a JSON object (except a link)")
        if isinstance(value, list):
            raise BadValueError("a mixed value cannot be a JSON array")
        return value

    def from_json(self, prop: Property, value: Any) -> Any:
        """One element (or scalar) given as a JSON value, for ``prop``'s base type."""
        if value is None:
            return None
        kind = prop.type
        if kind == "object":
            target = prop.object_type or ""
            if self.schemas[target].embedded:
                return self._embedded(target, value)
            return self._link(target, value, from_text=False)
        if kind == "mixed":
            return self._mixed(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
        elif kind == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif kind in ("float", "double"):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                return _parse_float(value)
        elif kind == "decimal128" and isinstance(value, int | float) and not isinstance(
            value, bool
        ):
            return Decimal(str(value))
        elif isinstance(value, str):
            return TEXT_PARSERS[kind](value)
        raise BadValueError(f"expected {kind}, got {json.dumps(value)[:60]}")

    def _json_cell(self, text: str, shape: type, what: str) -> Any:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadValueError(f"expected {what} as JSON text: {exc.msg}") from None
        if not isinstance(value, shape):
            raise BadValueError(f"expected {what} as JSON text, got {text!r:.60}")
        return value

    def cell(self, prop: Property, text: str) -> Any:
        """The value of one cell for ``prop``."""
        if prop.collection is not None:
            if text.strip() == "":
                return {} if prop.collection == "dictionary" else []
            if prop.collection == "dictionary":
                items = self._json_cell(text, dict, "a dictionary (a JSON object)")
                return {key: self.from_json(prop, item) for key, item in items.items()}
            elements = self._json_cell(text, list, f"a {prop.collection} (a JSON array)")
            return [self.from_json(prop, item) for item in elements]
        if prop.type in ("string", "data") and text == "" and not prop.optional:
            return "" if prop.type == "string" else b""
        if prop.type == "string":
            return None if text == "" else text
        if text.strip() == "":
            if prop.optional:
                return None
            raise BadValueError(f"a value is required ({prop.type_string}), the cell is empty")
        if prop.type == "mixed":
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                return text  # hand-written CSV: plain text in a mixed column is a string
            return self._mixed(value)
        if prop.type == "object":
            target = prop.object_type or ""
            if self.schemas[target].embedded:
                return self._embedded(target, self._json_cell(text, dict, "an embedded object"))
            return self._link(target, text, from_text=True)
        return TEXT_PARSERS[prop.type](text)


# -- inference -----------------------------------------------------------------------------


class _ColumnGuess:
    """What a column's cells could all be; narrowed by every cell of the file."""

    __slots__ = ("bool_ok", "date_ok", "double_ok", "empty", "int_ok", "values")

    def __init__(self) -> None:
        self.bool_ok = self.int_ok = self.double_ok = self.date_ok = True
        self.empty = False
        self.values = 0

    def feed(self, text: str) -> None:
        text = text.strip()
        if not text:
            self.empty = True
            return
        self.values += 1
        if self.bool_ok and text.lower() not in ("true", "false"):
            self.bool_ok = False
        if self.int_ok and not (_INFER_INT.fullmatch(text) and -(2**63) <= int(text) < 2**63):
            self.int_ok = False
        if self.double_ok and not _INFER_DOUBLE.fullmatch(text):
            self.double_ok = False
        if self.date_ok and not _is_date(text):
            self.date_ok = False

    def type_string(self) -> str:
        if not self.values:
            return "string?"  # nothing but empty cells: the most permissive type
        if self.bool_ok:
            base = "bool"
        elif self.int_ok:
            base = "int"
        elif self.double_ok:
            base = "double"
        elif self.date_ok:
            base = "date"
        else:
            base = "string"
        return base + "?" if self.empty else base


def _is_date(text: str) -> bool:
    if not _INFER_DATE.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def infer_column_type(cells: list[str]) -> str:
    """The Realm type string that every one of these cells fits (``int``, ``date?``...)."""
    guess = _ColumnGuess()
    for cell in cells:
        guess.feed(cell)
    return guess.type_string()


def infer_schema(
    path: str | os.PathLike[str], class_name: str, *, primary_key: str | None = None
) -> ObjectSchema:
    """A class for a CSV file: one property per column, typed from all of its rows.

    Also checks that every row has as many cells as the header, so a new class is
    only created for a file that can be imported.
    """
    source = CsvSource(Path(path))
    records = source.records()
    header = _read_header(records, source.path)
    guesses = [_ColumnGuess() for _ in header]
    for line, cells in records:
        try:
            _check_width(cells, header)
        except BadValueError as exc:
            raise CsvImportError(f"line {line}: {exc}; nothing was imported", line=line) from None
        for guess, cell in zip(guesses, cells, strict=True):
            guess.feed(cell)
    properties: dict[str, Any] = {}
    for name, guess in zip(header, guesses, strict=True):
        if name != KEY_FIELD:
            properties[name] = guess.type_string()
    spec: dict[str, Any] = {"name": class_name, "properties": properties}
    if primary_key is not None:
        kind = properties.get(primary_key)
        if kind is None:
            raise CsvImportError(f"primary key {primary_key!r} is not a column of {path}")
        if kind not in ("int", "string"):
            raise CsvImportError(
                f"column {primary_key!r} holds {kind} values; a primary key inferred from CSV "
                "must be int or string without empty cells"
            )
        spec["primaryKey"] = primary_key
    try:
        return parse_object_schema(spec)
    except RealmError as exc:
        raise CsvImportError(f"{path}: {exc}", line=1) from None


# -- importing -----------------------------------------------------------------------------


def _plan_columns(schema: ObjectSchema, header: list[str]) -> list[Property | None]:
    """The property of each column (None: ignored), after checking the header fits."""
    plan: list[Property | None] = []
    for name in header:
        prop = schema.get(name)
        if prop is None and name == KEY_FIELD:
            plan.append(None)
            continue
        if prop is None:
            raise CsvImportError(
                f"line 1: column {name!r} is not a property of {schema.name}; its properties "
                f"are: {', '.join(p.name for p in schema.persisted_properties)}",
                line=1,
            )
        plan.append(None if prop.is_backlink else prop)  # backlinks are computed
    present = set(header)
    missing = [
        p.name for p in schema.persisted_properties
        if p.name not in present and not p.optional and p.collection is None
        and p.type not in ("object", "mixed")
    ]
    if missing:
        raise CsvImportError(
            f"line 1: no column for the required properties of {schema.name}: "
            + ", ".join(missing),
            line=1,
        )
    return plan


def _linked(prop: Property | None) -> bool:
    """Columns set in the second pass: links, embedded objects (which may hold links) and
    mixed values (which may be links). They are never required, so the first pass can
    create every object without them."""
    return prop is not None and prop.type in ("object", "mixed")


@dataclass(slots=True)
class _FileImport:
    class_name: str
    path: Path
    schema: ObjectSchema
    header: list[str]
    columns: list[Property | None]
    label: str
    new_class: bool
    rows: int = 0
    transactions: int = 0
    keys: array[int] = field(default_factory=lambda: array("q"))

    @property
    def two_pass(self) -> bool:
        return any(_linked(prop) for prop in self.columns)


def _prepare(
    realm: Realm, class_name: str, path: Path, primary_key: str | None, label: str
) -> _FileImport:
    if not path.is_file():
        raise CsvImportError(f"{path}: no such file" if not path.exists() else
                             f"{path} is not a file")
    schema = next((s for s in realm.schema if s.name == class_name), None)
    new_class = schema is None
    if schema is None:
        schema = infer_schema(path, class_name, primary_key=primary_key)
    elif schema.embedded:
        raise CsvImportError(
            f"{class_name} is an embedded class; its objects live inside their parents: "
            "import the parent class with this column as JSON"
        )
    elif primary_key is not None and primary_key != schema.primary_key:
        raise CsvImportError(
            f"{class_name} exists with primary key {schema.primary_key!r}; "
            f"a primary key {primary_key!r} only applies to a new class"
        )
    header = _read_header(CsvSource(path).records(), path)
    try:
        columns = _plan_columns(schema, header)
    except CsvImportError as exc:
        raise CsvImportError(f"{label}{exc}", line=exc.line) from None
    return _FileImport(class_name, path, schema, header, columns, label, new_class)


class _Importer:
    """Runs the passes over the files in batches and keeps count for messages."""

    def __init__(self, realm: Realm, batch_size: int, update: bool,
                 progress: ImportProgress | None, files: list[_FileImport]) -> None:
        self.realm = realm
        self.batch_size = batch_size
        self.update = update
        self.progress = progress
        self.files = files
        self.reader = _ValueReader(realm)
        self.rows = 0
        self.bytes_done = 0
        sizes = [f.path.stat().st_size * (2 if f.two_pass else 1) for f in files]
        self.bytes_total = sum(sizes)
        self.pending_links = any(f.two_pass for f in files)

    def run(self) -> None:
        if self.pending_links:
            for file in self.files:
                self._collect_keys(file)
        self.reader.checking = True
        for file in self.files:
            self._pass(file, first=True)
        self.reader.checking = False
        for file in self.files:
            if file.two_pass:
                self._pass(file, first=False)
        if self.progress is not None:
            self.progress(self.rows, self.bytes_total, self.bytes_total)

    def _collect_keys(self, file: _FileImport) -> None:
        """What the file will create, so the first pass can check links to it: its primary
        keys, or the ``_key`` column of a class without one. Cells that don't parse are
        skipped here; the first pass reports them with their line."""
        pk = file.schema.primary_key
        name = pk if pk is not None else KEY_FIELD
        if name not in file.header:
            return
        column = file.header.index(name)
        parse = TEXT_PARSERS[file.schema.get_property(pk).type] if pk is not None else _parse_int
        pending = self.reader.pending.setdefault(file.class_name, set())
        if pk is None:
            self.reader.key_maps.setdefault(file.class_name, {})
        records = CsvSource(file.path).records()
        next(records)
        for _line, cells in records:
            if column < len(cells):
                with contextlib.suppress(BadValueError):
                    pending.add(parse(cells[column]))

    def _pass(self, file: _FileImport, first: bool) -> None:
        source = CsvSource(file.path)
        records = source.records()
        next(records)  # the header, checked by _prepare
        batch: list[tuple[int, list[str]]] = []
        index = 0  # row number in the file: where the object key of a keyless row is kept
        while True:
            try:
                record = next(records, None)
            except CsvImportError as exc:  # CSV syntax or encoding: nothing of `batch` is written
                raise self._error(file, first, exc.line or 0, exc.reason,
                                  batch[0][0] if batch else exc.line or 0) from None
            if record is not None:
                batch.append(record)
            if batch and (record is None or len(batch) >= self.batch_size):
                self._commit(file, first, batch, index)
                index += len(batch)
                batch.clear()
                if self.progress is not None:
                    self.progress(self.rows, self.bytes_done + source.bytes_read,
                                  self.bytes_total)
            if record is None:
                break
        self.bytes_done += source.size

    def _commit(self, file: _FileImport, first: bool, batch: list[tuple[int, list[str]]],
                index: int) -> None:
        failing = batch[0][0]
        keys: list[int] = []
        try:
            with self.realm.write():
                for offset, (line, cells) in enumerate(batch):
                    failing = line
                    if first:
                        keys.append(self._create(file, cells))
                    else:
                        self._link(file, cells, index + offset)
        except (RealmError, ValueError) as exc:
            raise self._error(file, first, failing, str(exc), batch[0][0]) from None
        file.transactions += 1
        if first:
            file.rows += len(batch)
            self.rows += len(batch)
            if file.schema.primary_key is None:
                file.keys.extend(keys)
                mapping = self.reader.key_maps.get(file.class_name)
                if mapping is not None and KEY_FIELD in file.header:
                    column = file.header.index(KEY_FIELD)
                    for (_line, cells), key in zip(batch, keys, strict=True):
                        mapping[_parse_int(cells[column])] = key

    def _values(self, file: _FileImport, cells: list[str], first: bool) -> dict[str, Any]:
        _check_width(cells, file.header)
        values: dict[str, Any] = {}
        for prop, cell in zip(file.columns, cells, strict=True):
            if prop is None or (not first and not _linked(prop)):
                continue
            if _linked(prop) and (cell == "" and not self.update):
                continue  # a new object's links are empty already
            try:
                value = self.reader.cell(prop, cell)
            except BadValueError as exc:
                raise BadValueError(f"{prop.name}: {exc}") from None
            # In the first pass linked values are only checked: they are set in the second,
            # so a bad link fails its row's batch before any of the row is written.
            if not (first and _linked(prop)):
                values[prop.name] = value
        return values

    def _create(self, file: _FileImport, cells: list[str]) -> int:
        values = self._values(file, cells, first=True)
        return self.realm.create(file.class_name, values, update=self.update)._key

    def _link(self, file: _FileImport, cells: list[str], index: int) -> None:
        pk = file.schema.primary_key
        obj: RealmObject | None
        if pk is None:
            obj = self.realm.object_for_key(file.class_name, file.keys[index])
        else:
            pk_prop = file.schema.get_property(pk)
            text = cells[file.header.index(pk)]
            value = None if text == "" and pk_prop.optional else TEXT_PARSERS[pk_prop.type](text)
            obj = self.realm.object_for_primary_key(file.class_name, value)
        if obj is None:  # deleted between the passes by another process
            raise BadValueError(f"the {file.class_name} object of this row is gone")
        for name, value in self._values(file, cells, first=False).items():
            obj[name] = value

    def _error(self, file: _FileImport, first: bool, line: int, reason: str,
               batch_start: int) -> CsvImportError:
        where = f"line {batch_start}" if batch_start == line else f"lines {batch_start}-{line}"
        if first:
            tail = f"the rows of its batch ({where}) were rolled back; "
            if not self.rows:
                tail += "nothing was imported"
            else:
                tail += f"the {self.rows} rows of the batches before it stay committed"
                if self.pending_links:
                    tail += (" (without their links, embedded objects and mixed values, "
                             "which the second pass sets once all rows are in)")
        else:
            tail = (f"all {self.rows} rows were imported, but the links, embedded objects and "
                    f"mixed values of the rows from line {batch_start} of {file.path.name} on "
                    "were not set (those of its batch were rolled back)")
        return CsvImportError(f"{file.label}line {line}: {reason}; {tail}", line=line,
                              committed_rows=self.rows, reason=reason)


def import_csv_files(
    realm: Realm,
    files: Sequence[tuple[str, str | os.PathLike[str]]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ImportProgress | None = None,
    update: bool = False,
    primary_key: str | None = None,
) -> list[ImportResult]:
    """Import several ``(class_name, path)`` files together.

    Every file is checked (header, and for a new class the whole file) before anything
    is written. A first pass creates the objects without their links, embedded
    objects and mixed values; a second pass sets those, so rows may link to rows
    further down, to their own class and across files in any order (cycles too).
    ``primary_key`` names the primary key column of a class the import creates.
    """
    if batch_size < 1:
        raise CsvImportError(f"the batch size must be at least 1, got {batch_size}")
    paths = [(name, Path(path)) for name, path in files]
    prepared = [
        _prepare(realm, name, path, primary_key, f"{path.name}, " if len(paths) > 1 else "")
        for name, path in paths
    ]
    new_classes: dict[str, ObjectSchema] = {}
    for file in prepared:
        if file.new_class:
            known = new_classes.setdefault(file.class_name, file.schema)
            file.schema = known  # two files for one new class: the first one's types
    if new_classes:
        # Committed on their own: rolling back a write that added a class would leave it
        # in the realm's in-memory schema (see docs/cli.md). The files were checked above,
        # so what can still fail is a value, not the class.
        with realm.write():
            realm.update_schema(list(new_classes.values()))
    _Importer(realm, batch_size, update, progress, prepared).run()
    return [ImportResult(f.class_name, f.rows, f.transactions, f.new_class, f.schema)
            for f in prepared]


def import_csv(
    realm: Realm,
    class_name: str,
    path: str | os.PathLike[str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ImportProgress | None = None,
    update: bool = False,
    primary_key: str | None = None,
) -> ImportResult:
    """Import the rows of one CSV file as objects of ``class_name``.

    A missing class is created (columns typed by inference over all rows, optionally
    with ``primary_key``). ``update=True`` upserts by primary key instead of failing on
    a duplicate. Raises :class:`CsvImportError` for a bad file or row.
    """
    return import_csv_files(realm, [(class_name, path)], batch_size=batch_size,
                            progress=progress, update=update, primary_key=primary_key)[0]
