"""The Realm: one open realm file, its schema, transactions, listeners and refresh."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from studio.core.changes import TransactionChanges
from studio.core.classinfo import ClassInfo, build_class_infos, parse_mixed_link
from studio.core.collections import LinkingObjects, RealmDictionary, RealmList, RealmSet
from studio.core.errors import (
    ClosedRealmError,
    FileFormatError,
    SchemaError,
    UnknownPropertyError,
    WrongThreadError,
    WrongTransactionStateError,
)
from studio.core.models import Model, realm_name
from studio.core.notify import NotificationToken, Notifier
from studio.core.objects import RealmObject
from studio.core.query import QueryPlan
from studio.core.results import Results
from studio.core.schema import (
    NO_DEFAULT,
    ObjectSchema,
    Property,
    parse_object_schema,
    parse_schema,
)
from studio.core.storage import (
    CHANGES_TABLE,
    FORMAT,
    HISTORY_TABLE,
    KEY,
    META_TABLE,
    column,
    configure_connection,
)
from studio.core.values import MixedTag, decode_mixed_primitive, make_decoder
from studio.core.writer import Writer
from studio.primitives import instructions as ins

SQLITE_MAGIC = b"SQLite format 3\x00"
CHANGE_LOG_KEEP = 1000

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
        self._path = ""
        self._sqlite: sqlite3.Connection = None  # type: ignore[assignment]
        self._read_only = False
        self._closed = True
        self._version = 0
        self._class_versions: dict[str, int] = {}
        self._reset_version = 0
        self._seen_change = 0
        self._schema_generation = 0
        self._schema: list[ObjectSchema] = []
        self._infos: dict[str, ClassInfo] = {}
        self._schema_map: dict[str, ObjectSchema] = {}
        self._active_writer: Writer | None = None
        # Default values of the schema given to open(), by class and property.
        self._defaults: dict[str, dict[str, Any]] = {}
        # A realm (its SQLite connection) belongs to the thread that opened it.
        self._thread = threading.get_ident()
        self._reading = False
        self._recording = False
        self._file_ident = 0
        self._notifier = Notifier(self)

    @property
    def _conn(self) -> sqlite3.Connection:
        """The connection, after writing out rows the bulk-create path still buffers."""
        if threading.get_ident() != self._thread:
            raise WrongThreadError(
                f"the realm {self._path} was opened on another thread; a Realm and its "
                "objects belong to the thread that opened them: open the file again on "
                "this thread (Realm.open), or hand the work to the owning thread"
            )
        writer = self._active_writer
        if writer is not None and writer.buffered:
            writer.flush()
        return self._sqlite

    @_conn.setter
    def _conn(self, conn: sqlite3.Connection) -> None:
        self._sqlite = conn

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
        from studio.core.migration import reconcile_schema

        realm = cls()
        file_path = Path(path)
        realm._path = str(file_path)
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
        realm._conn = conn
        realm._read_only = read_only
        realm._closed = False
        try:
            configure_connection(conn)
            if not read_only:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=" + ("FULL" if durability == "full" else "NORMAL"))
            realm._check_format(kind)
            reconcile_schema(realm, parsed, schema_version, migration, record_history)
            realm._defaults = _defaults_of(parsed or [])
            realm._begin_read()
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            realm._closed = True
            raise
        return realm

    def _check_format(self, kind: str) -> None:
        try:
            tables = {
                row[0]
                for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            raise FileFormatError(f"{self._path} is not a realm file: {exc}") from None
        if META_TABLE not in tables:
            if tables:
                raise FileFormatError(
                    f"{self._path} is an SQLite database but not a studio realm "
                    "(it has no _studio_meta table)"
                )
            return
        row = self._conn.execute(
            f"SELECT value FROM {META_TABLE} WHERE key = 'format'"
        ).fetchone()
        if row is None or row[0] != FORMAT:
            raise FileFormatError(
                f"{self._path} has realm format {row[0] if row else 'unknown'!r}; this version of "
                f"studio reads {FORMAT!r}"
            )

    # -- schema -----------------------------------------------------------------------------

    def _install_schema(self, classes: Sequence[ObjectSchema]) -> None:
        self._schema = list(classes)
        self._schema_map = {c.name: c for c in classes}
        self._infos = build_class_infos(self._schema_map)
        self._reset_version += 1
        self._version += 1

    @property
    def schema(self) -> list[ObjectSchema]:
        """The classes of this realm (``ObjectSchema``: name, primary_key, embedded, properties)."""
        return list(self._schema)

    def object_schema(self, class_name: str) -> ObjectSchema:
        return self._info(class_name).schema

    @property
    def schema_version(self) -> int:
        return int(self._meta("schema_version") or 0)

    @property
    def path(self) -> str:
        return self._path

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def is_in_transaction(self) -> bool:
        return self._active_writer is not None

    @property
    def records_history(self) -> bool:
        return self._recording

    @property
    def file_ident(self) -> int:
        return self._file_ident

    def _meta(self, key: str) -> Any:
        row = self._conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _info(self, class_name: str) -> ClassInfo:
        info = self._infos.get(class_name)
        if info is None:
            raise UnknownPropertyError(
                f"this realm has no class {class_name!r}; its classes are: "
                + (", ".join(self._infos) or "(none)")
            )
        return info

    def update_schema(self, classes: SchemaInput) -> None:
        """Add classes or optional properties (additive changes) inside a write transaction."""
        from studio.core.migration import apply_additive

        writer = self._writer()
        entries: Any = json.loads(classes) if isinstance(classes, str) else classes
        # Links may point at classes the realm already has: checked against the merged schema.
        parsed = [c if isinstance(c, ObjectSchema) else parse_object_schema(c) for c in entries]
        apply_additive(self, parsed, writer)

    # -- transactions -----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedRealmError(f"the realm {self._path} is closed")

    def _begin_read(self) -> None:
        # A pinned read transaction gives a stable snapshot between refresh() calls, as Realm.
        self._conn.execute("BEGIN")
        self._conn.execute(f"SELECT 1 FROM {META_TABLE} LIMIT 1").fetchone()
        self._reading = True

    def _end_read(self) -> None:
        if self._reading:
            self._conn.execute("COMMIT")
            self._reading = False

    def _writer(self) -> Writer:
        writer = self._active_writer
        if writer is None:
            self._check_open()
            if self._read_only:
                raise WrongTransactionStateError(
                    f"the realm {self._path} was opened read-only; it cannot be changed"
                )
            raise WrongTransactionStateError(
                "cannot change a realm outside a write transaction; "
                "wrap the change in `with realm.write():`"
            )
        return writer

    @contextlib.contextmanager
    def write(self, *, record: bool = True) -> Iterator[Realm]:
        """A write transaction: everything inside commits together, or not at all.

        Listeners run after the commit. An exception inside rolls everything back.
        ``record=False`` keeps the transaction out of the sync history (for changes
        that came from the server); its listeners see ``local=False``.
        """
        self._check_open()
        if self._read_only:
            raise WrongTransactionStateError(
                f"the realm {self._path} was opened read-only; it cannot be written"
            )
        if self._active_writer is not None:
            raise WrongTransactionStateError(
                "a write transaction is already open on this realm; nested write() is not allowed"
            )
        self._end_read()
        self._conn.execute("BEGIN IMMEDIATE")
        external = self._collect_external_changes()
        writer = Writer(self, record=self._recording and record)
        self._active_writer = writer
        try:
            yield self
        except BaseException:
            self._active_writer = None
            if self._closed:
                raise  # close() inside the transaction has rolled it back
            self._rollback(writer)
            if external:
                self._notifier.deliver(external, local=False)
            raise
        if self._closed:
            raise ClosedRealmError(
                f"the realm {self._path} was closed inside its write transaction; "
                "nothing of the transaction was written"
            )
        try:
            writer.flush()
            self._commit(writer)
        except BaseException:
            self._active_writer = None
            self._rollback(writer)
            raise
        self._active_writer = None
        self._begin_read()
        if external:
            external.merge(writer.changes)
            changes = external
        else:
            changes = writer.changes
        self._notifier.deliver(changes, local=record)

    def _rollback(self, writer: Writer) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._sqlite.execute("ROLLBACK")
        if writer.changes.schema_changed:
            from studio.core.migration import load_stored_schema

            self._install_schema(load_stored_schema(self))
            self._schema_generation = int(self._meta("schema_generation") or 0)
        # Objects and results cached rows from inside the transaction; drop them all.
        self._reset_version += 1
        self._version += 1
        self._begin_read()

    def _commit(self, writer: Writer) -> None:
        conn = self._conn
        changes = writer.changes
        if changes:
            cur = conn.execute(
                f"INSERT INTO {CHANGES_TABLE} (changes) VALUES (?)", (changes.to_json(),)
            )
            version = cur.lastrowid or 0
            if version % 100 == 0:
                conn.execute(
                    f"DELETE FROM {CHANGES_TABLE} WHERE version <= ?", (version - CHANGE_LOG_KEEP,)
                )
            self._seen_change = version
        if writer.instructions:
            from studio.core.history import encode_instructions

            server_version = self._meta("sync.server_version")
            conn.execute(
                f"INSERT INTO {HISTORY_TABLE} "
                "(timestamp_ms, last_integrated_server_version, instructions) VALUES (?, ?, ?)",
                (
                    int(time.time() * 1000),
                    int(server_version or 0),
                    encode_instructions(writer.instructions),
                ),
            )
        conn.execute("COMMIT")

    def _collect_external_changes(self) -> TransactionChanges | None:
        """Changes committed by other connections since this one last looked."""
        conn = self._conn
        generation = int(self._meta("schema_generation") or 0)
        rows = conn.execute(
            f"SELECT version, changes FROM {CHANGES_TABLE} WHERE version > ? ORDER BY version",
            (self._seen_change,),
        ).fetchall()
        if not rows and generation == self._schema_generation:
            return None
        changes = TransactionChanges()
        if generation != self._schema_generation:
            from studio.core.migration import load_stored_schema

            self._schema_generation = generation
            self._install_schema(load_stored_schema(self))
            changes.schema_changed = True
        if rows:
            if rows[0][0] != self._seen_change + 1:
                changes.full_reset = True
            for _version, text in rows:
                changes.merge(TransactionChanges.from_json(text))
            self._seen_change = rows[-1][0]
        self._version += 1
        for name in changes.classes:
            self._class_versions[name] = self._class_versions.get(name, 0) + 1
        if changes.full_reset:
            self._reset_version += 1
        return changes

    def refresh(self) -> bool:
        """Catch up with commits of other connections and processes; fire their listeners.

        Returns True when there was something new.
        """
        self._check_open()
        if self._active_writer is not None:
            return False
        self._end_read()
        self._begin_read()
        changes = self._collect_external_changes()
        if not changes:
            return False
        self._notifier.deliver(changes, local=False)
        return True

    def _stamp(self, class_name: str, dependencies: Iterable[str]) -> tuple[int, ...]:
        """Changes whenever objects of these classes may have changed (cache validity)."""
        versions = self._class_versions
        return (
            self._reset_version,
            versions.get(class_name, 0),
            *(versions.get(name, 0) for name in dependencies),
        )

    def _class_changed(self, class_name: str) -> None:
        self._class_versions[class_name] = self._class_versions.get(class_name, 0) + 1

    def close(self) -> None:
        if self._closed:
            return
        if self._active_writer is not None:
            self._active_writer = None
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
        with contextlib.suppress(sqlite3.Error):
            self._end_read()
        self._conn.close()
        self._closed = True
        # Cached rows and keys are stale now: the next access checks and raises.
        self._version += 1
        self._reset_version += 1

    def __enter__(self) -> Realm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            if not self._closed:
                self.close()

    def __repr__(self) -> str:
        return f"<Realm {self._path}{' (closed)' if self._closed else ''}>"

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
        return self._writer().create(realm_name(class_name), values or {}, update=update)

    def delete(self, target: RealmObject | Results | Iterable[RealmObject]) -> None:
        """Delete an object, or all objects of a Results or list. Links to them become null
        and they leave every list and set; their embedded objects go with them."""
        self._writer().delete(target)

    def delete_all(self, class_name: str | None = None) -> None:
        names = [class_name] if class_name else [n for n, i in self._infos.items() if not
                                                 i.embedded]
        for name in names:
            self.delete(self.objects(name))

    def objects(self, class_name: str | type[Model]) -> Results:
        """All objects of a class, as a live Results."""
        self._check_open()
        class_name = realm_name(class_name)
        info = self._info(class_name)
        return Results(self, info, QueryPlan(self._schema_map, class_name))

    def object_for_primary_key(
        self, class_name: str | type[Model], primary_key: Any
    ) -> RealmObject | None:
        """The object with this primary key, or None."""
        self._check_open()
        class_name = realm_name(class_name)
        info = self._info(class_name)
        pk_col = info.pk_column
        if pk_col is None:
            raise SchemaError(f"class {class_name!r} has no primary key")
        encode = pk_col.encode
        assert encode is not None
        stored = None if primary_key is None else encode(primary_key)
        row = self._conn.execute(
            f"SELECT {KEY} FROM {info.table} WHERE {column(pk_col.prop.name)} IS ?", (stored,)
        ).fetchone()
        return None if row is None else RealmObject(self, info, row[0])

    def object_for_key(self, class_name: str, key: int) -> RealmObject | None:
        """The object with this object key (``obj._key``), or None."""
        info = self._info(class_name)
        row = self._conn.execute(info.select_one_sql, (key,)).fetchone()
        return None if row is None else RealmObject(self, info, key, tuple(row))

    def _object(self, class_name: str, key: int) -> RealmObject:
        return RealmObject(self, self._infos[class_name], key)

    def _object_of(self, info: ClassInfo, key: int) -> RealmObject:
        return RealmObject(self, info, key)

    def _decode_mixed(self, value: Any, tag: Any) -> Any:
        if tag == MixedTag.LINK:
            class_name, key = parse_mixed_link(value)
            info = self._infos.get(class_name)
            if info is None:
                return None
            return self.object_for_key(class_name, key)
        return decode_mixed_primitive(value, tag)

    def _decode_value(self, prop: Property, value: Any, tag: Any) -> Any:
        if value is None and not tag:
            return None
        if prop.type == "object":
            return RealmObject(self, self._infos[prop.object_type or ""], value)
        if prop.type == "mixed":
            return self._decode_mixed(value, tag)
        decode = make_decoder(prop.type)
        return value if decode is None else decode(value)

    def _collection(self, obj: RealmObject, prop: Property) -> Any:
        if prop.collection == "list":
            return RealmList(obj, prop)
        if prop.collection == "set":
            return RealmSet(obj, prop)
        return RealmDictionary(obj, prop)

    def _linking_objects(self, obj: RealmObject, prop: Property) -> LinkingObjects:
        origin = self._info(prop.object_type or "").schema.get_property(prop.origin_property or "")
        return LinkingObjects(obj, prop, origin)

    # -- listeners ----------------------------------------------------------------------------

    def add_listener(self, callback: Callable[..., None]) -> NotificationToken:
        """``callback(realm, changes)`` (or ``callback(realm)``) after every commit, local or
        from another process (seen at ``refresh()``)."""
        return self._notifier.add_realm_listener(callback)

    # -- history (sync) -------------------------------------------------------------------

    def history(self, since: int = 0) -> list[ins.Changeset]:
        """Recorded changesets with a client version above ``since`` (realms opened with
        ``record_history=True``)."""
        from studio.core.history import decode_instructions

        rows = self._conn.execute(
            f"SELECT client_version, timestamp_ms, last_integrated_server_version, instructions "
            f"FROM {HISTORY_TABLE} WHERE client_version > ? ORDER BY client_version",
            (since,),
        ).fetchall()
        return [
            ins.Changeset(self._file_ident, v, s or 0, t, tuple(decode_instructions(text)))
            for v, t, s, text in rows
        ]


def _json_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def new_file_ident() -> int:
    return secrets.randbits(62) + 1


def _defaults_of(classes: Sequence[ObjectSchema]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for cls in classes:
        defaults = {p.name: p.default for p in cls.properties if p.default is not NO_DEFAULT}
        if defaults:
            out[cls.name] = defaults
    return out
