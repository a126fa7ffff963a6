"""Time travel: a synced realm as it was at any server version, read-only.

Opened from the History panel (the server window's tab, or a synced realm's browser
dock) on a selected changeset. The window shows a read-only browser on the realm as of
that version, under a banner that says so, with a slider and a version field to move
through the history, and beside it what that version's changeset changed, object by
object (old -> new values; a click shows the object).

The changesets come from the admin API (``/admin/realms/history?raw=1``, pages of
1,000, fetched as far as needed and kept, each page decoded in the worker while the
next one downloads); :class:`~studio.ui.server.past_states.StateBuilder`
builds the states in one worker thread (a realm belongs to the thread that opened it), so
the window never waits: moving forward applies only the versions in between, moving
back starts from the nearest state kept.

After a history compaction the server keeps, for the versions up to its floor, only
the state they built (the snapshot: the first stored rows, from no client, the last
one numbered as the floor). The realm as of an earlier version cannot be rebuilt: the
slider and the field start at the floor, a version below it asked for (from the History
panel's snapshot rows, say) shows the floor's state with a note saying so, and the
floor's "what it changed" says that the versions up to it were compacted.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.sync.history import SNAPSHOT_ORIGIN
from studio.ui.browser import RealmBrowser
from studio.ui.formatting import object_key, scalar_text
from studio.ui.navigation import ViewSpec
from studio.ui.server.common import AdminTab
from studio.ui.server.link import ServerLink
from studio.ui.server.past_states import ObjectChange, PastState, StateBuilder, by_object
from studio.ui.wording import plural

PAGE = 1000  # the admin API's largest history page
NOTE_STYLE = "QLabel { color: #664d03; padding: 2px 6px; }"
BANNER_STYLE = ("QLabel { background: #fff3cd; color: #664d03; padding: 6px; "
                "font-weight: bold; border: 1px solid #ffe69c; }")
CHANGE_COLUMNS = ("Object", "Change", "Before", "After")


def banner_text(path: str, version: int) -> str:
    return f"{path} as of server version {version} (read-only)"


def object_text(class_name: str, primary_key: Any) -> str:
    """An object as the tables name it: its class and its key as the browser shows
    keys ("Message 6b177bfe…"), not Python's repr."""
    return f"{class_name} {scalar_text(primary_key)}"


def properties_text(change: ObjectChange, column: int) -> str:
    """The Before (column 0) or After (column 1) cell: one line per property."""
    if change.kind == "schema":
        return "\n".join(name for name, *_values in change.properties) if column else ""
    # A new object has no Before; a value that did not exist yet (an item added) is "—".
    return "\n".join(f"{name}: {values[column] or '—'}"
                     for name, *values in change.properties
                     if values[column] or change.kind != "created")


def below_floor_text(asked: int, floor: int) -> str:
    return (f"Server version {asked:,} was compacted: the server keeps only the realm as "
            f"of version {floor:,} (the compaction floor), shown here.")


class KeptWindows:
    """Time-travel windows opened from a panel, referenced until Qt has
    destroyed them.

    They are parentless and delete themselves on close (``WA_DeleteOnClose``:
    a deferred delete on the GUI thread). Dropping the last Python reference
    at close, before that delete ran, handed the C++ object to Python's
    cyclic collector, which may run at any later moment and in any thread (a
    worker's): a delete off the GUI thread or a second delete, and the
    process segfaulted in a later, unrelated test. So the reference goes only
    when ``destroyed`` says the C++ object is gone (the slot holds the
    dictionary, not the window, so it keeps nothing alive)."""

    def __init__(self) -> None:
        self._windows: dict[int, TimeTravelWindow] = {}
        self._tokens = itertools.count()

    def add(self, window: TimeTravelWindow) -> None:
        token = next(self._tokens)
        windows = self._windows
        windows[token] = window
        window.destroyed.connect(lambda *_args: windows.pop(token, None))

    def open(self) -> list[TimeTravelWindow]:
        """The windows not closed yet."""
        return [w for w in self._windows.values() if not w.is_closed]


