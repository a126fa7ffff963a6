"""The browser on a genuine Realm Core file: read-only, with a banner and a conversion.

:class:`RealmCoreBrowser` is the normal :class:`~studio.ui.browser.RealmBrowser` over a
:class:`~studio.realmfile.browse.CoreFileRealm`: the same class list (internal tables behind
"Show system classes"), table, link following, collections and backlinks, history,
copy and export. Editing is off. Queries (the query bar, the quick filter row) and sorts
are scans in Python over the file's objects (:mod:`studio.realmfile.query`), run in the
table's worker thread with a busy message and Cancel; their answers are kept (the last
16) so going back to a query shows it at once.

A banner at the top names the format ("Realm Core file, format 24, read-only") and
offers "Convert to editable copy…": it asks for a new file, runs
:func:`studio.realmfile.convert.convert` on a worker thread (the window stays usable;
the banner shows the progress, polled from a Qt timer, and a Cancel button) and opens
the converted realm in a new browser window.

Cancel takes effect when ``convert`` next reports progress (after each batch of 2,000
objects): the worker stops there and deletes the partial copy.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QWidget,
)

from studio.core import QueryError
from studio.realmfile.browse import (
    QUERY_NOTE,
    READ_ONLY_NOTE,
    CoreFileRealm,
    CoreSelection,
    format_label,
)
from studio.realmfile.query import compile_query
from studio.ui import errors
from studio.ui.browser import RealmBrowser
from studio.ui.corefile import CoreResultsSource, core_positions
from studio.ui.navigation import HistoryEntry, ViewSpec
from studio.ui.sources import RowSource
from studio.ui.wording import plural

log = logging.getLogger(__name__)
PROGRESS_POLL_MS = 100
CANCEL_WAIT_S = 30.0  # closing a window waits this long at most for a cancelled conversion


class _Cancelled(Exception):
    """Raised from convert's progress callback to stop it."""


class ConversionJob:
    """``convert(src, dst)`` on a worker thread; the GUI reads its state from a timer.

    Nothing here touches Qt: the thread only updates plain attributes (under a lock).
    """

    def __init__(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        self.src = str(src)
        self.dst = Path(dst)
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._done = 0
        self._total = 0
        self.report: Any = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._run, name="studio-convert", daemon=False)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def progress(self) -> tuple[int, int]:
        with self._lock:
            return self._done, self._total

    def _progress(self, done: int, total: int) -> None:
        with self._lock:
            self._done, self._total = done, total
        if self._cancel.is_set():
            raise _Cancelled

    def _run(self) -> None:
        from studio.realmfile.convert import convert

        created = False
        try:
            if self._cancel.is_set():
                raise _Cancelled
            created = not self.dst.exists()  # convert refuses an existing file
            self.report = convert(self.src, self.dst, progress=self._progress)
        except _Cancelled:
            self.cancelled = True
        except BaseException as exc:  # reported by the window, never raised into Qt
            log.debug("conversion failed", exc_info=exc)
            self.error = exc
        if (self.cancelled or self.error is not None) and created:
            self._remove_partial()
        self.finished.set()

    def _remove_partial(self) -> None:
        for path in (self.dst, Path(f"{self.dst}-wal"), Path(f"{self.dst}-shm"),
                     Path(f"{self.dst}-journal")):
            try:
                path.unlink(missing_ok=True)
            except OSError:
                log.warning("could not remove the partial copy %s", path, exc_info=True)


