"""Realm state files kept up to date in a worker process.

A realm file holds the history (the truth, appended by the server) and the
realm's current state (derived: the history applied through the core). The
state is background work, and applying changesets is Python work: on the
server's event-loop process it would compete for the interpreter lock with
the merge, so it runs in a worker process of its own (``StateWorker``), on
another core. The worker reads the stored history from the file, applies it
and reports :class:`RealmStats`; nothing crosses the process boundary but
file names, numbers and stats.

The worker and the server's commit thread both write the file: they take
turns through :class:`WriteLock`, a lock file next to the realm file (SQLite's
own busy handler would make an append wait behind a state transaction in
sleeps of up to 100 ms; the lock hands over the moment the holder is done).

Everything here also runs on a thread instead (``StateWorker(in_process=True)``),
the same functions, for platforms or tests that want no child process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TypeVar

from studio.core import Realm, RealmError
from studio.core.synced import apply_remote, get_sync_value, set_sync_values
from studio.primitives.instructions import Changeset, Instruction
from studio.server.limits import DEFAULT_OPEN_REALM_FILES
from studio.server.storage.base import RealmStats
from studio.server.storage.errors import (
    StorageError,
    out_of_file_descriptors,
    too_many_open_files,
)
from studio.sync.changeset import decode_changeset
from studio.sync.errors import SyncError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

STATE_CURSOR: Final = "server_version"
"""The sync value in the state realm: the history is applied up to here."""

STATE_ERROR: Final = "state_error"
"""The sync value in the state realm: why a changeset was stepped over (the last one)."""

_T = TypeVar("_T")


# --------------------------------------------------------------------------- the write lock


class WriteLock:
    """One writer at a time on a realm file, across processes and threads
    (each holder opens the lock file itself: an advisory lock on an open file
    description excludes every other one, in this process too)."""

    def __init__(self, file: Path) -> None:
        self._path = lock_file(file)
        self._fd: int | None = None
        self._threads = threading.Lock()  # one holder per WriteLock object

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            _set_lock(self._fd, locked=True)
            try:
                yield
            finally:
                _set_lock(self._fd, locked=False)

    def close(self) -> None:
        with self._threads:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


LOCK_SUFFIX: Final = ".lock"


def lock_file(file: Path) -> Path:
    return Path(str(file) + LOCK_SUFFIX)


def _set_lock(fd: int, *, locked: bool) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX if locked else fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_LOCK if locked else msvcrt.LK_UNLCK, 1)


# --------------------------------------------------------------------------- in the worker


class _StateFile:
    """One realm file's state, open in the worker."""

    def __init__(self, file: Path, path: str) -> None:
        self.file, self.path = file, path
        try:
            # The core creates the file (its layout first: it refuses to adopt
            # an SQLite file that has tables but no realm metadata).
            self.realm = Realm.open(file)
        except (RealmError, OSError) as exc:
            # Out of descriptors, the core cannot read the file's header and
            # calls it "not a realm file": say what is really wrong.
            if out_of_file_descriptors(exc):
                raise too_many_open_files(f"cannot open the state of {path} ({file})") from None
            raise StorageError(f"cannot open the state of {path} ({file}): {exc}") from None
        self.lock = WriteLock(file)
        self._history: sqlite3.Connection | None = None
        self.error: str | None = get_sync_value(self.realm, STATE_ERROR)
        self.last_stats: RealmStats | None = None
        self.last_used = time.monotonic()
        self.history_elsewhere: tuple[int, int] | None = None
        """For a cache file (the history is in another store, which passes its
        rows in): that store's latest server version and history bytes."""

    def history(self) -> sqlite3.Connection:
        if self._history is None:
            try:
                self._history = sqlite3.connect(str(self.file), isolation_level=None)
            except sqlite3.Error as exc:
                if out_of_file_descriptors():
                    raise too_many_open_files(f"cannot read the history of {self.path}") from None
                raise StorageError(f"cannot read the history of {self.path}: {exc}") from None
        return self._history

    def read(self, since: int, limit: int) -> list[tuple[int, Changeset]]:
        try:
            rows = (
                self.history()
                .execute(
                    "SELECT server_version, changeset FROM _server_history "
                    "WHERE server_version > ? ORDER BY server_version LIMIT ?",
                    (since, limit),
                )
                .fetchall()
            )
            return [(int(version), decode_changeset(blob)) for version, blob in rows]
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the history of {self.path}: {exc}") from None
        except SyncError as exc:
            raise StorageError(f"the stored history of {self.path} is damaged: {exc}") from None

    def latest_version(self) -> int:
        if self.history_elsewhere is not None:
            return self.history_elsewhere[0]
        try:
            row = self.history().execute("SELECT max(server_version) FROM _server_history")
            return int(row.fetchone()[0] or 0)
        except sqlite3.Error:
            return 0  # no history table yet

    def state_version(self) -> int:
        return int(get_sync_value(self.realm, STATE_CURSOR, "0") or 0)

    def update(self, max_changesets: int) -> RealmStats:
        return self.apply(self.read(self.state_version(), max_changesets))

    def apply(self, entries: Sequence[tuple[int, Changeset]]) -> RealmStats:
        if entries:
            instructions: list[Instruction] = []
            for _, changeset in entries:
                instructions.extend(changeset.instructions)
            try:
                with self.lock.held():
                    apply_remote(self.realm, instructions, cursors={STATE_CURSOR: entries[-1][0]})
            except sqlite3.OperationalError as exc:  # the file, not a changeset: later
                raise StorageError(f"cannot write the state of {self.path}: {exc}") from None
            except Exception:
                # One changeset the core cannot apply (whatever it raises) must
                # not stop the state for good: apply them one by one and step
                # over the culprit, recording why (state_error).
                self._apply_one_by_one(entries)
        previous = self.last_stats
        if previous is not None and entries:
            state_version, latest = self.state_version(), self.latest_version()
            if state_version < latest:
                # Still behind, and called again at once: counting the objects
                # of every class after each batch would cost as much as the
                # batch. The count is refreshed once the state caught up.
                return dataclasses.replace(
                    previous,
                    server_version=latest,
                    state_version=state_version,
                    state_error=self.error,
                )
        return self.stats()

    def _apply_one_by_one(self, entries: Sequence[tuple[int, Changeset]]) -> None:
        # The cursor moves past a changeset that cannot be applied with the next one
        # applied (in its transaction), or once at the end: a crash in between only
        # means trying the culprits again, which changes nothing.
        skipped: int | None = None
        for version, changeset in entries:
            try:
                with self.lock.held():
                    apply_remote(
                        self.realm, changeset.instructions, cursors={STATE_CURSOR: version}
                    )
                skipped = None
            except sqlite3.OperationalError as exc:
                raise StorageError(f"cannot write the state of {self.path}: {exc}") from None
            except Exception as exc:
                self.error = (
                    f"server version {version} could not be applied: {type(exc).__name__}: {exc}"
                )
                skipped = version
                with self.lock.held():  # kept, so that a restart still reports it
                    set_sync_values(self.realm, {STATE_ERROR: self.error})
        if skipped is not None:
            with self.lock.held():
                set_sync_values(self.realm, {STATE_CURSOR: skipped})

    def stats(self) -> RealmStats:
        realm = self.realm
        realm.refresh()
        objects = sum(len(realm.objects(c.name)) for c in realm.schema if not c.embedded)
        size, modified = file_size(self.file)
        if self.history_elsewhere is not None:
            size = self.history_elsewhere[1]
        stats = self.last_stats = RealmStats(
            size_bytes=size,
            objects=objects,
            server_version=self.latest_version(),
            state_version=self.state_version(),
            state_error=self.error,
            modified=modified,
        )
        return stats

    def close(self) -> None:
        self.realm.close()
        if self._history is not None:
            self._history.close()
        self.lock.close()


