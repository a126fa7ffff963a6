"""The class a CSV file gets when an import creates it: a type per column, inferred
from every row (bool, int, double, date or string; optional when a cell is empty).

Inference is stricter than typed reading: "007" or "1_000" stay strings (zip codes,
ids), and words like "nan" are never taken for numbers.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from studio.core.csv_source import CsvSource, check_width, read_header
from studio.core.errors import BadValueError, CsvImportError, RealmError
from studio.core.export_files import KEY_FIELD
from studio.core.schema import ObjectSchema, parse_object_schema

_INFER_INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_INFER_DOUBLE = re.compile(r"[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INFER_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)


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
    header = read_header(records, source.path)
    guesses = [_ColumnGuess() for _ in header]
    for line, cells in records:
        try:
            check_width(cells, header)
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
