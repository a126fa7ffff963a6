"""The PostgreSQL data adapter: realms mirrored into tables, SQL changes synced back.

::

    adapter = PostgresAdapter("http://127.0.0.1:9080", username="admin", password="...",
                              data_dir="adapter-data", dsn="dbname=reports",
                              realms=r"^/stores/.*")
    await adapter.run()                      # until adapter.stop()

It is a :class:`~studio.integrations.Notifier` with one handler: the notifier
discovers the realms matching ``realms``, keeps a synced copy of each and
delivers every download (one or more whole server changesets) at least once,
in server order. Realm -> PostgreSQL: each download becomes one PostgreSQL
transaction that writes the rows of the objects it touched and stores the
download's server version in ``_studio_state``; a download whose version is
not above the stored one is skipped, so at-least-once delivery becomes
exactly-once. PostgreSQL -> realm: triggers capture other clients' changes into
``_studio_changes`` and ``NOTIFY``; the adapter writes them into its copy
(a sync client: devices receive them), then writes the realm's resulting state
back to the rows and deletes the captured changes. docs/adapter.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import set_json_loads

from studio.core import Realm
from studio.core.errors import RealmError
from studio.core.synced import get_sync_value, set_sync_values
from studio.integrations.adapter.mapping import is_mirrored, row_of, to_pg
from studio.integrations.adapter.realm_writes import (
    Action,
    Touched,
    actions_for,
    apply_action,
    realm_key,
    touch,
)
from studio.integrations.adapter.schema_adoption import adopt_classes, linking_rows
from studio.integrations.adapter.tables import Change, Tables
from studio.integrations.errors import AdapterError, BadRowError
from studio.integrations.events import RealmEvent
from studio.integrations.logs import log, log_exception
from studio.integrations.notifier import Notifier
from studio.primitives.waiting import wait_event
from studio.sync.client import SyncConfig, SyncedRealm
from studio.sync.client.config import Backoff

APPLIED_KEY = "adapter.applied_changes"
"""Kept in the adapter's realm copy, in the transaction that applies SQL changes:
the ids of the last batch applied (so a crash before they are deleted from
``_studio_changes`` does not apply them twice)."""

_Connection = psycopg.AsyncConnection[Any]


class PostgresAdapter:
    """Keeps the realms matching ``realms`` and the tables of ``pg_schema`` in step."""

    def __init__(
        self,
        server_url: str,
        *,
        username: str,
        password: str,
        data_dir: str | Path,
        dsn: str,
        realms: str,
        pg_schema: str = "public",
        batch_size: int = 1000,
        poll_interval: float = 1.0,
        rescan_interval: float = 10.0,
        retry_initial: float = 0.2,
        retry_max: float = 10.0,
        sync_config: SyncConfig | None = None,
    ) -> None:
        try:
            self.pattern = re.compile(realms)
        except re.error as exc:
            raise AdapterError(f"bad --realms pattern {realms!r}: {exc}") from None
        if not pg_schema or batch_size < 1:
            raise AdapterError("pg_schema must be a name and batch_size at least 1")
        self.dsn = dsn
        self.tables = Tables(pg_schema)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.notifier = Notifier(
            server_url, username=username, password=password, data_dir=data_dir,
            retry_initial=retry_initial, retry_max=retry_max, rescan_interval=rescan_interval,
            sync_config=sync_config,
        )  # fmt: skip
        self.notifier.on(self.pattern, self._on_event)
        self.notifier.add_watch_listener(self._on_watched)
        self._conn: _Connection | None = None
        self._lock = asyncio.Lock()
        self._realms: dict[str, SyncedRealm] = {}
        self._ready: set[str] = set()
        self._waiting: set[str] = set()
        self._schemas: dict[str, object] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = asyncio.Event()
        self.stats = MirrorStats()

    # ------------------------------------------------------------------ running

    @property
    def ready_realms(self) -> list[str]:
        """Realms loaded both ways and followed in both directions."""
        return sorted(self._ready)

    async def run(self) -> None:
        """Connect to PostgreSQL, install the tables, run until :meth:`stop`."""
        try:
            conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
            listen = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        except psycopg.Error as exc:
            raise AdapterError(f"cannot connect to PostgreSQL ({self.dsn}): {exc}") from None
        # Numbers in row images are read exactly (numeric columns, big ints).
        set_json_loads(partial(json.loads, parse_float=Decimal), conn)
        self._conn = conn
        try:
            await self.tables.install(conn)
            await listen.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.tables.channel)))
            self._spawn(self._listen(listen))
            self._spawn(self._capture_loop())
            self._spawn(self._watch_realms_with_rows())
            self._started.set()
            await self.notifier.run()
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(BaseException):
                    await task
            self._realms.clear()
            self._ready.clear()
            self._waiting.clear()
            await listen.close()
            await conn.close()
            self._conn = None

    def stop(self) -> None:
        self.notifier.stop()

    async def __aenter__(self) -> PostgresAdapter:
        task = asyncio.create_task(self.run())
        self._spawn_keep(task)
        waiter = asyncio.create_task(self.notifier.started())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()
        self._run_task = task
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
        await self._run_task

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._spawn_keep(task)

    def _spawn_keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ realms

    async def _watch_realms_with_rows(self) -> None:
        """Initial load PostgreSQL -> realm: realms the tables have rows for are
        watched (created on the server if new) and loaded like any other."""
        async with self._lock:
            paths = await self.tables.realms_with_rows(self._connection)
        await self.notifier.started()
        for path in paths:
            if self.pattern.search(path) and path not in self._realms:
                self._await_realm(path)

    def _on_watched(self, path: str, realm: SyncedRealm) -> None:
        self._realms[path] = realm
        realm.add_listener(lambda *_args: self._schema_maybe_changed(path))
        self._spawn(self._prepare(path, realm))

    async def _prepare(self, path: str, realm: SyncedRealm) -> None:
        """Once the realm is downloaded: the initial load, then both directions."""
        backoff = Backoff(0.2, 10.0)
        while True:
            try:
                await realm.sync_session.wait_for_download_completion()
                async with self._lock:
                    await self._mirror(path, realm, None)
                break
            except (AdapterError, RealmError, psycopg.Error) as exc:
                log(logging.WARNING, "adapter_prepare_failed", realm=path, error=str(exc))
                await asyncio.sleep(backoff.next_delay())
        self._ready.add(path)
        self._waiting.discard(path)
        self._wake.set()
        log(logging.INFO, "adapter_realm_ready", realm=path)

    def _schema_maybe_changed(self, path: str) -> None:
        realm = self._realms.get(path)
        if realm is None or realm.is_closed:
            return
        signature = tuple((s.name, tuple(p.name for p in s.properties)) for s in realm.schema)
        if self._schemas.get(path) != signature:
            self._schemas[path] = signature
            self._spawn(self._follow_schema(realm))

    async def _follow_schema(self, realm: Realm) -> None:
        """A class or property added in the realm: its table or column, now."""
        try:
            async with self._lock:
                await self.tables.ensure_classes(self._connection, realm.schema)
        except psycopg.Error:
            log_exception("adapter_schema_failed")  # the next download tries again

    @property
    def _connection(self) -> _Connection:
        if self._conn is None:
            raise AdapterError("the adapter is not running")
        return self._conn

    # ------------------------------------------------------------------ realm -> PostgreSQL

    async def _on_event(self, event: RealmEvent) -> None:
        realm = event.realm
        local = _server_version(realm)
        if local < event.server_version:
            # Journaled, but the download's commit was lost in a crash: the
            # server sends it again; until then the rows would be stale.
            raise AdapterError(f"{event.path}: download {event.server_version} is not in the "
                               f"realm yet (at {local}); retried")  # fmt: skip
        async with self._lock:
            await self._mirror(event.path, realm, event)

    async def _mirror(self, path: str, realm: Realm, event: RealmEvent | None) -> None:
        conn = self._connection
        await self.tables.ensure_classes(conn, realm.schema)
        local = _server_version(realm)
        started = time.perf_counter()
        async with conn.transaction(), conn.cursor() as cur:
            await self.tables.mark_own_writes(cur)
            stored = await self.tables.stored_version(cur, path)
            if stored is None or (event is None and stored < local and self._journal_lost(path)):
                # First sight of this realm (or a data directory that lost its
                # journal): everything, both ways.
                rows = await self._initial_load(cur, path, realm)
                await self.tables.store_version(cur, path, local)
            elif event is None or stored >= event.server_version:
                return  # mirrored before a crash or restart: not again
            else:
                changes = event.changes
                keys: dict[str, dict[Any, None]] = {}
                for part in (changes.inserted, changes.modified, changes.deleted):
                    for class_name, class_keys in part.items():
                        keys.setdefault(class_name, {}).update(class_keys)
                rows = await self._write_objects(cur, path, realm, keys)
                await self.tables.store_version(cur, path, event.server_version)
        self.stats.transactions += 1
        self.stats.rows += rows
        self.stats.seconds += time.perf_counter() - started
        log(logging.DEBUG, "adapter_mirrored", realm=path,
            server_version=event.server_version if event else local)  # fmt: skip

    def _journal_lost(self, path: str) -> bool:
        """No download was ever delivered from this copy (a new data directory)
        though PostgreSQL has mirrored the realm: what the journal would have
        said is unknown, so the realm is loaded in full once."""
        return self.notifier.position(path) == 0 and self.notifier.pending(path) == 0

    async def _write_objects(
        self, cur: psycopg.AsyncCursor[Any], path: str, realm: Realm,
        keys: Mapping[str, Iterable[Any]], *, follow_links: bool = True,
    ) -> int:  # fmt: skip
        """Rows = the realm's objects now, for these keys (deleted objects: no row);
        returns how many rows were written or deleted.

        Erasing an object nullifies the links to it in the realm without any
        instruction about the linking objects, so their rows are written again too.
        """
        classes = {s.name: s for s in realm.schema}
        linking: dict[str, dict[Any, None]] = {}
        written = 0
        for class_name, class_keys in keys.items():
            schema = classes.get(class_name)
            if schema is None or not is_mirrored(schema):
                continue
            assert schema.primary_key is not None
            key_prop = schema.get_property(schema.primary_key)
            columns = self.tables.mirrored_columns(schema, classes)
            rows, gone = [], []
            for key in class_keys:
                obj = realm.object_for_primary_key(class_name, key)
                if obj is None:
                    gone.append(to_pg(key_prop, key))
                else:
                    rows.append(row_of(obj, columns, path))
            await self.tables.delete(cur, class_name, schema.primary_key, path, gone)
            await self.tables.upsert(cur, class_name, schema.primary_key, columns, rows)
            written += len(rows) + len(gone)
            if gone and follow_links:
                for name, found in (await linking_rows(cur, self.tables, realm, path,
                                                       class_name, gone)).items():  # fmt: skip
                    linking.setdefault(name, {}).update(dict.fromkeys(found))
        if linking:
            written += await self._write_objects(cur, path, realm, linking, follow_links=False)
        return written

    async def _initial_load(self, cur: psycopg.AsyncCursor[Any], path: str, realm: Realm) -> int:
        """Rows the realm lacks go into the realm; then every object becomes a row
        and rows of objects the realm does not have are deleted."""
        conn = self._connection
        tables = [t for t in self.tables.columns if await self._has_rows(cur, t, path)]
        await adopt_classes(conn, self.tables, realm, tables)
        await self.tables.ensure_classes(conn, realm.schema)
        pending = []
        for table in tables:
            schema = realm.object_schema(table)
            for row in await self.tables.rows_of_realm(conn, table, path):
                assert schema.primary_key is not None
                pending.append(Change(0, path, table, "INSERT", row.get(schema.primary_key),
                                      None, None, row, None, None))  # fmt: skip
        touched, dead = self._apply_to_realm(realm, path, [(c, [Action(c, False)]) for c in pending
                                             if not _exists(realm, c)], record=False)  # fmt: skip
        await self._dead_letters(cur, path, dead)
        keys: dict[str, dict[Any, None]] = {}
        for schema in realm.schema:
            if is_mirrored(schema):
                assert schema.primary_key is not None
                keys[schema.name] = dict.fromkeys(o[schema.primary_key]
                                                  for o in realm.objects(schema.name))  # fmt: skip
        for change in pending:
            try:
                keys.setdefault(change.table, {})[realm_key(realm.object_schema(change.table),
                                                            change.key)] = None  # fmt: skip
            except BadRowError:
                pass  # its row was deleted with the dead letter
        written = await self._write_objects(cur, path, realm, keys)
        imported = sum(len(k) for k in touched.keys.values())
        log(logging.INFO, "adapter_initial_load", realm=path, imported=imported,
            objects=sum(len(k) for k in keys.values()), dead_letters=len(dead))  # fmt: skip
        return written

    async def _has_rows(self, cur: psycopg.AsyncCursor[Any], table: str, path: str) -> bool:
        await cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE _realm = %s)").format(
            self.tables.name(table)), (path,))  # fmt: skip
        row = await cur.fetchone()
        return bool(row and row[0])

    # ------------------------------------------------------------------ PostgreSQL -> realm

    async def _listen(self, listen: _Connection) -> None:
        async for _notify in listen.notifies():
            self._wake.set()

    async def _capture_loop(self) -> None:
        backoff = Backoff(0.2, 10.0)
        while True:
            try:
                while await self._drain_once():
                    pass
                backoff.reset()
            except Exception:
                log_exception("adapter_capture_failed")
                await asyncio.sleep(backoff.next_delay())
            await wait_event(self._wake, self.poll_interval)
            self._wake.clear()

    async def _drain_once(self) -> bool:
        """Apply one batch of captured changes; False when none is left to apply."""
        async with self._lock:
            conn = self._connection
            waiting = sorted(self._waiting)
            changes = await self.tables.pending_changes(conn, self.batch_size, waiting)
            if not changes:
                return False
            by_realm: dict[str, list[tuple[Change, list[Action]]]] = {}
            unmatched: list[tuple[Change, str]] = []
            for change in changes:
                paths = [p for p in dict.fromkeys((change.old_realm, change.realm)) if p]
                for path in paths:
                    if not self.pattern.search(path):
                        unmatched.append((change, f"no realm: {path!r} does not match --realms "
                                                  f"{self.pattern.pattern!r}"))  # fmt: skip
                    elif path not in self._ready:
                        self._await_realm(path)
                if any(p not in self._ready for p in paths if self.pattern.search(p)):
                    continue  # applied once its realms are loaded
                for path in paths:
                    if path in self._ready:
                        by_realm.setdefault(path, []).append((change, actions_for(change, path)))
            done = [c.id for c, _ in unmatched]
            results = []
            for path, items in by_realm.items():
                realm = self._realms[path]
                touched, dead = self._apply_to_realm(realm, path, items, record=True)
                results.append((path, realm, touched, dead))
                done.extend(c.id for c, _ in items)
            async with conn.transaction(), conn.cursor() as cur:
                await self.tables.mark_own_writes(cur)
                for change, error in unmatched:
                    await self._dead_letters(cur, change.realm or "", [(change, error)])
                for path, realm, touched, dead in results:
                    await self._dead_letters(cur, path, dead)
                    await self._write_objects(cur, path, realm, touched.keys)
                await self.tables.forget_changes(cur, sorted(set(done)))
            return bool(done)

    def _await_realm(self, path: str) -> None:
        """Changes for a realm not watched yet wait; the realm is opened (created
        on the server if it is new), loaded, then they are applied."""
        if path in self._waiting:
            return
        self._waiting.add(path)
        if path not in self._realms:
            self._spawn(self._watch(path))

    async def _watch(self, path: str) -> None:
        try:
            watched = await self.notifier.watch(path)
        except Exception as exc:
            watched, error = False, str(exc)
        else:
            error = "the realm could not be opened"
        if not watched:
            # Its changes wait; they are offered again (and the realm opened
            # again) after the rescan interval.
            log(logging.ERROR, "adapter_realm_unavailable", realm=path, error=error)
            await asyncio.sleep(self.notifier.rescan_interval)
            self._waiting.discard(path)
            self._wake.set()

    def _apply_to_realm(
        self, realm: Realm, path: str, items: list[tuple[Change, list[Action]]], *, record: bool
    ) -> tuple[Touched, list[tuple[Change, str]]]:
        """Write changes into the realm in one transaction that also records which
        were applied and which rejected (``record``); a change the realm cannot
        take is a dead letter. If the core fails half-way through an object, every
        change gets a transaction of its own."""
        before = _Applied.read(realm)
        touched = Touched()
        dead: list[tuple[Change, str]] = []
        fresh = []
        for change, actions in items:
            if change.id not in before.ids:
                fresh.append((change, actions))
                continue
            # Applied before a crash or a failed PostgreSQL transaction: the
            # realm has it; what follows in PostgreSQL is done again.
            for action in actions:
                touch(realm, action, touched)
            if change.id in before.dead:
                dead.append((change, before.dead[change.id]))
        applied = _Applied(before.ids & {c.id for c, _ in items}, dict(before.dead))
        try:
            with realm.write():
                for change, actions in fresh:
                    self._apply_change(realm, change, actions, touched, dead, applied)
                if record:
                    applied.write(realm)
            return touched, dead
        except (RealmError, ValueError, TypeError):
            pass  # rolled back: one transaction per change
        touched, dead = Touched(), [d for d in dead if d[0].id in before.ids]
        for change, actions in items:
            if change.id in before.ids:
                for action in actions:
                    touch(realm, action, touched)
        applied = _Applied(before.ids & {c.id for c, _ in items}, dict(before.dead))
        for change, actions in fresh:
            try:
                with realm.write():
                    self._apply_change(realm, change, actions, touched, dead, applied)
                    if record:
                        applied.write(realm)
            except (RealmError, ValueError, TypeError) as exc:
                dead.append((change, str(exc)))
                applied.dead[change.id] = str(exc)
                applied.ids.add(change.id)
                for action in actions:
                    touch(realm, action, touched)
                if record:
                    with realm.write():
                        applied.write(realm)
        return touched, dead

    @staticmethod
    def _apply_change(
        realm: Realm, change: Change, actions: list[Action], touched: Touched,
        dead: list[tuple[Change, str]], applied: _Applied,
    ) -> None:  # fmt: skip
        applied.ids.add(change.id)
        try:
            for action in actions:
                apply_action(realm, action, touched)
        except BadRowError as exc:
            dead.append((change, str(exc)))
            applied.dead[change.id] = str(exc)

    async def _dead_letters(
        self, cur: psycopg.AsyncCursor[Any], path: str, dead: list[tuple[Change, str]]
    ) -> None:
        """Keep each rejected row with the reason; its table row goes back to what
        the realm has (the write-back that follows) or away."""
        for change, error in dead:
            log(logging.ERROR, "adapter_dead_letter", realm=path, table=change.table,
                op=change.op, key=change.key, row=change.row, error=error)  # fmt: skip
            await self.tables.dead_letter(cur, change, error)
            if change.op != "DELETE" and change.realm == path:
                key = self.tables.primary_keys.get(change.table)
                if key is not None:
                    await cur.execute(sql.SQL("DELETE FROM {} WHERE _realm = %s AND to_jsonb({})"
                                              " = %s::jsonb").format(
                        self.tables.name(change.table), sql.Identifier(key)),
                        (path, json.dumps(change.key, default=str)))  # fmt: skip


@dataclass(slots=True)
class MirrorStats:
    """Realm -> PostgreSQL so far: mirroring transactions (one per download, one
    per initial load), the rows they wrote or deleted, and the seconds inside them
    (reading the realm, writing, committing)."""

    transactions: int = 0
    rows: int = 0
    seconds: float = 0.0


class _Applied:
    """The captured changes of the last batch written into a realm (ids) and
    those rejected (id -> why), stored in the realm in the same transaction."""

    def __init__(self, ids: set[int], dead: dict[int, str]) -> None:
        self.ids = ids
        self.dead = dead

    @classmethod
    def read(cls, realm: Realm) -> _Applied:
        text = get_sync_value(realm, APPLIED_KEY)
        if not text:
            return cls(set(), {})
        data = json.loads(text)
        return cls(set(data["ids"]), {int(k): str(v) for k, v in data["dead"].items()})

    def write(self, realm: Realm) -> None:
        text = json.dumps({"ids": sorted(self.ids), "dead": self.dead}, separators=(",", ":"))
        set_sync_values(realm, {APPLIED_KEY: text})


def _server_version(realm: Realm) -> int:
    return int(get_sync_value(realm, "server_version") or 0)


def _exists(realm: Realm, change: Change) -> bool:
    try:
        key = realm_key(realm.object_schema(change.table), change.key)
        return realm.object_for_primary_key(change.table, key) is not None
    except (BadRowError, RealmError):
        return False
