"""The storage interface of the object server.

Two parts: :class:`ServerStorage` (users, realm registry, permissions, quotas,
the token signing key) and one :class:`RealmStorage` per realm (its history,
the client file identities it handed out, and the realm's current state).
The backend is chosen from the configuration (factory.py): SQLite files under
``--data`` (the embedded default), PostgreSQL (``--store``), or memory (unit
tests); tests/server/test_storage_contract.py holds all three to one contract.

Methods are blocking and thread-safe; the server calls them from worker
threads (``asyncio.to_thread``) so that the event loop never waits on a disk.
:meth:`RealmStorage.append` returns only once the write is durable: the server
acknowledges an upload after that and never before, which is what makes a
SIGKILL at any moment lose nothing a client saw acknowledged.

Appends to one realm are serialised by the backend, across processes too: an
append whose first version does not follow the stored latest one raises
:class:`~studio.server.storage.errors.VersionConflict` and stores nothing
(another server process on the same database stored versions first; this one
reloads the realm and merges again).

The in-memory merge state (:class:`studio.sync.history.ServerHistory`) is
rebuilt from :meth:`RealmStorage.load` when a realm is first used, so a
backend only stores rows; it never runs merge code. The current state (object
counts for the admin API and the Studio) is derived from the history by
:meth:`RealmStorage.update_state`: in the realm's SQLite file, or for other
backends in a local cache file (cached_state.py).
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.server.storage.errors import VersionConflict
from studio.sync.changeset import encode_changeset
from studio.sync.history import Compaction, HistoryEntry


def user_update_sql(
    placeholder: str,
    *,
    password_hash: str | None,
    is_admin: bool | None,
    suspended: bool | None,
) -> tuple[list[str], list[Any]]:
    """The SET assignments (values as ``placeholder``, the driver's ``?`` or
    ``%s``) and their values for an ``update_user`` of the SQL backends. A new
    password also bumps the token generation, so every older token stops
    working."""
    sets: list[str] = []
    args: list[Any] = []
    if password_hash is not None:
        sets += [f"password_hash = {placeholder}", "token_generation = token_generation + 1"]
        args.append(password_hash)
    if is_admin is not None:
        sets.append(f"is_admin = {placeholder}")
        args.append(is_admin)
    if suspended is not None:
        sets.append(f"suspended = {placeholder}")
        args.append(suspended)
    return sets, args


def new_user_id() -> str:
    """A fresh account id: random, so a name deleted and created again is a
    different account (its old tokens, realms and grants do not carry over)."""
    return secrets.token_hex(12)


def check_next_version(path: str, latest: int, first: int) -> None:
    """Raise VersionConflict unless ``first`` follows the stored ``latest``."""
    if first != latest + 1:
        raise VersionConflict(
            f"realm {path} is at server version {latest} in storage, not {first - 1}: "
            "another server process wrote to it; reload the realm and merge again"
        )


@dataclass(frozen=True, slots=True)
class UserRecord:
    username: str
    password_hash: str
    is_admin: bool
    suspended: bool
    created: float
    """Seconds since the epoch."""
    token_generation: int = 0
    """Bumped when the password changes: older tokens stop working."""
    user_id: str = field(default_factory=new_user_id)
    """Immutable random id of the account; tokens, realm ownership and
    grants refer to it, names are for people."""


@dataclass(frozen=True, slots=True)
class RealmRecord:
    path: str
    """Canonical path (``/u/<user>/name`` or ``/shared/...``)."""
    owner: str | None
    """The name of the account that owns it (None: nobody, or that account
    was deleted)."""
    created: float
    owner_id: str | None = None
    """The id of the owning account, as stored (it may no longer exist)."""


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One server version of a realm's history, with the user who uploaded it."""

    entry: HistoryEntry
    user: str
    encoded: bytes | None = field(default=None, compare=False, repr=False)
    """The changeset's wire bytes, if already made (else the storage encodes it)."""


@dataclass(frozen=True, slots=True)
class ClientIdent:
    """Who a client file ident of a realm was issued to (studio.server.idents)."""

    ident: int
    user: str
    """The user's name when it was issued (for logs and the admin API)."""
    user_id: str | None
    """The account it belongs to; None for an ident stored before idents
    were tied to accounts (then only ``user`` is known)."""
    salt: int | None
    """The secret a bind with this ident must carry; None before salts."""


