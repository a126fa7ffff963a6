"""The object table (object name ``objectTable``): keyboard first, sorting by header.

Enter follows a link / opens a collection, or edits the cell; Space toggles a bool;
Delete asks to delete the selected objects; Ctrl+End jumps to the very last row
(exposing every row: only the count, no row is read). A header click cycles the
column's sort: ascending, descending, off.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QKeyEvent, QKeySequence, QPaintEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from studio.ui.column_header import ColumnHeader
from studio.ui.delegates import ValueDelegate, is_followable
from studio.ui.table_model import KindRole, ObjectTableModel, cell_data

ROW_HEIGHT_PADDING = 6


class ObjectTableView(QTableView):
    followRequested = Signal(QModelIndex)
    deleteRequested = Signal()
    dataMenuRequested = Signal(QModelIndex)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("objectTable")
        # Names, types and the quick filter row (set first: the lines below wire it up).
        self.column_header = ColumnHeader(self)
        self.setHorizontalHeader(self.column_header)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setWordWrap(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        vertical = self.verticalHeader()
        # Fixed row heights keep a million-row table as cheap as a hundred-row one.
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + ROW_HEIGHT_PADDING)
        # "Resize to contents" looks at this many rows, not at every exposed row.
        vertical.setResizeContentsPrecision(40)
        self.horizontalHeader().setResizeContentsPrecision(40)
        horizontal = self.horizontalHeader()
        horizontal.setSectionsClickable(True)
        horizontal.setSortIndicatorShown(False)
        horizontal.setHighlightSections(False)
        horizontal.setDefaultSectionSize(150)
        horizontal.sectionClicked.connect(self.cycle_sort)
        # QTableView selects the whole column on a header press unless Qt itself sorts;
        # here the header sorts (cycle_sort), so a press must not touch the selection.
        self._header_pressed = False
        horizontal.viewport().installEventFilter(self)
        # Double-clicking a column's edge fits it, sampled like fit_columns (Qt's own
        # resize-to-contents, connected by QTableView, would read every role of many rows).
        horizontal.sectionHandleDoubleClicked.disconnect()
        horizontal.sectionHandleDoubleClicked.connect(lambda c: self.fit_columns([c]))
        horizontal.sectionResized.connect(self._section_resized)
        self._widths: dict[str, list[int]] = {}  # per view key: widths survive navigation
        self._width_key = ""
        self._fitting = False
        self._empty_fits: set[str] = set()  # view keys fitted with no rows to sample
        self._position: tuple[int, int] | None = None
        self.delegate = ValueDelegate(self)
        self.setItemDelegate(self.delegate)
        self.delegate.linkActivated.connect(self.followRequested)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if watched is not self.horizontalHeader().viewport():
            pass
        elif kind == QEvent.Type.MouseButtonPress:
            self._header_pressed = True
        elif kind == QEvent.Type.MouseButtonRelease:
            self._header_pressed = False
        return super().eventFilter(watched, event)

    def selectionCommand(self, index: QModelIndex | QPersistentModelIndex,
                         event: QEvent | None = None) -> QItemSelectionModel.SelectionFlag:
        if self._header_pressed:  # Qt's column selection from a header press or drag
            return QItemSelectionModel.SelectionFlag.NoUpdate
        return super().selectionCommand(index, event)

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        if isinstance(model, ObjectTableModel):
            model.liveChangeStarting.connect(self._remember_position)
            model.sortChanged.connect(self.show_sort_indicator)  # a background sort ends
            model.rowsInserted.connect(lambda *_: self._rows_arrived())
            # (not modelReset: a new view's reset comes before show_columns knows its key)
            model.liveChange.connect(lambda _c: self._rows_arrived())
            model.liveChange.connect(self._restore_position)

    def _remember_position(self) -> None:
        current = self.currentIndex()
        self._position = (current.row(), current.column()) if current.isValid() else None

    def _restore_position(self, changes: Any) -> None:
        # Editing a list item replaces it (a deletion and an insertion at its row), and a
        # reload resets every row: either would move the cursor off the item the user
        # was on (to the next row, or row 0). Put it back.
        position, self._position = self._position, None
        model = self.object_model()
        if position is None or model is None:
            return
        row, column = position
        replaced = row in changes.deletions and row in changes.insertions
        if (changes.reset or replaced) and 0 <= row < model.total_rows:
            self.go_to_row(row, column)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.object_model()
        if model is not None and model.rowCount() > 0:
            model.view_painted()  # first rows are on screen: live updates may start now

    def fit_columns(self, columns: Iterable[int] | None = None, sample_rows: int = 25,
                    minimum: int = 70, maximum: int = 320) -> None:
        """Column widths from the header and the first rows' text (Qt's resize-to-contents
        asks every role of many cells through the bindings: far slower)."""
        model = self.object_model()
        if model is None:
            return
        header = self.horizontalHeader()
        text_metrics = self.fontMetrics()
        header_metrics = header.fontMetrics()
        rows = min(model.rowCount(), sample_rows)
        self._fitting = True
        try:
            for column in range(model.columnCount()) if columns is None else columns:
                title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
                type_line = self.column_header.section_type_text(column)
                width = max(header_metrics.horizontalAdvance(title) + 28,  # the sort arrow
                            header_metrics.horizontalAdvance(type_line) + 12)
                for row in range(rows):
                    index = model.index(row, column)
                    text = model.data(index)
                    extra = (34 if model.data(index, Qt.ItemDataRole.CheckStateRole) is not None
                             else 16)
                    width = max(width, text_metrics.horizontalAdvance(str(text or "")) + extra)
                header.resizeSection(column, max(minimum, min(width, maximum)))
        finally:
            self._fitting = False

    def show_columns(self, key: str) -> None:
        """Widths for the view ``key`` (a class and its columns): the ones it had when last
        shown, or fitted to its first rows. A view fitted while empty is fitted again once
        rows come (unless the user set a width meanwhile)."""
        model = self.object_model()
        count = model.columnCount() if model is not None else 0
        self._width_key = ""
        widths = self._widths.get(key)
        if widths is not None and len(widths) == count:
            self._fitting = True
            try:
                for column, width in enumerate(widths):
                    self.horizontalHeader().resizeSection(column, width)
            finally:
                self._fitting = False
        else:
            self.fit_columns()
            if model is not None and model.rowCount() == 0:
                self._empty_fits.add(key)
        self._width_key = key
        self._widths[key] = [self.columnWidth(c) for c in range(count)]
        # Shown again with rows (a query's answer from a worker, a query that matched
        # nothing taken away): a reset, not an insertion, so fit here.
        self._rows_arrived()

    def _section_resized(self, column: int, _old: int, new: int) -> None:
        widths = self._widths.get(self._width_key)
        if widths is None or column >= len(widths):
            return
        widths[column] = new
        if not self._fitting:
            self._empty_fits.discard(self._width_key)  # the user's width: no fit over it

    def _rows_arrived(self) -> None:
        model = self.object_model()
        key = self._width_key
        if key in self._empty_fits and model is not None and model.rowCount() > 0:
            self._empty_fits.discard(key)
            self.fit_columns()
            if self._width_key in self._widths:
                self._widths[self._width_key] = [self.columnWidth(c)
                                                 for c in range(model.columnCount())]

    def object_model(self) -> ObjectTableModel | None:
        model = self.model()
        return model if isinstance(model, ObjectTableModel) else None

    def show_sort_indicator(self) -> None:
        model = self.object_model()
        header = self.horizontalHeader()
        state = model.sort_state() if model is not None else None
        if state is None:
            header.setSortIndicatorShown(False)
            header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        else:
            header.setSortIndicatorShown(True)
            header.setSortIndicator(state[0], state[1])

    def cycle_sort(self, column: int) -> None:
        """Ascending, then descending, then unsorted."""
        model = self.object_model()
        if model is None or not model.can_sort(column):
            return
        state = model.sort_state()
        if state is None or state[0] != column:
            model.sort(column, Qt.SortOrder.AscendingOrder)
        elif state[1] == Qt.SortOrder.AscendingOrder:
            model.sort(column, Qt.SortOrder.DescendingOrder)
        else:
            model.clear_sort()
        self.show_sort_indicator()

    def go_to_row(self, row: int, column: int | None = None) -> None:
        model = self.object_model()
        if model is None or model.total_rows == 0:
            return
        row = max(0, min(row, model.total_rows - 1))
        model.expose(row + 1)
        col = self.currentIndex().column() if column is None else column
        index = model.index(row, max(col, 0))
        self.setCurrentIndex(index)
        self.selectionModel().select(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def selected_rows(self) -> list[int]:
        rows = {index.row() for index in self.selectionModel().selectedIndexes()}
        if not rows and self.currentIndex().isValid():
            rows.add(self.currentIndex().row())
        return sorted(rows)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        current = self.currentIndex()
        if self.state() != QAbstractItemView.State.EditingState:
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and current.isValid():
                if is_followable(current):
                    self.followRequested.emit(current)
                elif self.model().flags(current) & Qt.ItemFlag.ItemIsEditable:
                    if cell_data(current, Qt.ItemDataRole.CheckStateRole) is None:
                        self.edit(current)
                elif cell_data(current, KindRole) == "data":
                    self.dataMenuRequested.emit(current)
                return
            if key == Qt.Key.Key_Delete or event.matches(QKeySequence.StandardKey.Delete):
                self.deleteRequested.emit()
                return
            if key == Qt.Key.Key_End and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                model = self.object_model()
                if model is not None:
                    model.expose_all()
                    self.go_to_row(model.total_rows - 1)
                return
        super().keyPressEvent(event)