# Open state files of this worker, by file name, least recently used first.
# Only the worker's one thread touches them (a core Realm belongs to the
# thread that opened it). Each holds several file descriptors: at most
# _MAX_OPEN stay open, and those unused for _IDLE_CLOSE seconds are closed
# (a closed one is opened again on its next use; nothing is lost, the
# state's progress is in its file).
_OPEN: OrderedDict[str, _StateFile] = OrderedDict()
_MAX_OPEN = DEFAULT_OPEN_REALM_FILES
IDLE_CLOSE: Final = 300.0
_idle_close = IDLE_CLOSE


def configure_cache(max_open: int, idle_close: float = IDLE_CLOSE) -> None:
    """How many state files the worker keeps open, and for how long unused
    (run in the worker: its initializer)."""
    global _MAX_OPEN, _idle_close
    _MAX_OPEN, _idle_close = max(1, max_open), idle_close


def _state(file: str, path: str) -> _StateFile:
    now = time.monotonic()
    state = _OPEN.get(file)
    if state is None:
        _close_unused(now, room_for=1)
        state = _OPEN[file] = _StateFile(Path(file), path)
    else:
        state.last_used = now
        _OPEN.move_to_end(file)
        _close_unused(now, room_for=0)
    state.last_used = now
    return state


def _close_unused(now: float, room_for: int) -> None:
    """Close the least recently used states beyond the cap, and those
    unused for longer than the idle time."""
    while _OPEN:
        file, oldest = next(iter(_OPEN.items()))
        if len(_OPEN) + room_for <= _MAX_OPEN and now - oldest.last_used < _idle_close:
            return
        del _OPEN[file]
        with contextlib.suppress(Exception):  # closing must not fail the caller's work
            oldest.close()


def open_state_files() -> list[str]:
    """The state files open in the worker, least recently used first."""
    return list(_OPEN)