@dataclass(frozen=True, slots=True)
class LoadedHistory:
    """Everything needed to rebuild a realm's ServerHistory."""

    entries: Sequence[StoredEntry]
    max_file_ident: int
    """Client file idents 1..max_file_ident were handed out."""
    progress: dict[int, int] = field(default_factory=dict)
    """Per client file ident, the last server version it said it integrated."""
    idents: dict[int, ClientIdent] = field(default_factory=dict)
    """The stored owner and salt of each client file ident."""
    base_version: int = 0
    """The floor of the last compaction: ``entries`` up to here are its
    snapshot (ServerHistory.restore_compaction)."""
    client_floors: dict[int, int] = field(default_factory=dict)
    """Per client file ident, its last client version at or before the floor."""


@dataclass(slots=True)
class RealmWrite:
    """What one commit adds to a realm (collected by the server between commits)."""

    entries: list[StoredEntry] = field(default_factory=list)
    new_idents: list[ClientIdent] = field(default_factory=list)
    """Client file idents handed out (or, for old ones, given an owner and a
    salt) since the last commit."""
    progress: dict[int, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.entries or self.new_idents or self.progress)


@dataclass(frozen=True, slots=True)
class CompactionFigures:
    """What a compaction did to the stored history."""

    versions_before: int
    """History rows stored before (a snapshot's rows count one each)."""
    versions_after: int
    bytes_before: int
    """Changeset bytes of the stored history before."""
    bytes_after: int


def check_compaction(path: str, stored_base: int, latest: int, compaction: Compaction) -> None:
    """Raise VersionConflict unless ``compaction`` fits the stored history:
    planned on the stored floor, and every version it replaces stored."""
    if compaction.previous_base != stored_base:
        raise VersionConflict(
            f"realm {path} was compacted up to server version {stored_base} in storage, "
            f"not {compaction.previous_base}: another server process compacted it; "
            "reload the realm"
        )
    if compaction.base_version > latest:
        raise VersionConflict(
            f"realm {path} is at server version {latest} in storage: cannot compact "
            f"up to {compaction.base_version} before it is stored"
        )


def snapshot_rows(compaction: Compaction) -> list[tuple[int, int, int, int, int, str, bytes]]:
    """The snapshot as history rows (server_version, origin_file_ident,
    client_version, timestamp_ms, integrated_at_ms, user, changeset bytes);
    the user is empty: no account uploaded it."""
    return [
        (
            e.server_version,
            e.origin_file_ident,
            e.client_version,
            e.timestamp_ms,
            e.integrated_at_ms,
            "",
            encode_changeset(e.changeset),
        )
        for e in compaction.snapshot
    ]


@dataclass(frozen=True, slots=True)
class RealmStats:
    size_bytes: int
    objects: int
    """Top-level objects in the current state."""
    server_version: int
    """Latest version in the stored history."""
    state_version: int
    """The current state includes the history up to here."""
    state_error: str | None = None
    """Why the state stopped following the history, if it did."""
    modified: float | None = None
    """When the realm's data last changed on disk (seconds since the epoch)."""


class RealmStorage(ABC):
    """The stored data of one realm."""

    path: str

    @abstractmethod
    def load(self) -> LoadedHistory:
        """The whole history, in server version order."""

    @abstractmethod
    def append(self, write: RealmWrite) -> None:
        """Store ``write`` in one transaction; durable when this returns."""

    @abstractmethod
    def read_history(self, since: int, limit: int) -> list[StoredEntry]:
        """Entries after server version ``since``, at most ``limit``."""

    @abstractmethod
    def history_size(self) -> tuple[int, int]:
        """The stored history's rows and changeset bytes."""

    @abstractmethod
    def compact(self, compaction: Compaction) -> CompactionFigures:
        """Replace the stored history up to ``compaction.base_version`` by its
        snapshot, and store the new floor and the clients' floors, in one
        transaction (durable when this returns). Raises VersionConflict
        when the stored history does not fit it (see :func:`check_compaction`)
        and changes nothing then."""

    @abstractmethod
    def update_state(self, max_changesets: int = 128) -> RealmStats:
        """Apply stored history to the current state, at most ``max_changesets``
        changesets per call (so one call never holds the realm for long).
        While the state is still behind, ``objects`` and ``size_bytes`` may
        be those of an earlier call."""

    @abstractmethod
    def stats(self) -> RealmStats: ...

    @abstractmethod
    def close(self) -> None: ...

    # Hook for the REST API (rest_api.py): reads are served from the state.
    def state_file(self) -> Path | None:
        """The realm file that holds the current state (the state worker
        keeps it; open it read-only), None if this backend has none."""
        return None


