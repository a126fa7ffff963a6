"""A table model over plain records (dicts), for the admin lists and the live tails.

Admin lists (realms, users, connections) are small and replaced as a whole;
tails (sync events, logs) grow at the end and lose their oldest rows beyond a
cap, with row insert/remove notifications so that views and filter proxies
update incrementally rather than resetting a thousand times a minute.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from studio.ui.formatting import format_size

RecordRole = Qt.ItemDataRole.UserRole + 40
SortRole = Qt.ItemDataRole.UserRole + 41
Index = QModelIndex | QPersistentModelIndex


def fmt_time(value: Any) -> str:
    """Unix seconds (the server's times) as local time; milliseconds too."""
    if value is None or value == "":
        return ""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return str(value)
    if seconds > 1e11:  # milliseconds
        seconds /= 1000
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def fmt_clock(value: Any) -> str:
    """Time of day with milliseconds, for tails."""
    try:
        return datetime.fromtimestamp(float(value)).strftime("%H:%M:%S.%f")[:-3]
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value or "")


def fmt_size(value: Any) -> str:
    return format_size(int(value)) if isinstance(value, int | float) else ""


def fmt_bool(value: Any) -> str:
    return "yes" if value else ""


def fmt_list(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def fmt_plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    fmt: Callable[[Any], str] = fmt_plain
    get: Callable[[dict[str, Any]], Any] | None = None  # computed columns
    align_right: bool = False

    def value(self, record: dict[str, Any]) -> Any:
        return self.get(record) if self.get is not None else record.get(self.key)


class RecordModel(QAbstractTableModel):
    """Rows are dicts; ``max_rows`` (0: unbounded) caps a tail."""

    def __init__(self, columns: Sequence[Column], max_rows: int = 0,
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.max_rows = max_rows
        self.records: list[dict[str, Any]] = []

    # -- reading ---------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self.records[index.row()]
        column = self.columns[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return column.fmt(column.value(record))
        if role == RecordRole:
            return record
        if role == SortRole:
            value = column.value(record)
            return value if isinstance(value, int | float) else column.fmt(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        return None

    def record(self, row: int) -> dict[str, Any]:
        return self.records[row]

    # -- writing ---------------------------------------------------------------------------

    def set_records(self, records: Iterable[dict[str, Any]]) -> None:
        self.beginResetModel()
        self.records = list(records)
        self.endResetModel()

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Add at the end; beyond ``max_rows`` the oldest rows go."""
        if not records:
            return
        if self.max_rows and len(records) > self.max_rows:
            records = records[-self.max_rows:]
        if self.max_rows:
            excess = len(self.records) + len(records) - self.max_rows
            if excess > 0:
                self.beginRemoveRows(QModelIndex(), 0, excess - 1)
                del self.records[:excess]
                self.endRemoveRows()
        first = len(self.records)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        self.records.extend(records)
        self.endInsertRows()

    def clear(self) -> None:
        self.set_records([])


class FilterProxy(QSortFilterProxyModel):
    """Filters rows with a predicate on the record (tails) or a text search (lists)."""

    def __init__(self, source: RecordModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self.setSortRole(SortRole)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self.predicate: Callable[[dict[str, Any]], bool] | None = None

    def set_predicate(self, predicate: Callable[[dict[str, Any]], bool] | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+; invalidateRowsFilter is deprecated
            self.beginFilterChange()
            self.predicate = predicate
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.predicate = predicate
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, RecordModel)
        if self.predicate is not None and not self.predicate(model.records[row]):
            return False
        return super().filterAcceptsRow(row, parent)

    def record(self, row: int) -> dict[str, Any]:
        model = self.sourceModel()
        assert isinstance(model, RecordModel)
        return model.records[self.mapToSource(self.index(row, 0)).row()]

    def shown_records(self) -> list[dict[str, Any]]:
        return [self.record(r) for r in range(self.rowCount())]

    def export_csv(self, path: str | os.PathLike[str]) -> int:
        """Write the rows shown (filtered, in view order) with the shown text; returns
        how many rows were written."""
        model = self.sourceModel()
        assert isinstance(model, RecordModel)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([c.title for c in model.columns])
            for row in range(self.rowCount()):
                writer.writerow([self.index(row, col).data() for col in range(len(model.columns))])
        return self.rowCount()


def make_table(model: QSortFilterProxyModel, parent: QWidget, name: str,
               sortable: bool = True) -> QTableView:
    table = QTableView(parent)
    table.setObjectName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setSortingEnabled(sortable)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(22)
    header = table.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return table


def selected_record(table: QTableView) -> dict[str, Any] | None:
    rows = table.selectionModel().selectedRows() if table.selectionModel() else []
    if not rows:
        return None
    value = rows[0].data(RecordRole)
    return value if isinstance(value, dict) else None


def select_where(table: QTableView, predicate: Callable[[dict[str, Any]], bool]) -> bool:
    """Select the first row whose record matches; keeps a selection across list reloads."""
    model = table.model()
    for row in range(model.rowCount()):
        record = model.index(row, 0).data(RecordRole)
        if isinstance(record, dict) and predicate(record):
            table.selectRow(row)
            return True
    return False


def fit_columns(table: QTableView, max_width: int = 340) -> None:
    """Columns as wide as their contents (the rows loaded so far), within reason; the
    last one stretches."""
    table.resizeColumnsToContents()
    header = table.horizontalHeader()
    for column in range(header.count() - 1):
        if header.sectionSize(column) > max_width:
            header.resizeSection(column, max_width)