def open_state(file: str, path: str) -> None:
    """Open (creating it if need be) the state of ``path`` in ``file``."""
    _state(file, path)


def update_state(file: str, path: str, max_changesets: int) -> RealmStats:
    """Apply up to ``max_changesets`` stored changesets to the state."""
    return _state(file, path).update(max_changesets)


def state_stats(file: str, path: str) -> RealmStats:
    return _state(file, path).stats()


def state_cursor(file: str, path: str) -> int:
    """How far the state (of a cache file) follows the history."""
    return _state(file, path).state_version()


def apply_history(
    file: str, path: str, rows: Sequence[tuple[int, bytes]], latest: int, size: int
) -> RealmStats:
    """Apply history ``rows`` (server version, changeset wire bytes) read
    from another store to the cache file's state; ``latest`` and ``size``:
    that store's latest version and history bytes (for the stats)."""
    state = _state(file, path)
    state.history_elsewhere = (latest, size)
    applied = state.state_version()  # rows read before another update moved on
    try:
        entries = [
            (int(version), decode_changeset(blob)) for version, blob in rows if version > applied
        ]
    except SyncError as exc:
        raise StorageError(f"the stored history of {path} is damaged: {exc}") from None
    return state.apply(entries)


def cached_stats(file: str, path: str, latest: int, size: int) -> RealmStats:
    state = _state(file, path)
    state.history_elsewhere = (latest, size)
    return state.stats()


def close_state(file: str) -> None:
    state = _OPEN.pop(file, None)
    if state is not None:
        state.close()


def file_stats(file: str) -> RealmStats:
    """Stats of a realm file that is not open (read-only)."""
    path = Path(file)
    size, modified = file_size(path)
    try:
        realm = Realm.open(path, read_only=True)
    except (RealmError, OSError) as exc:
        if out_of_file_descriptors(exc):
            raise too_many_open_files(f"cannot read {file}") from None
        raise StorageError(f"cannot read {file}: {exc}") from None
    try:
        objects = sum(len(realm.objects(c.name)) for c in realm.schema if not c.embedded)
        state_version = int(get_sync_value(realm, STATE_CURSOR, "0") or 0)
        state_error = get_sync_value(realm, STATE_ERROR)
    finally:
        realm.close()
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT max(server_version) FROM _server_history").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        row = (0,)  # created but never opened for sync: no history table yet
    return RealmStats(
        size, objects, int(row[0] or 0), state_version, state_error, modified=modified
    )


def file_size(file: Path) -> tuple[int, float | None]:
    """Bytes of a realm file with its WAL, and when either last changed."""
    size, modified = 0, None
    for suffix in ("", "-wal"):
        try:
            st = Path(str(file) + suffix).stat()
        except FileNotFoundError:
            continue
        size += st.st_size
        modified = st.st_mtime if modified is None else max(modified, st.st_mtime)
    return size, modified


def _start_worker(parent: int, max_open: int) -> None:
    configure_cache(max_open)
    _follow_parent(parent)


def _follow_parent(parent: int) -> None:
    """In the worker: exit when the server process is gone (a SIGKILLed
    server cannot shut its worker down, and the worker's own pipe ends would
    keep it waiting for work forever). SQLite makes the abrupt exit safe."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


# --------------------------------------------------------------------------- in the server


class StateWorker:
    """Runs the functions above in a child process (started by :meth:`start`
    or when first needed, started again if it dies), or on one thread with
    ``in_process=True``. Calls block until done."""

    def __init__(
        self, *, in_process: bool = False, max_open: int = DEFAULT_OPEN_REALM_FILES
    ) -> None:
        self._in_process = in_process
        self._max_open = max_open
        self._executor: Executor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the worker now, without waiting for it. The server calls this when
        it starts: a spawned interpreter takes 0.5 s of CPU to import what it runs
        (seconds on a loaded machine), which the first realm opened would otherwise
        wait for, with its first client's session."""
        self._get().submit(os.getpid)

    def call(self, fn: Callable[..., _T], *args: object) -> _T:
        executor = self._get()
        try:
            return executor.submit(fn, *args).result()
        except BrokenProcessPool as exc:
            with self._lock:
                if self._executor is executor:
                    self._executor = None  # the next call starts a new worker
            raise StorageError(
                f"the state worker process died ({exc}); it will be restarted"
            ) from None

    def _get(self) -> Executor:
        with self._lock:
            if self._executor is None:
                if self._in_process:
                    self._executor = ThreadPoolExecutor(
                        1,
                        thread_name_prefix="studio-state",
                        initializer=configure_cache,
                        initargs=(self._max_open,),
                    )
                else:
                    # spawn: the server has threads, and a forked child would
                    # inherit their locks in whatever state they were.
                    self._executor = ProcessPoolExecutor(
                        1,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=_start_worker,
                        initargs=(os.getpid(), self._max_open),
                    )
            return self._executor

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
