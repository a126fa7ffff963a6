"""Import a CSV file into one class of a realm (``studio import-csv`` and the Studio).

The first row names the columns. When the class exists, each column is a property
and its cells are read by the property's type; when it does not, the class is
created with a type per column inferred from *every* row of the file (bool, int,
double, date or string; optional when the column has empty cells).

Cells use the renderings of :mod:`studio.core.export_files`, so an exported CSV
imports back to the same objects: ``true``/``false``, numbers, ISO 8601 dates,
base64 data, hex objectIds, uuids and decimals as text, a link as the target's
primary key (its object key when the target has none), collections, embedded
objects and mixed values as JSON text. An empty cell is null for an optional
property, ``""`` for a required string and an empty collection for a collection.
A ``_key`` column (what an export writes for classes without a primary key) is
ignored: object keys are assigned by the target realm.

Rows are committed in batches, one write transaction each. A bad row stops the
import with its line number and the reason; its whole batch is rolled back, the
batches before it stay committed (the error says how many rows that was).
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.errors import RealmError
from studio.core.export_files import KEY_FIELD
from studio.core.objectid import ObjectId
from studio.core.schema import ObjectSchema, Property, parse_object_schema

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


class CsvImportError(RealmError):
    """A CSV file could not be imported.

    ``line`` is the 1-based line of the file where the bad row starts (``None`` when
    the problem is not about one row); ``committed_rows`` how many rows earlier
    batches committed before the import stopped.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        committed_rows: int = 0,
        reason: str | None = None,
    ) -> None:
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


def _parse_float(text: str) -> float:
    try:
        return float(text.strip())  # also NaN, Infinity, -Infinity as exports write them
    except ValueError:
        raise BadValueError(f"expected a number, got {text!r:.60}") from None


