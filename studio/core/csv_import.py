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

This module runs the passes and batches; :mod:`studio.core.csv_source` reads the
file, :mod:`studio.core.csv_values` turns cells into values (scalars with the type
registry's text parsers, :mod:`studio.core.text_codecs`) and
:mod:`studio.core.csv_infer` types the columns of a new class.
"""

from __future__ import annotations

import contextlib
import os
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.csv_infer import infer_column_type as infer_column_type
from studio.core.csv_infer import infer_schema
from studio.core.csv_source import CsvSource, check_width, read_header
from studio.core.csv_values import TEXT_PARSERS, ValueReader
from studio.core.errors import BadValueError as BadValueError
from studio.core.errors import CsvImportError as CsvImportError
from studio.core.errors import RealmError
from studio.core.export_files import KEY_FIELD
from studio.core.schema import ObjectSchema, Property
from studio.core.text_codecs import parse_date as parse_date
from studio.core.text_codecs import parse_int

if TYPE_CHECKING:
    from studio.core.objects import RealmObject
    from studio.core.realm import Realm

DEFAULT_BATCH_SIZE = 1000

ImportProgress = Callable[[int, int, int], None]
"""``progress(rows_done, bytes_read, bytes_total)``; raise from it to cancel (the batch
in progress is rolled back)."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    class_name: str
    rows: int
    batches: int
    created_class: bool
    schema: ObjectSchema


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
    header = read_header(CsvSource(path).records(), path)
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
        self.reader = ValueReader(realm)
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
        parse = TEXT_PARSERS[file.schema.get_property(pk).type] if pk is not None else parse_int
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
                        mapping[parse_int(cells[column])] = key

    def _values(self, file: _FileImport, cells: list[str], first: bool) -> dict[str, Any]:
        check_width(cells, file.header)
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
