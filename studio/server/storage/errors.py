"""Errors of the storage layer (all :class:`StorageError`, a ServerError)."""

from __future__ import annotations

from studio.server.errors import ServerError


class StorageError(ServerError):
    """Reading or writing the server's data failed (disk full, corrupt file,
    a file of a newer format). Nothing was acknowledged that is not stored."""


class AlreadyExists(StorageError):
    """A user or realm with that name already exists."""


class Missing(StorageError):
    """No user or realm with that name."""


class QuotaExceeded(StorageError):
    """A user already has as many of something (realms) as allowed."""
