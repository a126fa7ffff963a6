"""The Realm: one open realm file, its schema, transactions, listeners and refresh."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from studio.core.errors import (
    ClosedRealmError,
    FileFormatError,
    SchemaError,
    WrongTransactionStateError,
)
from studio.core.history import decode_instructions
from studio.core.layout_upgrade import upgrade_layout
from studio.core.migration import apply_additive, reconcile_schema
from studio.core.models import Model, realm_name
from studio.core.notify import NotificationToken
from studio.core.objects import CreatedObjects, RealmObject
from studio.core.query import QueryPlan
from studio.core.results import Results
from studio.core.schema import NO_DEFAULT, ObjectSchema, parse_object_schema, parse_schema
from studio.core.storage import (
    FORMAT,
    HISTORY_TABLE,
    KEY,
    META_TABLE,
    UPGRADABLE_FORMATS,
    column,
    configure_connection,
)
from studio.core.store import Store
from studio.core.transactions import collect_external_changes, commit, rollback
from studio.core.writer import Writer
from studio.primitives import instructions as ins

SQLITE_MAGIC = b"SQLite format 3\x00"

MigrationCallback = Callable[["Realm", "Realm"], None]
SchemaInput = Iterable[Mapping[str, Any] | ObjectSchema | type[Model]] | str


def sniff_file(path: Path) -> str:
    """'missing', 'empty', 'sqlite', 'realm-core' or 'other'."""
    try:
        with path.open("rb") as fh:
            head = fh.read(24)
    except FileNotFoundError:
        return "missing"
    except OSError:  # a directory, a permission problem: not something we can open
        return "other"
    if not head:
        return "empty"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if len(head) >= 20 and head[16:20] == b"T-DB":
        return "realm-core"
    return "other"


class Realm:
    """An open realm file. Use :meth:`Realm.open`; close it or use it as a context manager."""

    def __init__(self) -> None:  # use Realm.open
        # Everything the realm's objects, results and transactions share (see store.py).
        self._store = Store(self)

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        schema: SchemaInput | None = None,
        schema_version: int | None = None,
        migration: MigrationCallback | None = None,
        read_only: bool = False,
        record_history: bool = False,
        durability: str = "normal",
        timeout: float = 30.0,
    ) -> Realm:
        """Open (or create) a realm file.

        ``schema`` uses Realm JS's JSON form (list of class dicts, or its JSON text), or
        :class:`~studio.core.models.Model` classes.
        Without a schema an existing file's schema is used. ``record_history=True``
        records every write transaction's instructions for sync. ``durability``
        ``"full"`` fsyncs every commit (the server uses it); ``"normal"`` survives a
        crash of the process, as SQLite's WAL mode does. ``timeout`` is how many seconds
        to wait for another process's write lock before failing.
        """
        realm = cls()
        store = realm._store
        file_path = Path(path)
        store.path = str(file_path)
        kind = sniff_file(file_path)
        if kind == "realm-core":
            raise FileFormatError(
                f"{file_path} is a Realm Core file written by a Realm SDK, not a studio realm; "
                f"read it with `studio inspect {file_path}` or make an editable copy with "
                f"`studio convert {file_path} OUT.realm`"
            )
        if kind == "other":
            raise FileFormatError(
                f"{file_path} is not a realm file (neither a studio realm nor a Realm Core file)"
            )
        if read_only and kind in ("missing", "empty"):
            raise FileFormatError(f"{file_path} does not exist; a read-only realm cannot create it")
        parsed = parse_schema(schema) if schema is not None else None
        try:
            if read_only:
                uri = file_path.resolve().as_uri() + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout)
            else:
                conn = sqlite3.connect(str(file_path), isolation_level=None, timeout=timeout)
        except sqlite3.Error as exc:
            raise FileFormatError(f"cannot open {file_path}: {exc}") from None
        store.sqlite = conn
        store.read_only = read_only
        store.closed = False
        try:
            configure_connection(conn)
            if not read_only:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=" + ("FULL" if durability == "full" else "NORMAL"))
            found = _check_format(store, kind)
            if found in UPGRADABLE_FORMATS and not read_only:
                upgrade_layout(store)
            reconcile_schema(store, parsed, schema_version, migration, record_history, _snapshot)
            store.defaults = _defaults_of(parsed or [])
            store.begin_read()
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            store.closed = True
            raise
        return realm

    # -- schema -----------------------------------------------------------------------------

    @property
    def schema(self) -> list[ObjectSchema]:
        """The classes of this realm (``ObjectSchema``: name, primary_key, embedded, properties)."""
        return list(self._store.schema)

    def object_schema(self, class_name: str) -> ObjectSchema:
        return self._store.info(class_name).schema

    @property
    def schema_version(self) -> int:
        return int(self._store.meta("schema_version") or 0)

    @property
    def path(self) -> str:
        return self._store.path

    @property
    def storage_format(self) -> str:
        """The file's storage layout (docs/storage-layout.md): ``studio-2``; a file of an
        earlier layout opened read-only keeps (and reports) its own."""
        return str(self._store.meta("format"))

    @property
    def read_only(self) -> bool:
        return self._store.read_only

    @property
    def is_closed(self) -> bool:
        return self._store.closed

    @property
    def is_in_transaction(self) -> bool:
        return self._store.writer is not None

    @property
    def records_history(self) -> bool:
        return self._store.recording

    @property
    def file_ident(self) -> int:
        return self._store.file_ident

    @property
    def lock_timeout(self) -> float:
        """Seconds a write waits for another connection's lock before failing (``timeout``
        of :meth:`open`; the Studio lowers it so that a locked file never freezes it)."""
        self._store.check_open()
        (millis,) = self._store.conn.execute("PRAGMA busy_timeout").fetchone()
        return int(millis) / 1000

    @lock_timeout.setter
    def lock_timeout(self, seconds: float) -> None:
        self._store.check_open()
        self._store.conn.execute(f"PRAGMA busy_timeout = {max(0, round(seconds * 1000))}")

    def update_schema(self, classes: SchemaInput) -> None:
        """Add classes or optional properties (additive changes) inside a write transaction."""
        writer = self._store.current_writer()
        entries: Any = json.loads(classes) if isinstance(classes, str) else classes
        # Links may point at classes the realm already has: checked against the merged schema.
        parsed = [c if isinstance(c, ObjectSchema) else parse_object_schema(c) for c in entries]
        apply_additive(self._store, parsed, writer)

    # -- transactions -----------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self, *, record: bool = True) -> Iterator[Realm]:
        """A write transaction: everything inside commits together, or not at all.

        Listeners run after the commit. An exception inside rolls everything back.
        ``record=False`` keeps the transaction out of the sync history (for changes
        that came from the server); its listeners see ``local=False``.
        """
        store = self._store
        store.check_open()
        if store.read_only:
            raise WrongTransactionStateError(
                f"the realm {store.path} was opened read-only; it cannot be written"
            )
        if store.writer is not None:
            raise WrongTransactionStateError(
                "a write transaction is already open on this realm; nested write() is not allowed"
            )
        store.end_read()
        store.conn.execute("BEGIN IMMEDIATE")
        external = collect_external_changes(store)
        writer = Writer(store, record=store.recording and record)
        store.writer = writer
        try:
            yield self
        except BaseException:
            store.writer = None
            if store.closed:
                raise  # close() inside the transaction has rolled it back
            rollback(store, writer)
            if external:
                store.notifier.deliver(external, local=False)
            raise
        if store.closed:
            raise ClosedRealmError(
                f"the realm {store.path} was closed inside its write transaction; "
                "nothing of the transaction was written"
            )
        try:
            writer.flush()
            commit(store, writer)
        except BaseException:
            store.writer = None
            rollback(store, writer)
            raise
        store.writer = None
        store.begin_read()
        if external:
            external.merge(writer.changes)
            changes = external
        else:
            changes = writer.changes
        store.notifier.deliver(changes, local=record)

    def refresh(self) -> bool:
        """Catch up with commits of other connections and processes; fire their listeners.

        Returns True when there was something new.
        """
        store = self._store
        store.check_open()
        if store.writer is not None:
            return False
        store.end_read()
        store.begin_read()
        changes = collect_external_changes(store)
        if not changes:
            return False
        store.notifier.deliver(changes, local=False)
        return True

    def close(self) -> None:
        store = self._store
        if store.closed:
            return
        if store.writer is not None:
            store.writer = None
            with contextlib.suppress(sqlite3.Error):
                store.conn.execute("ROLLBACK")
        with contextlib.suppress(sqlite3.Error):
            store.end_read()
        store.conn.close()
        store.closed = True
        # Cached rows and keys are stale now: the next access checks and raises.
        store.version += 1
        store.reset_version += 1

    def __enter__(self) -> Realm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            if not self._store.closed:
                self.close()

    def __repr__(self) -> str:
        return f"<Realm {self._store.path}{' (closed)' if self._store.closed else ''}>"

    # -- objects ----------------------------------------------------------------------------

    def create(
        self,
        class_name: str | type[Model],
        values: Mapping[str, Any] | None = None,
        update: bool = False,
    ) -> RealmObject:
        """Create an object (nested dicts create linked and embedded objects).

        ``update=True`` upserts by primary key: an existing object gets the given values.
        """
        writer = self._store.current_writer()
        return writer.create(realm_name(class_name), values or {}, update=update)

    def create_many(
        self,
        class_name: str | type[Model],
        objects: Iterable[Mapping[str, Any]],
        update: bool = False,
    ) -> CreatedObjects:
        """Create an object for each dict of ``objects``, in order; the created objects (a
        sequence that makes each ``RealmObject`` as it is read).

        The same as ``[realm.create(class_name, v, update) for v in objects]`` (same
        checks and errors, notifications, sync instructions; on an error the objects
        before it stay created, as in the loop), but objects of primitive values take
        a faster path: about twice the rate of the loop (docs/performance.md).
        """
        writer = self._store.current_writer()
        return writer.create_many(realm_name(class_name), objects, update=update)

    def delete(self, target: RealmObject | Results | Iterable[RealmObject]) -> None:
        """Delete an object, or all objects of a Results or list. Links to them become null
        and they leave every list and set; their embedded objects go with them."""
        self._store.current_writer().delete(target)

    def delete_all(self, class_name: str | None = None) -> None:
        names = [class_name] if class_name else [
            n for n, i in self._store.infos.items() if not i.embedded
        ]
        for name in names:
            self.delete(self.objects(name))

    def objects(self, class_name: str | type[Model]) -> Results:
        """All objects of a class, as a live Results."""
        store = self._store
        store.check_open()
        class_name = realm_name(class_name)
        info = store.info(class_name)
        return Results(store, info, QueryPlan(store.schema_map, class_name))

    def object_for_primary_key(
        self, class_name: str | type[Model], primary_key: Any
    ) -> RealmObject | None:
        """The object with this primary key, or None."""
        store = self._store
        store.check_open()
        class_name = realm_name(class_name)
        info = store.info(class_name)
        pk_col = info.pk_column
        if pk_col is None:
            raise SchemaError(f"class {class_name!r} has no primary key")
        encode = pk_col.encode
        assert encode is not None
        stored = None if primary_key is None else encode(primary_key)
        row = store.conn.execute(
            f"SELECT {KEY} FROM {info.table} WHERE {column(pk_col.prop.name)} IS ?", (stored,)
        ).fetchone()
        return None if row is None else RealmObject(store, info, row[0])

    def object_for_key(self, class_name: str, key: int) -> RealmObject | None:
        """The object with this object key (``obj._key``), or None."""
        store = self._store
        info = store.info(class_name)
        row = store.conn.execute(info.select_one_sql, (key,)).fetchone()
        return None if row is None else RealmObject(store, info, key, tuple(row))

    # -- listeners ----------------------------------------------------------------------------

    def add_listener(self, callback: Callable[..., None]) -> NotificationToken:
        """``callback(realm, changes)`` (or ``callback(realm)``) after every commit, local or
        from another process (seen at ``refresh()``)."""
        return self._store.notifier.add_realm_listener(callback)

    # -- history (sync) -------------------------------------------------------------------

    def history(self, since: int = 0) -> list[ins.Changeset]:
        """Recorded changesets with a client version above ``since`` (realms opened with
        ``record_history=True``)."""
        store = self._store
        conn = store.conn
        recent = store.recent_recorded
        if recent:
            handed = _recent_since(recent, since)
            if handed is not None:
                # Only if they are every row after `since` (another connection or
                # process may have recorded some in between or after).
                (latest,) = conn.execute(
                    f"SELECT COALESCE(MAX(client_version), 0) FROM {HISTORY_TABLE}"
                ).fetchone()
                if handed and handed[-1].client_version == latest:
                    return handed
                if not handed and latest <= since:
                    return []
        rows = conn.execute(
            f"SELECT client_version, timestamp_ms, last_integrated_server_version, instructions "
            f"FROM {HISTORY_TABLE} WHERE client_version > ? ORDER BY client_version",
            (since,),
        ).fetchall()
        return [
            ins.Changeset(store.file_ident, v, s or 0, t, tuple(decode_instructions(text)))
            for v, t, s, text in rows
        ]


def _recent_since(recent: list[ins.Changeset], since: int) -> list[ins.Changeset] | None:
    """The recorded commits kept in memory after ``since``, if they follow it without a
    gap (None: the table must be read). Those up to ``since`` are dropped: they were
    taken."""
    first = recent[0].client_version
    if first > since + 1:
        return None
    drop = since + 1 - first
    if drop > 0:
        del recent[:drop]
    expected = since + 1
    for changeset in recent:
        if changeset.client_version != expected:
            recent.clear()
            return None
        expected += 1
    return list(recent)


def store_of(realm: Realm) -> Store:
    """The store behind ``realm``, for the core's modules that are handed a Realm (sync's
    ``apply_remote``, ``replay``). Nothing outside ``studio.core`` may use it."""
    return realm._store


def _snapshot(store: Store, stored: Sequence[ObjectSchema]) -> Realm:
    """A read-only in-memory copy of the realm as it is now, for the migration callback."""
    copy = sqlite3.connect(":memory:", isolation_level=None)
    store.conn.backup(copy)
    configure_connection(copy)
    old = Realm()
    snapshot = old._store
    snapshot.sqlite = copy
    snapshot.path = store.path + " (before migration)"
    snapshot.read_only = True
    snapshot.closed = False
    snapshot.install_schema(stored)
    snapshot.begin_read()
    return old


def _check_format(store: Store, kind: str) -> str | None:
    """The file's storage format (None for a new file); refuses formats it cannot read."""
    try:
        listed = store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        tables = {row[0] for row in listed}
    except sqlite3.DatabaseError as exc:
        raise FileFormatError(f"{store.path} is not a realm file: {exc}") from None
    if META_TABLE not in tables:
        if tables:
            raise FileFormatError(
                f"{store.path} is an SQLite database but not a studio realm "
                "(it has no _studio_meta table)"
            )
        return None
    row = store.conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'format'").fetchone()
    if row is None or (row[0] != FORMAT and row[0] not in UPGRADABLE_FORMATS):
        raise FileFormatError(
            f"{store.path} has realm format {row[0] if row else 'unknown'!r}; this version of "
            f"studio reads {FORMAT!r} (and upgrades {', '.join(map(repr, UPGRADABLE_FORMATS))})"
        )
    return str(row[0])


def _defaults_of(classes: Sequence[ObjectSchema]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for cls in classes:
        defaults = {p.name: p.default for p in cls.properties if p.default is not NO_DEFAULT}
        if defaults:
            out[cls.name] = defaults
    return out
