"""The object table's model: a thin QAbstractTableModel adapter over a :class:`RowSource`.

* Rows are exposed a page at a time (``canFetchMore``/``fetchMore``, 256 rows a page),
  so opening a class costs the same for a hundred objects or a million. Once the table
  is live (after the first paint), or on "jump to the end", the rest is exposed at once:
  only the count changes, no row is read, and the scrollbar then tells the truth.
* Row objects are read on demand, a page at a time, into a bounded LRU of pages, so
  memory follows what is visible, not the size of the class.
* Live changes arrive as Realm-shaped index sets and become beginRemoveRows /
  beginInsertRows / dataChanged; only a schema change resets the model.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QFont, QPalette
from PySide6.QtWidgets import QApplication

from studio.ui import formatting as fmt
from studio.ui.background_sort import BACKGROUND_SORT_ROWS, SortRunner
from studio.ui.cells import KindRole as KindRole
from studio.ui.cells import ModelIndex as ModelIndex
from studio.ui.cells import PropertyRole as PropertyRole
from studio.ui.cells import RowObjectRole as RowObjectRole
from studio.ui.cells import TypeRole as TypeRole
from studio.ui.cells import ValueRole as ValueRole
from studio.ui.cells import cell_data as cell_data
from studio.ui.cells import cell_kind, model_index
from studio.ui.sources import Column, RowSource, TableChanges
from studio.ui.table_sorting import TableSorting

log = logging.getLogger(__name__)

PAGE_SIZE = 256
# Up to this many rows a source starts listening at once; above, only after the first
# paint (a live Results reads all of its keys when it starts listening: ~1 s a million).
LISTEN_AT_ONCE = 50_000
# Without a view that paints (a hidden table), a deferred subscription starts after this.
LISTEN_FALLBACK_MS = 1000
MAX_CELLS = 20_000  # cached cell values (views ask for several roles of every cell)
MAX_PAGES = 32  # 8192 rows of objects at most in memory, whatever the class size

EditHandler = Callable[[QModelIndex, Any], bool]

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_EDIT = int(Qt.ItemDataRole.EditRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_CHECK = int(Qt.ItemDataRole.CheckStateRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_VALUE_ROLES = frozenset({_DISPLAY, _EDIT, _TOOLTIP, _CHECK, _FONT, _FOREGROUND,
                          int(ValueRole), int(TypeRole)})
_NO_FLAGS = Qt.ItemFlag.NoItemFlags
_BASE_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


class ObjectTableModel(TableSorting, QAbstractTableModel):
    """Rows of a :class:`RowSource`; columns are its properties."""

    sortChanged = Signal()
    liveChange = Signal(object)  # the TableChanges just applied
    liveChangeStarting = Signal()  # rows are about to move: views remember their place
    readError = Signal(str)  # a read failed; the browser shows it, the table keeps going
    sortStarted = Signal(str)  # a long sort runs in a worker thread: what it is doing
    sortFinished = Signal()  # done, failed or cancelled

    def __init__(self, source: RowSource | None = None, parent: Any = None, *,
                 page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES) -> None:
        super().__init__(parent)
        self.sorter = SortRunner(self)
        self.background_sort_rows = BACKGROUND_SORT_ROWS
        self.page_size = page_size
        self.max_pages = max_pages
        self.expose_when_live = False  # the browser turns it on (see the module docstring)
        self._source: RowSource | None = None
        self._columns: list[Column] = []
        self._kinds: list[str] = []
        self._flags: list[Qt.ItemFlag] = []
        self._numeric: frozenset[int] = frozenset()
        self._styles: tuple[QFont, QFont, QBrush, QBrush] | None = None
        self._total = 0
        self._exposed = 0
        self._pages: OrderedDict[int, list[Any]] = OrderedDict()
        self._cells: dict[tuple[int, int], tuple[Any, Any]] = {}
        self._listen_pending = False
        self._unsubscribe: Callable[[], None] | None = None
        self._edit_handler: EditHandler | None = None
        self._generation = 0
        self._reported_error = False
        if source is not None:
            self.set_source(source, subscribe="now")

    # -- the source ---------------------------------------------------------------------------

    @property
    def source(self) -> RowSource | None:
        return self._source

    def set_source(self, source: RowSource | None, *, subscribe: str = "auto") -> None:
        """Show ``source``. ``subscribe``: "now", "later" (after the first paint, because a
        live Results loads all of its keys when it starts listening), "auto" (now for
        small sources, later for large ones) or "never"."""
        self.cancel_sort()  # a sort still running was for the rows being replaced
        self._stop_listening()
        self.beginResetModel()
        self._source = source
        self._set_columns(source.columns if source is not None else [])
        self._invalidate()
        self._reported_error = False
        try:
            self._total = source.count() if source is not None else 0
        except Exception as exc:  # a broken file must not take the window down
            self._report(exc)
            self._total = 0
        self._exposed = min(self._total, self.page_size)
        self._generation += 1
        self.endResetModel()
        if source is None or subscribe == "never":
            return
        if subscribe == "now" or (subscribe == "auto" and self._total <= LISTEN_AT_ONCE):
            self.start_listening()
        else:
            # Started once a view has painted the first rows (see view_painted), so loading
            # the keys never delays them; or after a while if no view paints.
            self._listen_pending = True
            generation = self._generation
            QTimer.singleShot(LISTEN_FALLBACK_MS, lambda: self._deferred_listen(generation))

    def view_painted(self) -> None:
        """A view painted rows of this model: time to start a deferred subscription."""
        if self._listen_pending:
            self._listen_pending = False
            generation = self._generation
            QTimer.singleShot(0, lambda: self._deferred_listen(generation))

    def _deferred_listen(self, generation: int) -> None:
        if generation == self._generation and self._unsubscribe is None:
            self.start_listening()

    def start_listening(self) -> None:
        """Follow live changes of the source (idempotent)."""
        self._listen_pending = False
        source = self._source
        if source is None or self._unsubscribe is not None:
            return
        try:
            self._unsubscribe = source.subscribe(self._on_change, self.refresh_cells)
            # A commit seen between the first count and the subscription (the keys are
            # loaded now) would make the counts disagree: start over then.
            if source.count() != self._total:
                self.reload()
        except Exception as exc:
            self._report(exc)
            return
        if self.expose_when_live:
            self.expose_all()

    @property
    def listening(self) -> bool:
        return self._unsubscribe is not None

    def resubscription(self) -> str:
        """How a new source of the same view subscribes: at once if this one listens."""
        return "now" if self.listening else "auto"

    def _stop_listening(self) -> None:
        if self._unsubscribe is not None:
            try:
                self._unsubscribe()
            except Exception:
                log.debug("unsubscribe failed", exc_info=True)
            self._unsubscribe = None

    def close(self) -> None:
        self._stop_listening()
        self.set_source(None)

    def reload(self) -> None:
        """Re-read the whole source (a schema change, or when changes were lost)."""
        self.beginResetModel()
        self._invalidate()
        try:
            self._total = self._source.count() if self._source is not None else 0
        except Exception as exc:
            self._report(exc)
            self._total = 0
        self._exposed = min(self._total, max(self._exposed, self.page_size))
        self.endResetModel()

    def _set_columns(self, columns: list[Column]) -> None:
        self._columns = list(columns)
        self._kinds = [cell_kind(c) for c in self._columns]
        self._flags = [self._column_flags(c) for c in self._columns]
        self._numeric = frozenset(
            i for i, c in enumerate(self._columns)
            if c.prop is not None and c.prop.type in fmt.NUMERIC_TYPES and self._kinds[i] == "value"
        )

    def _invalidate(self) -> None:
        """Forget cached rows and cells (rows moved, or values changed)."""
        self._pages.clear()
        self._cells.clear()

    def set_edit_handler(self, handler: EditHandler | None) -> None:
        """Route edits through ``handler(index, value)`` (the browser's undo stack)."""
        self._edit_handler = handler

    @property
    def columns(self) -> list[Column]:
        return list(self._columns)

    def column_named(self, name: str) -> int:
        for i, column in enumerate(self._columns):
            if column.name == name:
                return i
        return -1

    @property
    def total_rows(self) -> int:
        """Rows of the source, exposed or not."""
        return self._total

    # -- paging -------------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._exposed

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._exposed < self._total

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid():
            return
        self.expose(self._exposed + self.page_size)

    def expose(self, rows: int) -> None:
        """Make at least ``rows`` rows visible to views (no row is read here)."""
        target = min(self._total, rows)
        if target <= self._exposed:
            return
        self.beginInsertRows(QModelIndex(), self._exposed, target - 1)
        self._exposed = target
        self.endInsertRows()

    def expose_all(self) -> None:
        self.expose(self._total)

    def row_object(self, row: int) -> Any:
        """The object (or collection Element) of a row, read on demand through the LRU."""
        if not 0 <= row < self._total or self._source is None:
            return None
        page_no, offset = divmod(row, self.page_size)
        page = self._pages.get(page_no)
        if page is None:
            start = page_no * self.page_size
            try:
                page = self._source.fetch(start, start + self.page_size)
            except Exception as exc:
                self._report(exc)
                return None
            self._pages[page_no] = page
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        return page[offset] if offset < len(page) else None

    @property
    def cached_rows(self) -> int:
        return sum(len(p) for p in self._pages.values())

    def find_row(self, key: int) -> int:
        """Row of the object with this key (exposing rows up to it), or -1."""
        if self._source is None:
            return -1
        try:
            row = self._source.find(key)
        except Exception as exc:
            self._report(exc)
            return -1
        if row is None:
            return -1
        self.expose(row + 1)
        return row

    # -- cells ---------------------------------------------------------------------------------

    def column(self, index: ModelIndex) -> Column | None:
        if not index.isValid() or not 0 <= index.column() < len(self._columns):
            return None
        return self._columns[index.column()]

    def cell_value(self, index: ModelIndex) -> Any:
        column = self.column(index)
        row = self.row_object(index.row()) if column is not None else None
        if row is None or column is None or self._source is None:
            return None
        return self._source.value(row, column)

    def data(self, index: ModelIndex, role: int = _DISPLAY) -> Any:
        # Views ask for every role of every visible cell on each paint: this path avoids
        # per-call enum lookups and object creation (roles are ints, fonts are cached).
        col = index.column()
        if not 0 <= col < len(self._columns):
            return None
        column = self._columns[col]
        kind = self._kinds[col]
        if role == KindRole:
            return kind
        if role == PropertyRole:
            return column.prop
        if role == RowObjectRole:
            return self.row_object(index.row())
        if role == _ALIGNMENT:
            return _RIGHT if col in self._numeric else _LEFT
        if role not in _VALUE_ROLES:
            return None
        try:
            key = (index.row(), col)
            cached = self._cells.get(key)
            if cached is None:
                value = self.cell_value(index)
                cached = (value, self._text(column, kind, value))
                if len(self._cells) >= MAX_CELLS:
                    self._cells.clear()
                self._cells[key] = cached
            return self._role_data(column, kind, cached[0], role, cached[1])
        except Exception as exc:
            if role in (_DISPLAY, _TOOLTIP):
                deleted = type(exc).__name__ == "InvalidatedObjectError"
                return "(deleted)" if deleted else f"⚠ {exc}"
            return None

    def _style(self) -> tuple[QFont, QFont, QBrush, QBrush]:
        """Italic and underlined fonts, placeholder and link brushes (per palette)."""
        if self._styles is None:
            italic = QFont()
            italic.setItalic(True)
            underline = QFont()
            underline.setUnderline(True)
            palette = QApplication.palette()
            self._styles = (
                italic, underline,
                QBrush(palette.color(QPalette.ColorRole.PlaceholderText)),
                QBrush(palette.color(QPalette.ColorRole.Link)),
            )
        return self._styles

    def _role_data(self, column: Column, kind: str, value: Any, role: int, text: str) -> Any:
        if role == _DISPLAY:
            return text
        prop = column.prop
        if role in (ValueRole, _EDIT):
            return value
        if role == _CHECK:
            if kind == "bool" and value is not None:
                return Qt.CheckState.Checked if value else Qt.CheckState.Unchecked
            return None
        if role in (_FONT, _FOREGROUND):
            italic, underline, placeholder, link = self._style()
            if value is None and kind not in ("collection", "backlinks"):
                return italic if role == _FONT else placeholder
            if kind in ("link", "collection", "backlinks") or fmt.is_object(value):
                return underline if role == _FONT else link
            return None
        if role == TypeRole:
            if prop is None:
                return "string"
            return fmt.mixed_type_of(value) if prop.type == "mixed" else prop.type
        if role == _TOOLTIP:
            type_text = fmt.type_label(prop) if prop is not None else "key"
            if isinstance(value, str):
                return f"{value[:2000]}\n— {column.name}: {type_text}"
            return f"{text}\n— {column.name}: {type_text}"
        return text

    def _text(self, column: Column, kind: str, value: Any) -> str:
        if kind == "backlinks":
            prop = column.prop
            return fmt.backlinks_text(len(value), prop.object_type or "") if prop else ""
        if kind == "collection":
            return fmt.collection_preview(value)
        return fmt.scalar_text(value)

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        col = index.column()
        if not index.isValid() or not 0 <= col < len(self._flags):
            return _NO_FLAGS
        return self._flags[col]  # per column, computed once: enum arithmetic is slow here

    def _column_flags(self, column: Column) -> Qt.ItemFlag:
        flags = _BASE_FLAGS
        source = self._source
        if source is None or not source.can_edit(column):
            return flags
        kind = cell_kind(column)
        if kind == "bool":
            return flags | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable
        if kind == "data":
            return flags  # loaded from and saved to files through the cell's menu
        if kind == "link" and not self._link_editable(column):
            return flags
        return flags | Qt.ItemFlag.ItemIsEditable

    def _link_editable(self, column: Column) -> bool:
        """A link can be typed as its target's primary key (embedded targets cannot)."""
        prop = column.prop
        realm = self._source.realm if self._source is not None else None
        if prop is None or realm is None:
            return False
        target = next((s for s in realm.schema if s.name == prop.object_type), None)
        return bool(target is not None and not target.embedded and target.primary_key)

    def is_editable(self, index: ModelIndex) -> bool:
        return bool(self.flags(index) & Qt.ItemFlag.ItemIsEditable)

    def setData(self, index: ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        column = self.column(index)
        if column is None or not self.is_editable(index):
            return False
        if role == Qt.ItemDataRole.CheckStateRole:
            state = value.value if hasattr(value, "value") else value
            value = state == Qt.CheckState.Checked.value
        elif role != Qt.ItemDataRole.EditRole:
            return False
        if self._edit_handler is not None:
            return self._edit_handler(model_index(index), value)
        return self.write_cell(index, value)

    def write_cell(self, index: ModelIndex, value: Any) -> bool:
        """Write one cell in its own transaction; the live notification updates the view."""
        column = self.column(index)
        source = self._source
        row = self.row_object(index.row())
        if column is None or source is None or row is None or source.realm is None:
            return False
        try:
            with source.realm.write():
                source.write_value(row, column, value)
        except Exception as exc:
            self._report(exc, always=True)
            return False
        if not self.listening:  # nobody will tell us: show the new value now
            self._invalidate()
            self.dataChanged.emit(index, index)
        return True

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Vertical:
            if role == Qt.ItemDataRole.DisplayRole:
                return str(section)
            return None
        if not 0 <= section < len(self._columns):
            return None
        column = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.name
        if role == Qt.ItemDataRole.ToolTipRole:
            prop = column.prop
            if prop is None:
                return "dictionary key"
            extra = " (primary key)" if prop.is_primary_key else ""
            extra += " (indexed)" if prop.indexed and not prop.is_primary_key else ""
            return f"{column.name}: {fmt.type_label(prop)}{extra}"
        if role == PropertyRole:
            return column.prop
        return None

    # -- live changes --------------------------------------------------------------------------

    def _on_change(self, changes: TableChanges) -> None:
        self.liveChangeStarting.emit()
        if changes.reset:
            self._set_columns(self._source.columns if self._source is not None else [])
            self.reload()
            self.liveChange.emit(changes)
            return
        # Rows shift with every insert and delete: the page cache is rebuilt on demand.
        self._invalidate()
        for row in sorted(changes.deletions, reverse=True):
            if row < self._exposed:
                self.beginRemoveRows(QModelIndex(), row, row)
                self._exposed -= 1
                self._total -= 1
                self.endRemoveRows()
            else:
                self._total -= 1
        for row in sorted(changes.insertions):
            if row < self._exposed or self._exposed == self._total:
                self.beginInsertRows(QModelIndex(), row, row)
                self._exposed += 1
                self._total += 1
                self.endInsertRows()
            else:
                self._total += 1
        last_column = len(self._columns) - 1
        for row in changes.modifications:
            if row < self._exposed and last_column >= 0:
                self.dataChanged.emit(self.index(row, 0), self.index(row, last_column))
        try:
            actual = self._source.count() if self._source is not None else 0
        except Exception as exc:
            self._report(exc)
            actual = self._total
        if actual != self._total:  # never expected; a reload keeps the view truthful
            log.warning("row count drifted (%s != %s); reloading", actual, self._total)
            self.reload()
        self.liveChange.emit(changes)

    def refresh_cells(self) -> None:
        """Repaint every cell (a linked object changed, the palette changed): no row moves,
        no reset."""
        self._invalidate()
        self._styles = None
        if self._exposed and self._columns:
            self.dataChanged.emit(
                self.index(0, 0), self.index(self._exposed - 1, len(self._columns) - 1)
            )

    def _report(self, exc: Exception, always: bool = False) -> None:
        log.debug("table read failed", exc_info=exc)
        if always or not self._reported_error:
            self._reported_error = True
            self.readError.emit(str(exc))
