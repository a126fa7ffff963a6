"""The messages of the sync protocol (docs/sync.md, section 4) and its error codes.

One websocket per client carries msgpack messages, each a map with a
``"type"``; sessions (one per realm path) are multiplexed by a client-chosen
session id. See :mod:`studio.sync.protocol.codec` for the exact wire form.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final, TypeAlias

from studio.primitives.instructions import Changeset
from studio.sync.history import RemoteChangeset

PROTOCOL_VERSION: Final = 2
"""2: ``bind`` and ``ident`` carry ``client_file_salt``."""
WEBSOCKET_SUBPROTOCOL: Final = f"studio-sync.{PROTOCOL_VERSION}"
"""Negotiated by the websocket layer; a new protocol version gets a new name."""


class ErrorCode(IntEnum):
    """Error codes (numbered as Realm's sync protocol numbers them).

    1xx are connection-level: the sender closes the connection after the
    error. 2xx are session-level: that session ends, the others go on.
    """

    CONNECTION_CLOSED = 100
    OTHER_ERROR = 101
    UNKNOWN_MESSAGE = 102
    BAD_SYNTAX = 103
    LIMITS_EXCEEDED = 104
    WRONG_PROTOCOL_VERSION = 105
    BAD_SESSION_IDENT = 106
    REUSE_OF_SESSION_IDENT = 107
    BOUND_IN_OTHER_SESSION = 108
    BAD_MESSAGE_ORDER = 109

    SESSION_CLOSED = 200
    OTHER_SESSION_ERROR = 201
    TOKEN_EXPIRED = 202
    BAD_AUTHENTICATION = 203
    ILLEGAL_REALM_PATH = 204
    NO_SUCH_REALM = 205
    PERMISSION_DENIED = 206
    BAD_CLIENT_FILE_IDENT = 208
    BAD_SERVER_VERSION = 209
    BAD_CLIENT_VERSION = 210
    DIVERGING_HISTORIES = 211
    BAD_CHANGESET = 212
    BAD_ORIGIN_FILE_IDENT = 217
    CLIENT_FILE_EXPIRED = 223
    CLIENT_FILE_IDENT_MISMATCH = 224
    """The client file ident was issued to another user or realm, or the
    salt does not match: this realm file cannot sync as that identity
    (reset it to get a new one). Never retryable. (Realm's user_mismatch.)"""
    INVALID_SCHEMA_CHANGE = 226
    # Studio's own (after Realm's range):
    SCHEMA_VIOLATION = 240
    """An uploaded instruction does not fit the realm's schema."""
    CLOCK_SKEW = 241
    """An uploaded changeset is stamped too far ahead of the server's clock."""
    QUOTA_EXCEEDED = 242
    """The user may not have more realms or client file idents; not
    retryable (an admin must act)."""

    @property
    def try_again(self) -> bool:
        """Whether doing the same again later (reconnect, rebind) may succeed."""
        return self in _RETRYABLE

    @property
    def is_session_level(self) -> bool:
        return 200 <= self < 300

    @classmethod
    def describe(cls, code: int) -> str:
        try:
            return cls(code).name.lower()
        except ValueError:
            return f"error {code}"


_RETRYABLE: Final = frozenset(
    {
        ErrorCode.CONNECTION_CLOSED,
        ErrorCode.OTHER_ERROR,
        ErrorCode.SESSION_CLOSED,
        ErrorCode.OTHER_SESSION_ERROR,
        ErrorCode.TOKEN_EXPIRED,  # after refreshing the token
    }
)


@dataclass(frozen=True, slots=True)
class Cursors:
    """Where a client stands, sent with ``bind``: it has integrated the server
    history up to ``last_integrated_server_version`` and knows the server has
    its changesets up to ``last_acked_client_version``."""

    last_integrated_server_version: int = 0
    last_acked_client_version: int = 0


@dataclass(frozen=True, slots=True)
class UploadProgress:
    """``client_version``: the last client version this upload covers;
    ``last_integrated_server_version``: the base of its changesets."""

    client_version: int
    last_integrated_server_version: int


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """After a download the client is at ``server_version``; the server's
    latest is ``latest_server_version`` (equal: the client has caught up)."""

    server_version: int
    latest_server_version: int


# ------------------------------------------------------------------ client -> server


@dataclass(frozen=True, slots=True)
class Bind:
    session: int
    path: str
    token: str
    client_file_ident: int = 0
    """0 asks the server for a new identity (first sync of this realm file)."""
    cursors: Cursors = Cursors()
    client_file_salt: int = 0
    """The secret the server issued with ``client_file_ident`` (0: none yet,
    or a realm file from before salts)."""


@dataclass(frozen=True, slots=True)
class Upload:
    session: int
    changesets: tuple[Changeset, ...]
    progress: UploadProgress


@dataclass(frozen=True, slots=True)
class Mark:
    """Client -> server: "tell me when you have sent me everything you had when
    you received this"; the server echoes it after those downloads."""

    session: int
    request_id: int


@dataclass(frozen=True, slots=True)
class Unbind:
    session: int


@dataclass(frozen=True, slots=True)
class Ping:
    timestamp: int


# ------------------------------------------------------------------ server -> client


@dataclass(frozen=True, slots=True)
class Ident:
    session: int
    client_file_ident: int
    client_file_salt: int = 0
    """Keep it with the ident and send it on every bind: only who holds it
    may bind as that ident (0: the server does not check one)."""


@dataclass(frozen=True, slots=True)
class Download:
    session: int
    changesets: tuple[RemoteChangeset, ...]
    progress: DownloadProgress
    upload_ack: int
    """The server has durably integrated this client's changesets up to here."""


@dataclass(frozen=True, slots=True)
class Unbound:
    session: int


@dataclass(frozen=True, slots=True)
class Error:
    code: int
    message: str
    try_again: bool
    session: int | None = None
    """None: a connection-level error (the connection closes)."""


@dataclass(frozen=True, slots=True)
class Pong:
    timestamp: int


ClientMessage: TypeAlias = Bind | Upload | Mark | Unbind | Ping
ServerMessage: TypeAlias = Ident | Download | Mark | Unbound | Error | Pong
Message: TypeAlias = ClientMessage | ServerMessage
