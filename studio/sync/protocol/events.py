"""What the sans-I/O connections report to the code driving them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from studio.primitives.instructions import Changeset
from studio.sync.history import HistoryEntry
from studio.sync.protocol.messages import Cursors

# ------------------------------------------------------------------ client side


@dataclass(frozen=True, slots=True)
class Bound:
    """The server accepted the bind; local changes now upload."""

    session: int
    client_file_ident: int


@dataclass(frozen=True, slots=True)
class RemoteChanges:
    """Changes from other clients, already transformed against the local
    unacknowledged changesets: apply ``changesets`` to the local realm in order,
    and persist the session's ClientHistory, in one write transaction."""

    session: int
    changesets: tuple[Changeset, ...]
    server_version: int


@dataclass(frozen=True, slots=True)
class UploadAcknowledged:
    """The server durably integrated our changesets up to ``client_version``."""

    session: int
    client_version: int


@dataclass(frozen=True, slots=True)
class DownloadProgressed:
    """The client is now at ``server_version`` (``caught_up``: nothing newer)."""

    session: int
    server_version: int
    caught_up: bool


@dataclass(frozen=True, slots=True)
class MarkReached:
    """Everything the server had when it received our mark has been downloaded."""

    session: int
    request_id: int


@dataclass(frozen=True, slots=True)
class SessionUnbound:
    """The session is over (unbind completed); its id cannot be used again."""

    session: int


@dataclass(frozen=True, slots=True)
class SessionError:
    """The session failed; unbind it, then rebind (new session id) if
    ``try_again``. On the server side this reports an error sent to the client."""

    session: int
    code: int
    message: str
    try_again: bool


@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """A connection-level error; the connection is closed. Reconnect if
    ``try_again``; bind the same ClientHistory objects again to resume."""

    code: int
    message: str
    try_again: bool


@dataclass(frozen=True, slots=True)
class PongReceived:
    timestamp: int
    round_trip_ms: int | None


ClientEvent: TypeAlias = (
    Bound
    | RemoteChanges
    | UploadAcknowledged
    | DownloadProgressed
    | MarkReached
    | SessionUnbound
    | SessionError
    | ConnectionFailed
    | PongReceived
)

# ------------------------------------------------------------------ server side


@dataclass(frozen=True, slots=True)
class BindRequested:
    """A client wants to bind ``path``: check the token and permissions, and
    that ``client_file_ident`` (unless 0) was issued to this user for this
    realm with this ``client_file_salt``; then call
    ``accept_bind(session, history, client_file_salt=...)`` or
    ``reject_bind(session, ...)``."""

    session: int
    path: str
    token: str
    client_file_ident: int
    cursors: Cursors
    client_file_salt: int = 0


@dataclass(frozen=True, slots=True)
class ChangesetsIntegrated:
    """An upload was appended to the history of ``path`` (already persisted by
    the history): tell the other connections bound to it to send downloads."""

    session: int
    path: str
    client_file_ident: int
    entries: tuple[HistoryEntry, ...]
    skipped: int


@dataclass(frozen=True, slots=True)
class ClientUnbound:
    """The client unbound ``session`` (the server answered ``unbound``)."""

    session: int
    path: str


ServerEvent: TypeAlias = BindRequested | ChangesetsIntegrated | ClientUnbound | SessionError
