"""Moving between views in the browser window: classes, queries, sorting, links,
collections and backlinks, back and forward through the history.

A mixin of :class:`studio.ui.browser.RealmBrowser`; a view is described by a
:class:`~studio.ui.navigation.ViewSpec`, turned into a row source and installed in the
table, where the history entry's row and scroll position are restored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt, QTimer

from studio.core import QueryError
from studio.ui.formatting import is_object, object_class, object_key
from studio.ui.navigation import HistoryEntry, ViewSpec
from studio.ui.sources import BacklinkSource, CollectionSource, ResultsSource, RowSource
from studio.ui.table_model import KindRole, PropertyRole, RowObjectRole, ValueRole, cell_data

if TYPE_CHECKING:
    from PySide6.QtCore import Signal
    from PySide6.QtWidgets import QLabel, QMainWindow

    from studio.core import Realm
    from studio.ui.class_list import ClassList
    from studio.ui.navigation import History
    from studio.ui.query_bar import QueryBar, QueryLineEdit
    from studio.ui.table_model import ObjectTableModel
    from studio.ui.table_view import ObjectTableView

    # To mypy the mixin is the window it is mixed into.
    _Window = QMainWindow
else:
    _Window = object


class BrowserNavigation(_Window):
    """Navigation of the browser window (needs the attributes declared below)."""

    # A sort _build_source left for the worker, started once the view is installed.
    _sort_after_install: tuple[str, bool] | None = None
    # The view (and history entry) whose row and scroll wait for that sort.
    _restore_after_sort: tuple[ViewSpec, HistoryEntry | None] | None = None

    if TYPE_CHECKING:
        realm: Realm
        read_only: bool
        history: History
        model: ObjectTableModel
        table: ObjectTableView
        class_list: ClassList
        query_bar: QueryBar
        query_edit: QueryLineEdit
        view_title: QLabel
        current_spec: ViewSpec | None
        viewShown: Signal

        def show_message(self, text: str, level: str = ..., timeout_ms: int | None = ...,
                         topic: str = ...) -> None: ...
        def report_error(self, exc: BaseException) -> None: ...
        def schema_of(self, class_name: str) -> Any: ...
        def update_status(self) -> None: ...

    # -- navigation -----------------------------------------------------------------------------

    def navigate(self, spec: ViewSpec) -> bool:
        """Show a view and remember it in the history."""
        self._save_position()
        source = self._build_source(spec)
        if source is None:
            return False
        entry = self.history.push(spec)
        self._install(spec, source, entry)
        return True

    def go_back(self) -> None:
        if not self.history.can_go_back():
            return
        self._save_position()
        entry = self.history.back()
        if entry is not None:
            self._show(entry.spec, entry)

    def go_forward(self) -> None:
        if not self.history.can_go_forward():
            return
        self._save_position()
        entry = self.history.forward()
        if entry is not None:
            self._show(entry.spec, entry)

    def _save_position(self) -> None:
        entry = self.history.current
        if entry is None:
            return
        current = self.table.currentIndex()
        entry.row = current.row() if current.isValid() else -1
        entry.column = max(0, current.column())
        entry.scroll = self.table.verticalScrollBar().value()
        entry.typing = False

    def _show(self, spec: ViewSpec, entry: HistoryEntry | None = None,
              keep_position: bool = False) -> bool:
        if keep_position:
            self._save_position()
            entry = self.history.current
        source = self._build_source(spec)
        if source is None:
            return False
        self._install(spec, source, entry)
        return True

    def _build_source(self, spec: ViewSpec) -> RowSource | None:
        realm = self.realm
        schema = self.schema_of(spec.class_name)
        if schema is None:
            self.show_message(f"This realm has no class {spec.class_name!r} (any more).", "error")
            return None
        try:
            if spec.kind == "class":
                results = realm.objects(spec.class_name)
                query = ""
                if spec.query:
                    try:
                        results = results.filtered(spec.query)
                        query = spec.query
                    except QueryError as exc:
                        self.query_edit.set_query(spec.query)
                        self.query_bar.show_error(exc.message, exc.position)
                unsorted = results
                sort = spec.sort
                self._sort_after_install = None
                if sort is not None and len(unsorted) >= self.model.background_sort_rows:
                    # Many rows: shown unsorted, then sorted off the UI thread, as a
                    # header click does (see _install).
                    self._sort_after_install = sort
                    sort = None
                elif sort is not None:
                    results = results.sorted(sort[0], reverse=not sort[1])
                return ResultsSource(results, realm=realm, read_only=self.read_only,
                                     unsorted=unsorted, sort=sort, query=query)
            owner = realm.object_for_key(spec.class_name, spec.owner_key or 0)
            if owner is None:
                self.show_message(f"That {spec.class_name} object was deleted.", "warning")
                return None
            prop = schema.get_property(spec.prop or "")
            if spec.kind == "backlinks":
                return BacklinkSource(owner, prop, realm=realm, read_only=self.read_only)
            return CollectionSource(owner, prop, realm=realm, read_only=self.read_only)
        except Exception as exc:
            self.report_error(exc)
            return None

    def _install(self, spec: ViewSpec, source: RowSource, entry: HistoryEntry | None) -> None:
        self._restore_after_sort = None
        self.current_spec = spec
        self.model.set_source(source)
        self.table.show_sort_indicator()
        self.class_list.select_class(spec.class_name if spec.kind == "class" else None)
        is_class = spec.kind == "class"
        self.query_bar.setEnabled(is_class)
        if self.query_edit.text().strip() != spec.query:
            self.query_edit.set_query(spec.query)
        if not spec.query or self._query_ok(spec):
            self.query_bar.clear_error()
        self.view_title.setText(source.title if not is_class else spec.describe())
        # Widths are kept per class (and per collection): a query or a sort keeps them,
        # going back to a class finds them as they were left.
        self.table.show_columns(f"{source.title}|" + ",".join(c.name for c in source.columns))
        pending_sort, self._sort_after_install = self._sort_after_install, None
        if pending_sort is not None and self._start_background_sort(spec, pending_sort,
                                                                    entry):
            self.update_status()
            self.viewShown.emit(spec)
            return
        self._restore_position(spec, entry)
        self.update_status()
        self.viewShown.emit(spec)

    def _start_background_sort(self, spec: ViewSpec, sort: tuple[str, bool],
                               entry: HistoryEntry | None) -> bool:
        """Sort the view just installed in the worker; its row and scroll position are
        restored once the sorted rows are in. False if the column is gone."""
        column = self.model.column_named(sort[0])
        if column < 0:
            return False
        order = Qt.SortOrder.AscendingOrder if sort[1] else Qt.SortOrder.DescendingOrder
        self.model.sort(column, order)
        if self.model.sorter.busy:
            self._restore_after_sort = (spec, entry)
            self.table.show_sort_indicator()
        else:  # (sorted in place after all)
            self._restore_position(spec, entry)
        return True

    def _restore_position(self, spec: ViewSpec, entry: HistoryEntry | None) -> None:
        if spec.focus_key is not None:
            row = self.model.find_row(spec.focus_key)
            if row >= 0:
                self.table.go_to_row(row, 0)
        elif entry is not None and (entry.row >= 0 or entry.scroll > 0):
            self.model.expose(max(entry.row + 1, entry.scroll + 100))
            if entry.row >= 0:
                self.table.go_to_row(entry.row, entry.column)
            scroll = entry.scroll
            self.table.verticalScrollBar().setValue(scroll)
            QTimer.singleShot(0, lambda: self.table.verticalScrollBar().setValue(scroll))

    def _query_ok(self, spec: ViewSpec) -> bool:
        try:
            self.check_query(spec.class_name, spec.query)
        except QueryError:
            return False
        return True

    def check_query(self, class_name: str, query: str) -> None:
        """Raise QueryError if ``query`` cannot run on the class (a realm that evaluates
        queries slowly only compiles it here)."""
        self.realm.objects(class_name).filtered(query)

    def show_class(self, name: str, query: str = "") -> bool:
        return self.navigate(ViewSpec("class", name, query=query))

    def focus_query(self) -> None:
        self.query_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.query_edit.selectAll()

    def apply_query(self, query: str, submitted: bool) -> None:
        """Apply the query bar's text to the class on screen (errors stay in the bar)."""
        spec = self.current_spec
        if spec is None or spec.kind != "class":
            return
        try:
            if query:
                self.check_query(spec.class_name, query)
        except QueryError as exc:
            self.query_bar.show_error(exc.message, exc.position)
            return
        except Exception as exc:
            self.query_bar.show_error(str(exc), 0)
            return
        self.query_bar.clear_error()
        entry = self.history.current
        new_spec = ViewSpec("class", spec.class_name, query=query, sort=spec.sort)
        if new_spec == spec:
            if entry is not None and submitted:
                entry.typing = False
            return
        source = self._build_source(new_spec)
        if source is None:
            return
        if entry is not None and entry.typing:
            self.history.replace_current(new_spec)  # still typing: one entry per query
        else:
            self._save_position()
            entry = self.history.push(new_spec, typing=True)
        if submitted and self.history.current is not None:
            self.history.current.typing = False
        self._install(new_spec, source, None)

    def _sort_changed(self) -> None:
        spec = self.current_spec
        source = self.model.source
        if spec is None or spec.kind != "class" or source is None:
            return
        new_spec = ViewSpec("class", spec.class_name, query=spec.query, sort=source.sort_state)
        self.current_spec = new_spec
        self.history.replace_current(new_spec)
        restore, self._restore_after_sort = self._restore_after_sort, None
        if restore is not None and restore[0] == new_spec:
            self._restore_position(*restore)

    def follow(self, index: QModelIndex) -> None:
        """Follow a link, or open a collection or backlinks, as a new view."""
        if not index.isValid():
            return
        kind = cell_data(index, KindRole)
        prop = cell_data(index, PropertyRole)
        row = cell_data(index, RowObjectRole)
        value = cell_data(index, ValueRole)
        if kind in ("collection", "backlinks") and is_object(row) and prop is not None:
            self.navigate(ViewSpec("backlinks" if kind == "backlinks" else "collection",
                                   object_class(row), owner_key=object_key(row), prop=prop.name))
        elif is_object(value):
            self.navigate(ViewSpec("class", object_class(value), focus_key=object_key(value)))
