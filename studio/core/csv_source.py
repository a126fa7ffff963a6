"""Reading a CSV file for an import: records with their line numbers, and the header.

See :mod:`studio.core.csv_import` for what the cells mean.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from studio.core.errors import BadValueError, CsvImportError

_UTF8_BOM = b"\xef\xbb\xbf"
_FIELD_LIMIT = 2**31 - 1


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


def read_header(records: Iterator[tuple[int, list[str]]], path: Path) -> list[str]:
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


def check_width(cells: list[str], header: list[str]) -> None:
    if len(cells) != len(header):
        raise BadValueError(f"the row has {len(cells)} cells, the header has {len(header)}")