class FormatBanner(QFrame):
    """The bar above the table: the file's format, the conversion action and its progress."""

    convertRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("formatBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#formatBanner { background: #ede7f6; border: 1px solid #b39ddb;"
            " border-radius: 4px; } #formatBanner QLabel { color: #311b92; }"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel(text, self)
        self.label.setObjectName("formatBannerText")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("convertProgress")
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        layout.addWidget(self.progress)
        self.convert_button = QPushButton("Convert to editable copy…", self)
        self.convert_button.setObjectName("convertButton")
        self.convert_button.setToolTip(
            "Copy every class and object into a new studio realm that can be edited and "
            "synced; this file is not changed")
        self.convert_button.clicked.connect(lambda _c=False: self.convertRequested.emit())
        layout.addWidget(self.convert_button)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelConvertButton")
        self.cancel_button.setToolTip("Stop the conversion (after the current batch of "
                                      "objects) and delete the partial copy")
        self.cancel_button.clicked.connect(lambda _c=False: self.cancelRequested.emit())
        self.cancel_button.hide()
        layout.addWidget(self.cancel_button)
        self._base = text

    @property
    def text(self) -> str:
        return self.label.text()

    def set_note(self, note: str = "") -> None:
        self.label.setText(f"{self._base} — {note}" if note else self._base)

    def show_progress(self, target: str) -> None:
        self.set_note(f"converting to {target}…")
        self.progress.setRange(0, 0)  # busy until the first report
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.convert_button.setEnabled(False)

    def set_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def end_progress(self, note: str = "") -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.convert_button.setEnabled(True)
        self.set_note(note)


def default_destination(src: str) -> Path:
    """``NAME-editable.realm`` next to the file, or in the documents folder when the
    file's folder cannot be written (a bundled asset, a read-only corpus)."""
    source = Path(src)
    folder = source.parent
    if not os.access(folder, os.W_OK):
        docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        folder = Path(docs) if docs else Path.home()
    candidate = folder / f"{source.stem}-editable.realm"
    n = 2
    while candidate.exists():
        candidate = folder / f"{source.stem}-editable-{n}.realm"
        n += 1
    return candidate


ANSWERS_KEPT = 16  # query answers kept per window: going back to one shows it at once


class RealmCoreBrowser(RealmBrowser):
    """A read-only browser on a genuine Realm Core file (see the module docstring)."""

    conversionFinished = Signal(object)  # the new browser, or None (failed or cancelled)
    queryFinished = Signal()  # a query's scan came back (or failed) and is shown

    # CoreFileRealm stands in for a studio Realm (the read-only part) without being one.
    realm: CoreFileRealm  # type: ignore[assignment]

    def __init__(self, realm: CoreFileRealm, *, manager: Any = None,
                 parent: QWidget | None = None) -> None:
        # (class, query, sort) -> (matching positions, ordered positions)
        self._answers: dict[tuple[str, str, tuple[str, bool] | None],
                            tuple[list[int], list[int]]] = {}
        self._scan_after_install: ViewSpec | None = None
        super().__init__(realm, manager=manager, parent=parent)  # type: ignore[arg-type]
        self.poll_timer.stop()  # a snapshot: nothing to watch
        self.conversion: ConversionJob | None = None
        self.converted_browsers: list[RealmBrowser] = []  # opened without a manager
        self._convert_timer = QTimer(self)
        self._convert_timer.setInterval(PROGRESS_POLL_MS)
        self._convert_timer.timeout.connect(self._check_conversion)
        central = self.centralWidget()
        assert central is not None  # RealmBrowser.__init__ set it
        self.banner = FormatBanner(format_label(realm.format_version), central)
        self.banner.convertRequested.connect(self.convert_dialog)
        self.banner.cancelRequested.connect(self.cancel_conversion)
        layout = central.layout()
        assert isinstance(layout, QBoxLayout)  # RealmBrowser stacks its parts in a column
        layout.insertWidget(0, self.banner)
        self.convert_action = self._action("Convert to editable copy…", self.convert_dialog,
                                           None, "convertAction",
                                           "Copy this file into an editable studio realm")
        file_menu = self.menuBar().actions()[0].menu()  # a QObject to PySide6's stubs
        if isinstance(file_menu, QMenu):
            file_menu.insertAction(file_menu.actions()[1], self.convert_action)
        self.status.set_read_only(True, READ_ONLY_NOTE)
        self.query_bar.setToolTip(QUERY_NOTE)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False,
             manager: Any = None) -> RealmCoreBrowser:
        """Raises the reader's :class:`~studio.realmfile.RealmFileError` (encrypted, too
        old, damaged) for :func:`studio.ui.errors.describe` to show."""
        return cls(CoreFileRealm.open(path), manager=manager)

    # -- what differs from a studio realm ---------------------------------------------------

    def refresh_classes(self, count: bool = True) -> None:
        classes = [(s.name, s.embedded) for s in self.realm.schema]
        self.class_list.set_classes(classes, {}, system=self.realm.system_names)
        if count:
            self.update_counts()

    def update_counts(self) -> None:
        failed: BaseException | None = None
        for name in self.realm.class_names:
            try:
                self.class_list.set_count(name, self.class_count(name))
            except Exception as exc:  # a damaged table: the others still count
                failed = failed or exc
        if failed is not None:
            self.report_error(failed)

    def poll(self) -> None:
        """Nothing to look for: the file is read as it was when it was opened."""

    # -- queries and sorts: scans in the worker ------------------------------------------------

    def check_query(self, class_name: str, query: str) -> None:
        """Compile only: the scan runs in the worker (see :meth:`_build_source`)."""
        compile_query(query, class_name, self.realm.object_schema)

    def _build_source(self, spec: ViewSpec) -> RowSource | None:
        if spec.kind != "class":
            return super()._build_source(spec)  # collections and backlinks: the same
        if self.schema_of(spec.class_name) is None:
            self.show_message(f"This file has no class {spec.class_name!r}.", "error")
            return None
        try:
            objects = self.realm.objects(spec.class_name)
            if spec.query:
                try:
                    self.check_query(spec.class_name, spec.query)
                except QueryError as exc:
                    self.query_edit.set_query(spec.query)
                    self.query_bar.show_error(exc.message, exc.position)
                    spec = replace(spec, query="")
            if not spec.query and spec.sort is None:
                return CoreResultsSource(objects)
            answer = self._answers.get((spec.class_name, spec.query, spec.sort))
            if answer is not None:
                return self._answer_source(spec, answer)
            # Scanned in the worker once the view is installed; empty meanwhile.
            self._scan_after_install = spec
            return CoreResultsSource(CoreSelection(self.realm, spec.class_name, [],
                                                   spec.query), query=spec.query)
        except Exception as exc:
            self.report_error(exc)
            return None

    def _answer_source(self, spec: ViewSpec, answer: tuple[list[int], list[int]]
                       ) -> CoreResultsSource:
        matching, ordered = answer
        name = spec.class_name
        unsorted: Any = (CoreSelection(self.realm, name, matching, spec.query) if spec.query
                         else self.realm.objects(name))
        rows = (CoreSelection(self.realm, name, ordered, spec.query) if spec.sort is not None
                else unsorted)
        return CoreResultsSource(rows, unsorted=unsorted, sort=spec.sort, query=spec.query)

    def _install(self, spec: ViewSpec, source: RowSource, entry: HistoryEntry | None) -> None:
        scan, self._scan_after_install = self._scan_after_install, None
        super()._install(spec, source, entry)
        if scan is not None:
            self._start_scan(scan, entry)

    def _start_scan(self, spec: ViewSpec, entry: HistoryEntry | None) -> None:
        path, name, query, sort = self.realm.path, spec.class_name, spec.query, spec.sort
        total = self.realm.count(name)
        what = (f"Running the query on {plural(total, name + ' object')}…" if query
                else f"Sorting {plural(total, 'object')} by {sort[0] if sort else ''}…")

        def done(answer: Any, error: Exception | None) -> None:
            self.message_bar.clear("sort")
            self.queryFinished.emit()
            if error is not None:
                self.report_error(error)
                return
            self._keep_answer((name, query, sort), answer)
            if self.current_spec == spec:
                self._install(spec, self._answer_source(spec, answer), entry)

        self.model.sorter.start_job(
            lambda cancelled: core_positions(path, name, query, sort, cancelled), done)
        self.message_bar.show_message(what, "info", actions=[("Cancel", self.cancel_scan)],
                                      topic="sort", busy=True)

    def cancel_scan(self) -> None:
        """Stop a query's scan: the class is shown whole again."""
        spec = self.current_spec
        self.model.sorter.cancel()
        self.message_bar.clear("sort")
        if spec is None or spec.kind != "class":
            return
        whole = ViewSpec("class", spec.class_name)
        self.history.replace_current(whole)
        self._install(whole, CoreResultsSource(self.realm.objects(spec.class_name)), None)
        self.show_message("The query was stopped: the whole class is shown.", "info")

    def _keep_answer(self, key: tuple[str, str, tuple[str, bool] | None],
                     answer: tuple[list[int], list[int]]) -> None:
        self._answers[key] = answer
        while len(self._answers) > ANSWERS_KEPT:
            self._answers.pop(next(iter(self._answers)))

    def export_models(self, path: str, language: str) -> bool:
        from studio.ui.codegen import LANGUAGES, generate

        try:
            Path(path).write_text(generate(self.realm.plain_schema, language), encoding="utf-8")
        except Exception as exc:
            self.report_error(exc)
            return False
        self.show_message(f"Wrote {LANGUAGES[language]} models to {path}.", "success", 4000)
        return True

    # -- converting ---------------------------------------------------------------------------

    @property
    def converting(self) -> bool:
        return self.conversion is not None and not self.conversion.finished.is_set()

    def convert_dialog(self) -> None:
        """Ask for the new file (a save dialog), then convert."""
        if self.converting:
            self.show_message("A conversion is running already.", "info", 3000)
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Convert to an editable copy", str(default_destination(self.realm.path)),
            "Realm files (*.realm)", options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.start_conversion(path)

    def start_conversion(self, destination: str | os.PathLike[str]) -> bool:
        """Convert into ``destination`` (a new file) on a worker thread; False (with a
        message) when it cannot start."""
        if self.converting:
            self.show_message("A conversion is running already.", "info", 3000)
            return False
        target = Path(destination)
        if not target.suffix:
            target = target.with_suffix(".realm")
        if target.resolve() == Path(self.realm.path).resolve():
            self.show_message("Choose a new file for the editable copy: this file stays as "
                              "it is.", "error")
            return False
        if target.exists():
            self.show_message(f"{target} exists already; choose a new file name (nothing was "
                              "overwritten).", "error")
            return False
        if not target.parent.is_dir():
            self.show_message(f"The folder {target.parent} does not exist; choose another "
                              "place.", "error")
            return False
        self.conversion = ConversionJob(self.realm.path, target)
        self.banner.show_progress(target.name)
        self.convert_action.setEnabled(False)
        self.conversion.start()
        self._convert_timer.start()
        return True

    def cancel_conversion(self) -> None:
        if self.converting and self.conversion is not None:
            self.conversion.cancel()
            self.banner.cancel_button.setEnabled(False)
            self.banner.set_note("cancelling (after the current batch)…")

    def _check_conversion(self) -> None:
        job = self.conversion
        if job is None:
            self._convert_timer.stop()
            return
        self.banner.set_progress(*job.progress)
        if not job.finished.is_set():
            return
        self._convert_timer.stop()
        job.thread.join()
        self.convert_action.setEnabled(True)
        if self._closing:
            return
        if job.cancelled:
            self.banner.end_progress()
            self.show_message("Conversion cancelled; the partial copy was deleted.", "info")
            self.conversionFinished.emit(None)
            return
        if job.error is not None:
            self.banner.end_progress()
            self.show_message("The conversion failed: "
                              + errors.describe(job.error, str(job.dst)), "error")
            self.conversionFinished.emit(None)
            return
        self.banner.end_progress(f"converted to {job.dst.name}")
        browser = self._open_converted(job)
        self.conversionFinished.emit(browser)

    def _open_converted(self, job: ConversionJob) -> RealmBrowser | None:
        report = job.report
        try:
            if self.manager is not None and hasattr(self.manager, "open_path"):
                browser: RealmBrowser | None = self.manager.open_path(job.dst)
            else:
                browser = RealmBrowser.open(job.dst)
                self.converted_browsers.append(browser)
                browser.show()
        except Exception as exc:
            self.report_error(exc)
            return None
        if browser is None:
            return None
        browser.raise_()
        browser.activateWindow()
        self.show_message(f"Converted {plural(report.objects, 'object')} into {job.dst}; it "
                          "is open in its own window.", "success")
        notes = [f"Converted from {Path(self.realm.path).name} "
                 f"({format_label(self.realm.format_version).replace(', read-only', '')}): "
                 f"{report.objects:,} objects."]
        if report.generated_primary_keys:
            generated = ", ".join(f"{c}.{p}" for c, p in report.generated_primary_keys.items())
            notes.append(f"Classes without a primary key got a new objectId one: {generated}.")
        notes.extend(w[:1].upper() + w[1:] + ("" if w.endswith(".") else ".")
                     for w in report.warnings)
        browser.show_message(" ".join(notes), "warning" if report.warnings else "success")
        return browser

    def closeEvent(self, event: QCloseEvent) -> None:
        job = self.conversion
        if job is not None and not job.finished.is_set():
            job.cancel()  # stops after the current batch and deletes the partial copy
            job.finished.wait(CANCEL_WAIT_S)
        self._convert_timer.stop()
        super().closeEvent(event)