def _parse_data(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadValueError(f"expected base64 data, got {text!r:.60}") from None


def _parse_object_id(text: str) -> ObjectId:
    try:
        return ObjectId(text.strip())
    except ValueError as exc:
        raise BadValueError(str(exc)) from None


def _parse_uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise BadValueError(f"expected a UUID, got {text!r:.60}") from None


def _parse_decimal(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise BadValueError(f"expected a decimal number, got {text!r:.60}") from None


def _parse_string(text: str) -> str:
    return text


TEXT_PARSERS: dict[str, Callable[[str], Any]] = {
    "bool": _parse_bool,
    "int": _parse_int,
    "float": _parse_float,
    "double": _parse_float,
    "string": _parse_string,
    "data": _parse_data,
    "date": parse_date,
    "objectId": _parse_object_id,
    "uuid": _parse_uuid,
    "decimal128": _parse_decimal,
}


class _ValueReader:
    """Turns cell text (and the JSON inside collection cells) into values for ``create``.

    Links are looked up in the realm inside the batch's transaction, so a row may link
    to an object created by an earlier row of the same file.
    """

    def __init__(self, realm: Realm) -> None:
        self.realm = realm
        self.schemas = {s.name: s for s in realm.schema}

    def _link(self, target_name: str, ref: Any, from_text: bool) -> RealmObject:
        target = self.schemas[target_name]
        found: RealmObject | None
        if target.primary_key is None:
            if from_text:
                ref = _parse_int(ref)
            if not isinstance(ref, int) or isinstance(ref, bool):
                raise BadValueError(
                    f"a link to {target_name} (no primary key) is its object key, got {ref!r:.60}"
                )
            found = self.realm.object_for_key(target_name, ref)
            what = f"object key {ref}"
        else:
            pk = target.get_property(target.primary_key)
            if from_text:
                ref = None if ref == "" and pk.optional else TEXT_PARSERS[pk.type](ref)
            else:
                ref = self.from_json(pk, ref)
            found = self.realm.object_for_primary_key(target_name, ref)
            what = f"primary key {ref!r:.60}"
        if found is None:
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
        if prop.type == "string":
            return None if text == "" and prop.optional else text
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
            raise CsvImportError(f"--primary-key {primary_key!r} is not a column of {path}")
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
        if name == KEY_FIELD and schema.get(name) is None:
            plan.append(None)
            continue
        prop = schema.get(name)
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


def _rolled_back(line: int, reason: str, first_line: int, committed: int) -> CsvImportError:
    where = f"line {first_line}" if first_line == line else f"lines {first_line}-{line}"
    if committed:
        tail = (f"the rows of its batch ({where}) were rolled back; the {committed} rows "
                "of the batches before it stay committed")
    else:
        tail = f"the rows of its batch ({where}) were rolled back; nothing was imported"
    return CsvImportError(
        f"line {line}: {reason}; {tail}", line=line, committed_rows=committed, reason=reason
    )


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
    """Import the rows of a CSV file as objects of ``class_name``.

    A missing class is created (columns typed by inference over all rows, optionally
    with ``primary_key``). ``update=True`` upserts by primary key instead of failing on
    a duplicate. Raises :class:`CsvImportError` for a bad file or row.
    """
    if batch_size < 1:
        raise CsvImportError(f"the batch size must be at least 1, got {batch_size}")
    file = Path(path)
    if not file.is_file():
        raise CsvImportError(f"{file}: no such file" if not file.exists() else
                             f"{file} is not a file")
    schema = next((s for s in realm.schema if s.name == class_name), None)
    created = False
    if schema is None:
        schema = infer_schema(file, class_name, primary_key=primary_key)
        # Its own transaction: adding a class and rolling the write back would leave the
        # class in the realm's in-memory schema (see docs/cli.md), and inference above
        # has already checked every row's shape, so the batches can only fail on values.
        with realm.write():
            realm.update_schema([schema])
        created = True
    else:
        if schema.embedded:
            raise CsvImportError(
                f"{class_name} is an embedded class; its objects live inside their parents: "
                "import the parent class with this column as JSON"
            )
        if primary_key is not None and primary_key != schema.primary_key:
            raise CsvImportError(
                f"{class_name} exists with primary key {schema.primary_key!r}; "
                f"--primary-key {primary_key!r} only applies to a new class"
            )
    source = CsvSource(file)
    records = source.records()
    header = _read_header(records, file)
    plan = _plan_columns(schema, header)
    reader = _ValueReader(realm)
    committed = 0
    batches = 0
    batch: list[tuple[int, list[str]]] = []

    def flush() -> None:
        nonlocal committed, batches
        failing = batch[0][0]
        try:
            with realm.write():
                for line, cells in batch:
                    failing = line
                    realm.create(class_name, _row_values(reader, plan, header, cells),
                                 update=update)
        except (RealmError, ValueError) as exc:
            raise _rolled_back(failing, str(exc), batch[0][0], committed) from None
        committed += len(batch)
        batches += 1
        batch.clear()
        if progress is not None:
            progress(committed, source.bytes_read, source.size)

    while True:
        try:
            record = next(records, None)
        except CsvImportError as exc:
            # A CSV syntax or encoding error: nothing of the batch being read was written.
            if batch:
                raise _rolled_back(exc.line or 0, exc.reason, batch[0][0], committed) from None
            if committed:
                raise CsvImportError(
                    f"{exc}; the {committed} rows before it stay committed",
                    line=exc.line, committed_rows=committed, reason=exc.reason,
                ) from None
            raise
        if record is None:
            break
        batch.append(record)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    if progress is not None:
        progress(committed, source.size, source.size)
    return ImportResult(class_name, committed, batches, created, schema)


def _row_values(
    reader: _ValueReader,
    plan: list[Property | None],
    header: list[str],
    cells: list[str],
) -> dict[str, Any]:
    _check_width(cells, header)
    values: dict[str, Any] = {}
    for prop, cell in zip(plan, cells, strict=True):
        if prop is None:
            continue
        try:
            values[prop.name] = reader.cell(prop, cell)
        except BadValueError as exc:
            raise BadValueError(f"{prop.name}: {exc}") from None
    return values
