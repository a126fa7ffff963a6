"""Every error ``studio.server`` raises on purpose derives from :class:`ServerError`.

:class:`ApiError` carries what the HTTP API answers: a status and a short
machine-readable ``code`` next to a message that says what to do
(``{"error": {"code": ..., "message": ...}}``, see docs/server-api.md).
Storage errors live in :mod:`studio.server.storage.errors` (also ServerErrors).
"""

from __future__ import annotations


class ServerError(Exception):
    """Base class of the object server's errors."""


class ConfigError(ServerError):
    """The command line or environment asks for something impossible."""


class ApiError(ServerError):
    """An HTTP request cannot be served as asked."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class Unauthorized(ApiError):
    """No valid credentials (401); ``code`` says which: bad_credentials,
    invalid_token, token_expired, unauthorized."""

    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class TooManyRequests(ApiError):
    """Refused for now (429); ``retry_after``: seconds until it may be tried."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "exists"


class InvalidPath(ServerError):
    """A realm path or user name that is not allowed (traversal, control
    characters, bad characters, too long)."""


class TokenError(ServerError):
    """A token that does not verify. ``code`` is ``invalid_token`` or
    ``token_expired`` (the client should refresh and retry)."""

    def __init__(self, message: str, code: str = "invalid_token") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
