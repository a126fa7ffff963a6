"""Realms in memory: one :class:`ServerHistory` per realm, shared by every
connection bound to it, plus its storage and the sessions bound to it.

A realm is loaded on its first bind (the history is rebuilt from storage),
stays while sessions are bound, and is dropped from memory after it has been
idle for a while. Its state file is brought up to date in the background a
little after each commit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from studio.primitives.instructions import Changeset
from studio.server.logs import log
from studio.server.storage.base import (
    ClientIdent,
    LoadedHistory,
    RealmStats,
    RealmStorage,
    RealmWrite,
    ServerStorage,
    StoredEntry,
)
from studio.server.storage.errors import StorageError
from studio.sync.errors import SyncError
from studio.sync.history import HistoryEntry, RemoteChangeset, ServerHistory
from studio.sync.protocol.spliced import EncodedChangesets
from studio.sync.upload_check import SchemaIndex, check_changesets

if TYPE_CHECKING:
    from studio.server.connection import SyncConnection

_T = TypeVar("_T")

DEFAULT_MAX_CLOCK_SKEW: Final = 300.0
"""Seconds a changeset's timestamp may be ahead of the server's clock."""


class Runner(Protocol):
    def __call__(self, fn: Callable[..., _T], /, *args: Any) -> Awaitable[_T]: ...


def build_history(loaded: LoadedHistory) -> ServerHistory:
    """Rebuild the in-memory history from stored rows.

    ServerHistory has no bulk-load entry point, so each stored changeset is
    integrated again as an upload based on the version just before it: with
    nothing concurrent to transform against, integration appends it
    unchanged, rebuilding the same versions, client records and schema.
    """
    history = ServerHistory()
    for _ in range(loaded.max_file_ident):
        history.allocate_file_ident()
    rows = loaded.entries
    base = loaded.base_version
    if base:
        # Compacted: the rows up to the floor are its snapshot.
        snapshot = [s.entry for s in rows if s.entry.server_version <= base]
        try:
            history.restore_compaction(base, snapshot, loaded.client_floors)
        except SyncError as exc:
            raise StorageError(f"the stored snapshot does not load: {exc}") from exc
        rows = [s for s in rows if s.entry.server_version > base]
    replay(history, rows)
    for ident, progress in loaded.progress.items():
        history.record_progress(ident, progress)
    return history


def replay(history: ServerHistory, stored: Iterable[StoredEntry]) -> None:
    """Append stored versions that follow the history's latest one (from a
    load, or stored by another server process since)."""
    for item in stored:
        entry = item.entry
        if not history.knows_file_ident(entry.origin_file_ident):
            history.add_file_ident(entry.origin_file_ident)
        changeset = dataclasses.replace(
            entry.changeset,
            origin_file_ident=entry.origin_file_ident,
            client_version=entry.client_version,
            last_integrated_server_version=history.latest_version,
            timestamp_ms=entry.timestamp_ms,
        )
        result = history.integrate(
            entry.origin_file_ident, [changeset], now_ms=entry.integrated_at_ms
        )
        if len(result.entries) != 1 or result.entries[0].server_version != entry.server_version:
            raise StorageError(
                f"stored history does not replay: server version {entry.server_version} "
                "is missing or out of order"
            )


def schema_of(history: ServerHistory) -> SchemaIndex:
    """The realm's schema as of the history's latest version."""
    return SchemaIndex.from_changesets(
        e.changeset for e in itertools.chain(history.snapshot(), history.entries())
    )


class LoadedRealm:
    def __init__(
        self,
        path: str,
        store: RealmStorage,
        history: ServerHistory,
        idents: dict[int, ClientIdent] | None = None,
        max_clock_skew: float | None = DEFAULT_MAX_CLOCK_SKEW,
        schema: SchemaIndex | None = None,
    ) -> None:
        self.path = path
        self.store = store
        self.history = history
        self.idents: dict[int, ClientIdent] = dict(idents or {})
        """Whom each client file ident was issued to, with its salt (idents.py)."""
        self.schema = schema_of(history) if schema is None else schema
        """The schema as of ``_schema_version`` (caught up on each upload check)."""
        self._schema_version = history.latest_version
        self.max_clock_skew_ms = None if max_clock_skew is None else int(max_clock_skew * 1000)
        self.encoded = EncodedChangesets()
        """Downloaded changesets encoded once for all the connections."""
        self.sessions: dict[SyncConnection, set[int]] = {}
        self.refs = 0
        """Sessions bound plus binds in progress."""
        self.last_activity = time.time()
        self.stats: RealmStats | None = None
        self.failed = False
        self._pending = RealmWrite()
        self._touched: set[int] = set()
        # Sequence numbers of the commit barrier (see durability.py): the
        # latest change handed to the commit thread, the latest stored.
        self.unstored_seq = 0
        self.stored_seq = 0
        self.durable_version = history.latest_version
        """The history is stored up to this server version."""
        self._state_task: asyncio.Task[None] | None = None
        self._state_again = False

    # -- sessions

    def attach(self, conn: SyncConnection, session: int) -> None:
        self.sessions.setdefault(conn, set()).add(session)
        self.last_activity = time.time()

    def detach(self, conn: SyncConnection, session: int) -> None:
        sessions = self.sessions.get(conn)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self.sessions[conn]

    def bound(self) -> Iterator[tuple[SyncConnection, int]]:
        for conn, sessions in list(self.sessions.items()):
            for session in list(sessions):
                yield conn, session

    @property
    def session_count(self) -> int:
        return sum(len(s) for s in self.sessions.values())

    # -- uploads

    def check_upload(self, changesets: Sequence[Changeset], now_ms: int) -> None:
        """Refuse an upload that does not fit the realm's schema or is stamped
        too far ahead of ``now_ms`` (raises a ChangesetError; see
        studio.sync.upload_check). Runs before the upload reaches the history."""
        check_changesets(
            self.current_schema(),
            changesets,
            now_ms=now_ms,
            max_clock_skew_ms=self.max_clock_skew_ms,
        )

    def current_schema(self) -> SchemaIndex:
        """The schema as of the history's latest version (caught up now)."""
        history = self.history
        if self._schema_version < history.latest_version:
            # Only schema instructions matter, and they are rare: the scan
            # is a type test per instruction of what was appended since.
            add = self.schema.add_instructions
            first = max(self._schema_version, history.base_version) + 1
            for version in range(first, history.latest_version + 1):
                add(history.entry(version).changeset.instructions)
            self._schema_version = history.latest_version
        return self.schema

    # -- pending writes

    def add_entries(self, entries: tuple[HistoryEntry, ...], user: str, ident: int) -> None:
        # Encoded once, for the storage and for every download of it.
        encode = self.encoded.encode
        self._pending.entries.extend(
            StoredEntry(e, user, encode(RemoteChangeset(e.server_version, 0, e.changeset)))
            for e in entries
        )
        self._touched.add(ident)
        self.last_activity = time.time()

    def add_ident(self, record: ClientIdent) -> None:
        """Record an issued (or adopted) ident: at once for the next bind,
        on disk with the next commit (before the ident message leaves)."""
        self.idents[record.ident] = record
        self._pending.new_idents.append(record)

    def take_write(self) -> RealmWrite:
        write, self._pending = self._pending, RealmWrite()
        for ident in self._touched:
            write.progress[ident] = self.history.client_progress(ident)
        self._touched.clear()
        return write

    @property
    def dirty(self) -> bool:
        """Something of it is not stored yet."""
        return bool(self._pending) or self.stored_seq < self.unstored_seq


