"""Export a view to JSON or CSV, import CSV, copy rows: with a progress dialog that can be
cancelled. The file formats are ``studio.core.export_files``' (plain JSON and CSV that
any tool reads, and that ``import_csv`` reads back), for a studio realm's objects and a
Realm Core file's alike."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

from studio.core.export_files import (
    csv_header,
    csv_row,
    export_object,
    export_value,
    write_csv,
    write_json,
)
from studio.ui.formatting import is_object
from studio.ui.sources import Element, ResultsSource, RowSource


class Cancelled(Exception):
    """Raised from a progress callback when the person pressed Cancel."""


class Progress:
    """A progress dialog driven from inside a long synchronous loop.

    The loop calls :meth:`update`; that repaints the dialog and lets Qt handle the
    Cancel button, and raises :class:`Cancelled` once it was pressed.
    """

    def __init__(self, parent: QWidget | None, label: str, maximum: int) -> None:
        self.dialog = QProgressDialog(label, "Cancel", 0, max(1, maximum), parent)
        self.dialog.setObjectName("progressDialog")
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(400)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.cancel_after: int | None = None  # tests: press Cancel at this value

    def update(self, value: int, maximum: int | None = None) -> None:
        if maximum is not None and maximum != self.dialog.maximum():
            self.dialog.setMaximum(max(1, maximum))
        self.dialog.setValue(min(value, self.dialog.maximum()))
        if self.cancel_after is not None and value >= self.cancel_after:
            self.dialog.cancel()
        QApplication.processEvents()
        if self.dialog.wasCanceled():
            raise Cancelled

    def close(self) -> None:
        self.dialog.close()
        self.dialog.deleteLater()


def source_rows(source: RowSource) -> tuple[Iterable[Any], int]:
    """Every row of a view, for export (a class or query streams from its Results)."""
    if isinstance(source, ResultsSource):
        return source.results, len(source.results)
    total = source.count()
    return source.fetch(0, total), total


def _element_value(source: RowSource, row: Element) -> Any:
    column = next(c for c in source.columns if c.kind == "element")
    assert column.prop is not None
    value = export_value(column.prop, row.value)
    return value if row.key is None else {"key": row.key, "value": value}


def write_rows(source: RowSource, rows: Iterable[Any], out: Any, fmt: str, total: int,
               progress: Callable[[int], None] | None = None) -> int:
    """Write rows of a view as JSON (an array) or CSV (a header row, then one row each)."""
    schema = source.object_schema
    tick = (lambda _name, done, _total: progress(done)) if progress else None
    if schema is not None:
        if fmt == "json":
            return write_json(rows, out, class_name=schema.name, total=total, progress=tick)
        return write_csv(rows, schema, out, total=total, progress=tick)
    values = [_element_value(source, row) for row in rows]
    if fmt == "json":
        out.write(json.dumps(values, ensure_ascii=False, indent=0) + "\n")
    else:
        writer = csv.writer(out, lineterminator="\n")
        keyed = any(isinstance(v, dict) and "key" in v for v in values)
        writer.writerow(["key", "value"] if keyed else ["value"])
        for value in values:
            if keyed:
                writer.writerow([value["key"], _csv_text(value["value"])])
            else:
                writer.writerow([_csv_text(value)])
    if progress:
        progress(len(values))
    return len(values)


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def export_view(source: RowSource, path: str | os.PathLike[str], fmt: str,
                progress: Progress | None = None) -> int:
    """Export every row of the view to ``path``; the file appears only when complete."""
    if fmt not in ("json", "csv"):
        raise ValueError(f"unknown export format {fmt!r}; use json or csv")
    target = Path(path)
    temp = target.with_name(target.name + ".part")
    rows, total = source_rows(source)
    try:
        with temp.open("w", encoding="utf-8", newline="") as out:
            count = write_rows(source, rows, out, fmt, total,
                               (lambda done: progress.update(done, total)) if progress else None)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return count


def copy_text(source: RowSource, rows: list[Any], fmt: str) -> str:
    """Rows as JSON (an array of objects) or CSV (with a header), for the clipboard."""
    schema = source.object_schema
    if schema is not None and all(is_object(r) for r in rows):
        if fmt == "json":
            return json.dumps([export_object(r) for r in rows], ensure_ascii=False, indent=2)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(csv_header(schema))
        for row in rows:
            writer.writerow(csv_row(row))
        return buffer.getvalue()
    buffer = io.StringIO()
    write_rows(source, rows, buffer, fmt, len(rows))
    return buffer.getvalue()