class TimeTravelWindow(AdminTab):
    """A realm as of a server version (see the module docstring)."""

    stateShown = Signal(int)  # a version's state is on screen

    def __init__(self, link: ServerLink, realm_path: str, version: int,
                 latest: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(link, parent)
        self.setObjectName("timeTravelWindow")
        self.setWindowFlag(Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.realm_path = realm_path
        self.version = 0  # the version shown (0: none yet)
        self.latest = max(latest, version)
        self.floor = 0  # the compaction floor: the state up to it is all the server keeps
        self.asked_below_floor: int | None = None  # the version asked for, if compacted
        self._in_snapshot = True  # still reading the history's leading snapshot rows
        self.fetched_upto = 0
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="studio-past")
        self.builder = StateBuilder()
        self.browser: RealmBrowser | None = None
        self.changes: tuple[ObjectChange, ...] = ()  # one per object, shown in the table
        self._closed = False
        self._target: int | None = None
        self._runner: asyncio.Task[Any] | None = None

        self.banner = QLabel(banner_text(realm_path, version), self)
        self.banner.setObjectName("timeTravelBanner")
        self.banner.setStyleSheet(BANNER_STYLE)
        self.outer.addWidget(self.banner)
        self.floor_note = QLabel("", self)
        self.floor_note.setObjectName("compactedNote")
        self.floor_note.setStyleSheet(NOTE_STYLE)
        self.floor_note.setWordWrap(True)
        self.floor_note.hide()
        self.outer.addWidget(self.floor_note)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Server version", self))
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("versionSlider")
        self.field = QSpinBox(self)
        self.field.setObjectName("versionField")
        self.field.setKeyboardTracking(False)  # Enter or focus out, not every digit
        for widget in (self.slider, self.field):
            widget.setRange(1, self.latest)
            widget.setValue(version)
        # Bound methods, not lambdas holding ``self``: Qt drops those connections when
        # the window is deleted, so no signal reaches a half-destroyed window.
        self.slider.sliderReleased.connect(self._slider_released)
        self.slider.valueChanged.connect(self._slider_moved)
        self.field.valueChanged.connect(self.show_version)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.field)
        self.latest_button = QPushButton("Latest", self)
        self.latest_button.setObjectName("latestVersionButton")
        self.latest_button.clicked.connect(self._show_latest)
        bar.addWidget(self.latest_button)
        self.range_label = QLabel("", self)
        self.range_label.setObjectName("versionRange")
        bar.addWidget(self.range_label)
        self.outer.addLayout(bar)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.holder = QWidget(splitter)
        self.holder_layout = QVBoxLayout(self.holder)
        self.holder_layout.setContentsMargins(0, 0, 0, 0)
        self.waiting = QLabel("Building the realm as of this version…", self.holder)
        self.holder_layout.addWidget(self.waiting)
        splitter.addWidget(self.holder)
        side = QWidget(splitter)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        self.changes_title = QLabel("", side)
        self.changes_title.setObjectName("changesTitle")
        side_layout.addWidget(self.changes_title)
        self.changes_table = QTableWidget(0, len(CHANGE_COLUMNS), side)
        self.changes_table.setObjectName("changesTable")
        self.changes_table.setHorizontalHeaderLabels(list(CHANGE_COLUMNS))
        self.changes_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.changes_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.changes_table.verticalHeader().hide()
        self.changes_table.setWordWrap(False)
        self.changes_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.changes_table.horizontalHeader()
        # Object and Change as wide as they need (up to a limit), Before and After share
        # the rest: old -> new stay on screen at any window size (full text in tooltips).
        header.setMaximumSectionSize(220)
        for column, mode in enumerate((QHeaderView.ResizeMode.ResizeToContents,
                                       QHeaderView.ResizeMode.ResizeToContents,
                                       QHeaderView.ResizeMode.Stretch,
                                       QHeaderView.ResizeMode.Stretch)):
            header.setSectionResizeMode(column, mode)
        self.changes_table.currentCellChanged.connect(self._current_cell_changed)
        side_layout.addWidget(self.changes_table, 1)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([660, 520])
        self.outer.addWidget(splitter, 1)
        self.resize(1200, 760)
        self.setWindowTitle(banner_text(realm_path, version))
        self.show_version(version)

    # -- moving through the history ------------------------------------------------------------

    def _slider_released(self) -> None:
        self.show_version(self.slider.value())

    def _show_latest(self, _checked: bool = False) -> None:
        self.show_version(self.latest)

    def _current_cell_changed(self, row: int, _column: int, _old_row: int,
                              _old_column: int) -> None:
        self.show_change(row)

    def _slider_moved(self, value: int) -> None:
        if not self.slider.isSliderDown():  # keys, clicks on the groove: go there now
            self.show_version(value)

    def show_version(self, version: int) -> None:
        """Show the state at ``version`` (the last one asked for wins; earlier requests
        still being built are skipped)."""
        if self._closed:
            return
        version = max(1, min(version, self.latest))
        self._target = version
        if self._runner is None or self._runner.done():
            self._runner = self.spawn(self._catch_up())

    async def _catch_up(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed and self._target is not None and self._target != self.version:
            target = self._target
            self.waiting.setText(f"Building the realm as of server version {target}…")
            await self._fetch_upto(target)
            if self._target != target:
                continue  # another version was asked for meanwhile
            # Below the compaction floor there is only the snapshot: show the floor.
            self.asked_below_floor = target if target < self.floor else None
            target = max(target, self.floor)
            self._target = target
            state = await loop.run_in_executor(self.executor, self.builder.build, target)
            if self._closed:  # closed while it was built: its browser would outlive it
                return
            self._show_state(state)

    async def _fetch_upto(self, version: int) -> None:
        """Fetch (once) the changesets up to ``version``, and at least the whole
        snapshot of a compacted history (its end is the floor)."""
        while self.fetched_upto < version or self._in_snapshot:
            page = await self.link.admin.realm_history(
                self.realm_path, since=self.fetched_upto, limit=PAGE, raw=True)
            if not page:
                self._in_snapshot = False
                break
            # Decoded in the builder's worker while the next page downloads (its one
            # thread runs them in order, so they are all in before a build asks).
            self.executor.submit(self.builder.add, {
                int(row["server_version"]): base64.b64decode(row["changeset"]) for row in page})
            for row in page:  # the snapshot's rows come first, the last one is the floor
                if not self._in_snapshot:
                    break
                if int(row["origin_file_ident"]) != SNAPSHOT_ORIGIN:
                    self._in_snapshot = False
                else:
                    self.floor = int(row["server_version"])
            self.fetched_upto = int(page[-1]["server_version"])
            self.latest = max(self.latest, self.fetched_upto)
            if len(page) < PAGE:
                self._in_snapshot = False  # the whole history is in
                break
        self._update_range()

    def _update_range(self) -> None:
        for widget in (self.slider, self.field):
            widget.blockSignals(True)
            widget.setRange(max(1, self.floor), self.latest)
            widget.blockSignals(False)
        note = f"{max(1, self.floor):,} to {self.latest:,}"
        if self.floor:
            note += f" (versions up to {self.floor:,} were compacted)"
        self.range_label.setText(note)

    # -- showing ---------------------------------------------------------------------------------

    def _show_state(self, state: PastState) -> None:
        old = self.browser
        spec = old.current_spec if old is not None else None
        browser = RealmBrowser.open(state.path, read_only=True)
        browser.setWindowFlags(Qt.WindowType.Widget)
        # The file is a temporary copy: the status bar names the server's realm.
        browser.status.set_path(f"{self.realm_path} as of server version {state.version}")
        browser.status.update_size(str(state.path))
        self.holder_layout.addWidget(browser)
        self.waiting.hide()
        if spec is not None and spec.kind == "class" and browser.schema_of(spec.class_name):
            browser.navigate(ViewSpec("class", spec.class_name, query=spec.query))
        browser.show()
        if old is not None:
            old.close()
            old.deleteLater()
        self.browser = browser
        self.version = state.version
        text = banner_text(self.realm_path, state.version)
        self.banner.setText(text)
        self.setWindowTitle(text)
        for widget in (self.slider, self.field):
            widget.blockSignals(True)
            widget.setValue(state.version)
            widget.blockSignals(False)
        asked = self.asked_below_floor
        self.floor_note.setText(below_floor_text(asked, self.floor) if asked else "")
        self.floor_note.setVisible(asked is not None)
        self._fill_changes(state)
        self.stateShown.emit(state.version)

    def _fill_changes(self, state: PastState) -> None:
        # The floor's changeset is the last piece of the snapshot, not one version's change.
        compacted = self.floor > 0 and state.version <= self.floor
        instructions = () if compacted else state.changes
        self.changes = by_object(instructions)
        objects = sum(1 for c in self.changes if c.key)
        self.changes_title.setText(
            f"Server version {state.version:,} is the compaction floor: what each version "
            "up to it changed is no longer kept (the server squashed them into the state "
            "they built)" if compacted else
            f"What server version {state.version} changed: "
            f"{plural(objects, 'object')} ({plural(len(instructions), 'instruction')})")
        self.changes_title.setWordWrap(True)
        table = self.changes_table
        table.blockSignals(True)
        table.setRowCount(len(self.changes))
        for row, change in enumerate(self.changes):
            cells = (object_text(change.class_name, change.primary_key) if change.key
                     else change.class_name,
                     change.kind, properties_text(change, 0), properties_text(change, 1))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                table.setItem(row, column, item)
        table.blockSignals(False)
        table.resizeRowsToContents()

    def show_change(self, row: int) -> None:
        """Show the object a change is about in the browser, selected."""
        if not 0 <= row < len(self.changes) or self.browser is None:
            return
        change = self.changes[row]
        if not change.key:
            if self.browser.schema_of(change.class_name) is not None:
                self.browser.show_class(change.class_name)
            return
        try:
            obj = self.browser.realm.object_for_primary_key(change.class_name,
                                                            change.primary_key)
        except Exception:  # a class or object erased since: nothing to show
            obj = None
        if obj is None:
            self.report(f"{object_text(change.class_name, change.primary_key)} does not "
                        f"exist as of version {self.version} (deleted by it or later in "
                        "it).", "info", timeout_ms=6000)
            return
        self.browser.navigate(ViewSpec("class", change.class_name,
                                       focus_key=object_key(obj)))

    @property
    def is_closed(self) -> bool:
        return self._closed

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closed = True
        self.cancel_tasks()
        self.changes_table.blockSignals(True)
        if self.browser is not None:
            self.browser.close()  # closes its realm before the builder removes the file
            self.browser.deleteLater()
            self.browser = None
        # The builder's realm belongs to the worker thread: closed there.
        self.executor.submit(self.builder.close)
        self.executor.shutdown(wait=False)
        super().closeEvent(event)
