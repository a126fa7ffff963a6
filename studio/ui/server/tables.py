"""A table model over plain records (dicts), for the admin lists and the live tails.

Admin lists (realms, users, connections) are small and replaced as a whole;
tails (sync events, logs) grow at the end and lose their oldest rows beyond a
cap, with row insert/remove notifications so that views and filter proxies
update incrementally rather than resetting a thousand times a minute.
"""

from __future__ import annotations

import csv
import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from studio.ui.formatting import format_size

RecordRole = int(Qt.ItemDataRole.UserRole) + 40
SortRole = int(Qt.ItemDataRole.UserRole) + 41
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
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
        self._texts: list[list[str] | None] = []  # per row, filled when first shown

    # -- reading ---------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def text(self, row: int, column: int) -> str:
        """A cell's display text, formatted once per row (a view asks for it on every
        paint; rows of these tables never change, they are replaced)."""
        texts = self._texts[row]
        if texts is None:
            record = self.records[row]
            texts = self._texts[row] = [c.fmt(c.value(record)) for c in self.columns]
        return texts[column]

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        # Called for ~8 roles of every visible cell on every paint: the common roles are
        # compared as plain ints first, and nothing is computed for the others.
        if role in (_DISPLAY, _TOOLTIP):
            return self.text(index.row(), index.column())
        if role == _ALIGN:
            return _RIGHT if self.columns[index.column()].align_right else None
        if role == RecordRole:
            return self.records[index.row()]
        if role == SortRole:
            column = self.columns[index.column()]
            value = column.value(self.records[index.row()])
            return value if isinstance(value, int | float) else column.fmt(value)
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
        self._texts = [None] * len(self.records)
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
                del self._texts[:excess]
                self.endRemoveRows()
        first = len(self.records)
        self.beginInsertRows(QModelIndex(), first, first + len(records) - 1)
        self.records.extend(records)
        self._texts.extend([None] * len(records))
        self.endInsertRows()

    def clear(self) -> None:
        self.set_records([])

    def refresh_texts(self) -> None:
        """Forget formatted texts (records were changed in place) and repaint."""
        self._texts = [None] * len(self.records)
        if self.records:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self.records) - 1, len(self.columns) - 1))


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
        return write_csv(self, path)


def write_csv(model: QAbstractItemModel, path: str | os.PathLike[str]) -> int:
    """A table model's rows, as displayed, to a CSV file with the column titles."""
    columns = model.columnCount()
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([model.headerData(c, Qt.Orientation.Horizontal) for c in range(columns)])
        for row in range(model.rowCount()):
            writer.writerow([model.index(row, c).data() for c in range(columns)])
    return model.rowCount()


class TailModel(RecordModel):
    """A live tail: ``kept`` holds the newest ``max_rows`` rows, ``records`` the ones the
    predicate shows, in order. Filtering lives here rather than in a
    QSortFilterProxyModel because the proxy doubles the cost of every paint (each cell
    goes through index mapping and Python rowCount/columnCount checks), which at a
    thousand events a second is what the event loop's latency is made of."""

    def __init__(self, columns: Sequence[Column], max_rows: int, parent: Any = None) -> None:
        super().__init__(columns, max_rows=max_rows, parent=parent)
        self.kept: deque[dict[str, Any]] = deque()
        self.predicate: Callable[[dict[str, Any]], bool] | None = None
        # Serial numbers of kept and shown rows (rows are the stream's event dicts, shared
        # with other tabs, so they are not marked themselves).
        self._kept_serials: deque[int] = deque()
        self._shown_serials: deque[int] = deque()
        self._serial = 0

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        if not records:
            return
        start = self._serial + 1
        self._serial += len(records)
        self.kept.extend(records)
        self._kept_serials.extend(range(start, self._serial + 1))
        for _ in range(len(self.kept) - self.max_rows):
            self.kept.popleft()
            self._kept_serials.popleft()
        oldest = self._kept_serials[0]
        gone = 0
        shown = self._shown_serials
        while gone < len(shown) and shown[gone] < oldest:
            gone += 1
        if gone:
            self.beginRemoveRows(QModelIndex(), 0, gone - 1)
            del self.records[:gone]
            del self._texts[:gone]
            for _ in range(gone):
                shown.popleft()
            self.endRemoveRows()
        predicate = self.predicate
        new = [(n, r) for n, r in enumerate(records, start)
               if n >= oldest and (predicate is None or predicate(r))]
        if new:
            first = len(self.records)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self.records.extend(r for _n, r in new)
            self._texts.extend([None] * len(new))
            shown.extend(n for n, _r in new)
            self.endInsertRows()

    def set_predicate(self, predicate: Callable[[dict[str, Any]], bool] | None) -> None:
        self.predicate = predicate
        pairs = [(n, r) for n, r in zip(self._kept_serials, self.kept, strict=True)
                 if predicate is None or predicate(r)]
        self._shown_serials = deque(n for n, _r in pairs)
        self.set_records([r for _n, r in pairs])

    def clear(self) -> None:
        self.kept.clear()
        self._kept_serials.clear()
        self._shown_serials.clear()
        super().clear()

    def export_csv(self, path: str | os.PathLike[str]) -> int:
        return write_csv(self, path)


def make_table(model: QAbstractItemModel, parent: QWidget, name: str,
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