class RealmHub:
    def __init__(
        self,
        storage: ServerStorage,
        run: Runner,
        state_delay: float,
        idle_unload: float,
        max_clock_skew: float = DEFAULT_MAX_CLOCK_SKEW,
    ) -> None:
        self._max_clock_skew = max_clock_skew
        self.state_errors: dict[str, str] = {}
        """Realm path -> why its state file stopped following its history
        (shown by /health and the admin API; see _state_failed)."""
        self._transient: set[str] = set()
        self.on_state_error: Callable[[str, str], None] | None = None
        """Called with (realm path, error) when a realm's state fails (admin event)."""
        self._storage = storage
        self._run = run
        self._state_delay = state_delay
        self._idle_unload = idle_unload
        self._realms: dict[str, LoadedRealm] = {}
        self._loading: dict[str, asyncio.Future[LoadedRealm]] = {}

    def __len__(self) -> int:
        return len(self._realms)

    def get(self, path: str) -> LoadedRealm | None:
        return self._realms.get(path)

    def loaded(self) -> list[LoadedRealm]:
        return list(self._realms.values())

    async def acquire(self, path: str) -> LoadedRealm:
        """The loaded realm at ``path`` (registered already), with a reference
        held for the caller (:meth:`release` it)."""
        realm = self._realms.get(path)
        if realm is None:
            future = self._loading.get(path)
            if future is None:
                future = asyncio.get_running_loop().create_task(self._load(path))
                self._loading[path] = future
                future.add_done_callback(lambda _: self._loading.pop(path, None))
            realm = await asyncio.shield(future)
        realm.refs += 1
        return realm

    def release(self, realm: LoadedRealm) -> None:
        realm.refs = max(0, realm.refs - 1)
        realm.last_activity = time.time()

    async def _load(self, path: str) -> LoadedRealm:
        started = time.perf_counter()
        store = await self._run(self._storage.open_realm, path)
        try:
            loaded = await self._run(store.load)
            history = await self._run(build_history, loaded)
            schema = await self._run(schema_of, history)  # a scan of every instruction
        except (StorageError, SyncError) as exc:
            await self._run(store.close)
            raise StorageError(f"cannot load realm {path}: {exc}") from exc
        except BaseException:
            await self._run(store.close)
            raise
        realm = LoadedRealm(
            path,
            store,
            history,
            loaded.idents,
            max_clock_skew=self._max_clock_skew,
            schema=schema,
        )
        self._realms[path] = realm
        log(
            20,
            "realm_loaded",
            realm=path,
            server_version=history.latest_version,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        self.schedule_state(realm, delay=0)
        return realm

    # -- state upkeep

    def schedule_state(self, realm: LoadedRealm, delay: float | None = None) -> None:
        """Bring the realm's state file up to date soon (debounced)."""
        if realm.failed:
            return
        if realm._state_task is not None and not realm._state_task.done():
            realm._state_again = True
            return
        wait = self._state_delay if delay is None else delay
        realm._state_task = asyncio.get_running_loop().create_task(
            self._update_state(realm, wait), name=f"state {realm.path}"
        )

    async def _update_state(self, realm: LoadedRealm, delay: float) -> None:
        await asyncio.sleep(delay)
        while True:
            realm._state_again = False
            try:
                stats = await self._run(realm.store.update_state, STATE_BATCH)
            except Exception as exc:
                # Never silent, never fatal to the server: reported, and the
                # next commit tries again (a dead worker is restarted).
                text = str(exc) if isinstance(exc, StorageError) else f"{type(exc).__name__}: {exc}"
                self._state_failed(realm.path, text, transient=True)
                return
            if stats.state_error:
                self._state_failed(realm.path, stats.state_error, transient=False)
            elif realm.path in self._transient:
                self._transient.discard(realm.path)
                self.state_errors.pop(realm.path, None)
                log(20, "state_recovered", realm=realm.path)
            realm.stats = stats
            if stats.state_version < stats.server_version:
                await asyncio.sleep(0)  # more to apply: go on, letting others in between
                continue
            if not realm._state_again:
                return
            await asyncio.sleep(self._state_delay)

    def _state_failed(self, path: str, error: str, *, transient: bool) -> None:
        if self.state_errors.get(path) == error:
            return  # reported already
        self.state_errors[path] = error
        if transient:
            self._transient.add(path)
        else:
            self._transient.discard(path)
        log(40, "state_update_failed" if transient else "state_diverged", realm=path, error=error)
        if self.on_state_error is not None:
            self.on_state_error(path, error)

    def forget_state_error(self, path: str) -> None:
        """The realm is gone (deleted): its state error with it."""
        self.state_errors.pop(path, None)
        self._transient.discard(path)

    async def stats(self, path: str) -> RealmStats:
        realm = self._realms.get(path)
        if realm is not None:
            stats = realm.stats = await self._run(realm.store.stats)
        else:
            stats = await self._run(self._storage.realm_stats, path)
        error = self.state_errors.get(path)
        if error is not None and stats.state_error is None:
            stats = dataclasses.replace(stats, state_error=error)
        return stats

    # -- unloading

    async def unload_idle(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for realm in list(self._realms.values()):
            if (
                realm.refs == 0
                and not realm.dirty
                and now - realm.last_activity >= self._idle_unload
                and (realm._state_task is None or realm._state_task.done())
            ):
                await self.unload(realm)

    async def unload(self, realm: LoadedRealm) -> None:
        """Drop ``realm`` from memory and close its storage (callers make sure
        nothing is bound and nothing is pending)."""
        if self._realms.get(realm.path) is realm:
            del self._realms[realm.path]
        task = realm._state_task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        await self._run(realm.store.close)
        log(10, "realm_unloaded", realm=realm.path)

    def forget(self, realm: LoadedRealm) -> None:
        """Drop a realm whose storage failed: the next bind reloads it from
        what is stored (the in-memory history may hold unstored changesets)."""
        realm.failed = True
        if self._realms.get(realm.path) is realm:
            del self._realms[realm.path]

    async def close(self) -> None:
        for realm in list(self._realms.values()):
            await self.unload(realm)


STATE_BATCH: Final = 128
"""Changesets applied to a realm's state file per transaction."""
