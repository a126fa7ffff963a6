"""Errors of the sync client. All derive from :class:`studio.sync.errors.SyncError`."""

from __future__ import annotations

from studio.sync.errors import SyncError
from studio.sync.protocol.messages import ErrorCode


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

    def __str__(self) -> str:
        return f"{self.name} ({self.code}): {self.message}"

    def __repr__(self) -> str:
        return f"SyncSessionError({self.code}, {self.message!r}, fatal={self.fatal})"


class SessionClosedError(ClientError):
    """The session (or its realm, or the App) was closed while something waited on it."""
