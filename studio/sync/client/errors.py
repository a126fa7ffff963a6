"""Errors of the sync client. All derive from :class:`studio.sync.errors.SyncError`."""

from __future__ import annotations

from studio.sync.errors import SyncError
from studio.sync.protocol.messages import ErrorCode

RESET_ERROR_CODES = frozenset(
    {
        ErrorCode.BAD_CLIENT_FILE_IDENT,  # 208: the server does not know this file's ident
        ErrorCode.BAD_SERVER_VERSION,  # 209: the file is at a version the server never had
        ErrorCode.DIVERGING_HISTORIES,  # 211
        ErrorCode.CLIENT_FILE_EXPIRED,  # 223: the history it needs was compacted away
        ErrorCode.CLIENT_FILE_IDENT_MISMATCH,  # 224: the ident was issued again to another file
    }
)
"""Session errors that mean "this realm file must be reset" (Realm's list, plus
224: a realm deleted and created again may have issued this file's ident to
another client, and the salt then no longer matches)."""


class ClientError(SyncError):
    """Base class of the errors the sync client raises or reports."""


class ApiError(ClientError):
    """The server answered an HTTP request with an error.

    ``status`` is the HTTP status (0: the server could not be reached),
    ``error`` the server's error word (``bad_credentials``, ``forbidden``, ...).
    """

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message, try_again=status == 0 or status >= 500)
        self.status = status
        self.error = error

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.error!r}, {self.message!r})"


class AuthenticationError(ApiError):
    """Logging in or refreshing a token failed: a wrong password (``bad_credentials``),
    a suspended user (``suspended``), an expired or revoked refresh token
    (``invalid_token``). Log in again with valid credentials."""


class ServerUnreachableError(ApiError):
    """No answer from the server (connection refused, timeout, DNS)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "unreachable", message)


class SyncSessionError(ClientError):
    """A sync session failed; passed to error callbacks and raised from the
    ``wait_for_*`` methods of a session that failed for good.

    ``code`` is the protocol error code (:class:`~studio.sync.protocol.ErrorCode`),
    ``fatal`` whether the session gave up (it will not retry by itself).
    """

    def __init__(self, code: int, message: str, *, fatal: bool) -> None:
        super().__init__(message, code=code, try_again=not fatal)
        self.fatal = fatal

    @property
    def name(self) -> str:
        """The error code's name, e.g. ``permission_denied``."""
        return ErrorCode.describe(self.code)

    @property
    def client_reset_required(self) -> bool:
        """The server cannot sync this realm file any more (its history was
        compacted past it, the realm was deleted and created again, the server
        was restored from an older backup): the file must be reset. The
        session does that by itself unless it was opened with
        ``client_reset=ClientResetMode.MANUAL`` (docs/sync-client.md)."""
        return self.code in RESET_ERROR_CODES

    def __str__(self) -> str:
        return f"{self.name} ({self.code}): {self.message}"

    def __repr__(self) -> str:
        return f"SyncSessionError({self.code}, {self.message!r}, fatal={self.fatal})"


class ClientResetError(ClientError):
    """A client reset could not be carried out (the fresh copy could not be
    downloaded or adopted, or the local changes could not be recovered in
    ``RECOVER`` mode). Nothing of the realm was changed; the backup file the
    reset made is kept."""


class SessionClosedError(ClientError):
    """The session (or its realm, or the App) was closed while something waited on it."""