class ServerStorage(ABC):
    """Server-wide data: users, the realm registry, permissions, the token key."""

    def start_workers(self) -> None:  # noqa: B027 (most stores have none)
        """Start the store's background workers now rather than when first needed
        (the server calls it as it starts). Nothing by default."""

    # -- users
    @abstractmethod
    def count_users(self) -> int: ...

    @abstractmethod
    def get_user(self, username: str) -> UserRecord | None: ...

    @abstractmethod
    def get_user_by_id(self, user_id: str) -> UserRecord | None: ...

    @abstractmethod
    def list_users(self) -> list[UserRecord]: ...

    @abstractmethod
    def create_user(self, user: UserRecord) -> None:
        """Raises AlreadyExists."""

    @abstractmethod
    def update_user(
        self,
        username: str,
        *,
        password_hash: str | None = None,
        is_admin: bool | None = None,
        suspended: bool | None = None,
    ) -> UserRecord:
        """Change a user; a new password hash bumps ``token_generation``.
        Raises Missing."""

    @abstractmethod
    def delete_user(self, username: str) -> None:
        """Delete a user and their grants (not their realms: those keep the
        deleted account's id as owner, so a new account of the same name
        does not own them). Raises Missing."""

    # -- realms
    @abstractmethod
    def get_realm(self, path: str) -> RealmRecord | None: ...

    @abstractmethod
    def list_realms(self) -> list[RealmRecord]: ...

    @abstractmethod
    def create_realm(
        self, path: str, owner: str | None, *, owner_limit: int | None = None
    ) -> RealmRecord:
        """Register a realm owned by the account now named ``owner`` (nobody
        if there is no such account); its storage is created on first open.
        Raises AlreadyExists, and QuotaExceeded when that account owns
        ``owner_limit`` realms already (checked and created in one
        transaction)."""

    @abstractmethod
    def reserve_client_ident(self, user_id: str, limit: int) -> bool:
        """Count one more client file ident issued to the account ``user_id``
        (over all realms and all time), unless ``limit`` were issued already:
        then False and nothing is counted."""

    @abstractmethod
    def delete_realm(self, path: str) -> None:
        """Forget a realm, its grants and its data (close it first). Raises Missing."""

    @abstractmethod
    def open_realm(self, path: str) -> RealmStorage:
        """The storage of a registered realm (created empty on first open)."""

    @abstractmethod
    def realm_stats(self, path: str) -> RealmStats:
        """Stats of a realm that is not open (cheap enough for a listing)."""

    # -- permissions (stored per account id; the name-based calls mean the
    # account that has the name now)
    @abstractmethod
    def get_permission(self, path: str, user_id: str) -> str | None: ...

    @abstractmethod
    def list_permissions(self, path: str) -> list[tuple[str, str]]:
        """``[(username, level)]`` granted on ``path``."""

    @abstractmethod
    def user_permissions(self, username: str) -> list[tuple[str, str]]:
        """``[(path, level)]`` granted to ``username``."""

    @abstractmethod
    def set_permission(self, path: str, username: str, level: str) -> None:
        """Grant ``level`` to the account named ``username``; for a name without
        an account, to the account next created with that name."""

    @abstractmethod
    def revoke_permission(self, path: str, username: str) -> bool:
        """False when there was no grant."""

    # -- secrets
    @abstractmethod
    def token_key(self) -> bytes:
        """The token signing key; generated and stored on first use."""

    @abstractmethod
    def close(self) -> None: ...
