"""The open file behind one Realm, as the core's own parts share it.

A :class:`Store` holds what a :class:`~studio.core.realm.Realm` owns and its objects,
results, collections, write transactions and migrations work with: the SQLite
connection, the schema and its class infos, the versions that tell caches whether
they are still valid, the listeners, and the open write transaction. The Realm
creates it and hands it to them; nothing outside ``studio.core`` uses it (apps and
the Studio use the Realm's public API).
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from studio.core.classinfo import ClassInfo, build_class_infos
from studio.core.errors import (
    ClosedRealmError,
    UnknownPropertyError,
    WrongThreadError,
    WrongTransactionStateError,
)
from studio.core.notify import Notifier
from studio.core.storage import META_TABLE

if TYPE_CHECKING:
    from studio.core.realm import Realm
    from studio.core.schema import ObjectSchema
    from studio.core.writer import Writer
    from studio.primitives.instructions import Changeset


class Store:
    """One open realm file's connection, schema, cache versions, listeners and writer."""

    def __init__(self, realm: Realm) -> None:
        # Weak: the Realm owns its Store, and dropping the Realm closes the file.
        self._realm = weakref.ref(realm)
        self.path = ""
        self.sqlite: sqlite3.Connection = None  # type: ignore[assignment]
        """The connection as it is, without writing out buffered bulk creates (see conn)."""
        self.read_only = False
        self.closed = True
        self.version = 0
        """Bumped by every change this connection makes or sees: a cached row is valid
        while the version it was read at is the current one."""
        self.class_versions: dict[str, int] = {}
        """Per class, bumped when objects of the class may have changed (see stamp)."""
        self.reset_version = 0
        """Bumped when every cache must go (schema change, rollback, close, full reset)."""
        self.seen_change = 0
        """The last row of the change log this connection has seen."""
        self.schema_generation = 0
        self.data_version: int | None = None
        """SQLite's data_version when this connection last collected others' commits."""
        self.cached_server_version: int | None = None
        """``sync.server_version`` as last read, stamped on each recorded commit; valid
        until others commit (see collect_external_changes) or this connection writes
        meta values (forget_meta)."""
        self.schema: list[ObjectSchema] = []
        self.schema_map: dict[str, ObjectSchema] = {}
        self.infos: dict[str, ClassInfo] = {}
        self.writer: Writer | None = None
        """The open write transaction, or None."""
        self.defaults: dict[str, dict[str, Any]] = {}
        """Default values of the schema given to open(), by class and property."""
        # A realm (its SQLite connection) belongs to the thread that opened it.
        self.thread = threading.get_ident()
        self.reading = False
        self.recording = False
        self.file_ident = 0
        self.notifier = Notifier(realm)
        self.next_keys: dict[str, int] = {}
        """Per class, the object key the next create gets, as this connection's last
        commit left it, so that a write transaction does not look it up again.
        Only while no other connection commits: emptied when their commits are
        collected, on rollback and on schema changes."""
        self.recent_recorded: list[Changeset] = []
        """This connection's last recorded commits, as committed and in client version
        order: ``Realm.history`` hands them over instead of decoding the rows it just
        wrote (the history table stays the truth: anything else writing to it clears
        this, and a gap or a later row sends ``history`` back to the table)."""

    @property
    def realm(self) -> Realm:
        realm = self._realm()
        if realm is None:  # only while the Realm is being torn down
            raise ClosedRealmError(f"the realm {self.path} is closed")
        return realm

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection, after writing out rows the bulk-create path still buffers."""
        if threading.get_ident() != self.thread:
            raise WrongThreadError(
                f"the realm {self.path} was opened on another thread; a Realm and its "
                "objects belong to the thread that opened them: open the file again on "
                "this thread (Realm.open), or hand the work to the owning thread"
            )
        writer = self.writer
        if writer is not None and writer.buffered:
            writer.flush()
        return self.sqlite

    def check_open(self) -> None:
        if self.closed:
            raise ClosedRealmError(f"the realm {self.path} is closed")

    # -- schema -------------------------------------------------------------------------------

    def install_schema(self, classes: Sequence[ObjectSchema]) -> None:
        self.schema = list(classes)
        self.schema_map = {c.name: c for c in classes}
        self.infos = build_class_infos(self.schema_map)
        self.reset_version += 1
        self.version += 1

    def info(self, class_name: str) -> ClassInfo:
        info = self.infos.get(class_name)
        if info is None:
            raise UnknownPropertyError(
                f"this realm has no class {class_name!r}; its classes are: "
                + (", ".join(self.infos) or "(none)")
            )
        return info

    def meta(self, key: str) -> Any:
        row = self.conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def server_version(self) -> int:
        """The server version the last integrated download left (``sync.server_version``)."""
        version = self.cached_server_version
        if version is None:
            version = self.cached_server_version = int(self.meta("sync.server_version") or 0)
        return version

    def forget_meta(self) -> None:
        """Meta values may have changed (this connection wrote them or rolled back)."""
        self.cached_server_version = None

    # -- cache versions -------------------------------------------------------------------------

    def stamp(self, class_name: str, dependencies: Iterable[str]) -> tuple[int, ...]:
        """Changes whenever objects of these classes may have changed (cache validity)."""
        versions = self.class_versions
        return (
            self.reset_version,
            versions.get(class_name, 0),
            *(versions.get(name, 0) for name in dependencies),
        )

    def class_changed(self, class_name: str) -> None:
        self.class_versions[class_name] = self.class_versions.get(class_name, 0) + 1

    # -- transactions ---------------------------------------------------------------------------

    def begin_read(self) -> None:
        # A pinned read transaction gives a stable snapshot between refresh() calls, as Realm.
        self.conn.execute("BEGIN")
        self.conn.execute(f"SELECT 1 FROM {META_TABLE} LIMIT 1").fetchone()
        self.reading = True

    def end_read(self) -> None:
        if self.reading:
            self.conn.execute("COMMIT")
            self.reading = False

    def current_writer(self) -> Writer:
        """The open write transaction; raises the error a change outside one gets."""
        writer = self.writer
        if writer is None:
            self.check_open()
            if self.read_only:
                raise WrongTransactionStateError(
                    f"the realm {self.path} was opened read-only; it cannot be changed"
                )
            raise WrongTransactionStateError(
                "cannot change a realm outside a write transaction; "
                "wrap the change in `with realm.write():`"
            )
        return writer
