"""Every error ``studio.sync`` raises derives from :class:`SyncError`.

Errors that can travel on the wire carry a protocol ``code`` (an int from
:class:`studio.sync.protocol.ErrorCode`; kept as a plain int here so this
module depends on nothing) and ``try_again``: whether the peer may retry the
same thing later (after reconnecting, refreshing a token, ...).
"""

from __future__ import annotations

# The numeric codes are duplicated from ``studio.sync.protocol.messages.ErrorCode``
# on purpose: errors.py is imported by everything and must import nothing.
_BAD_SYNTAX = 103
_BAD_MESSAGE_ORDER = 109
_BAD_CHANGESET = 212
_INVALID_SCHEMA_CHANGE = 226
_OTHER_SESSION_ERROR = 201
_SCHEMA_VIOLATION = 240
_CLOCK_SKEW = 241


class SyncError(Exception):
    """Base class of all errors of ``studio.sync``.

    ``code`` is the protocol error code sent to the peer when this error is
    reported on the wire, ``try_again`` whether retrying may succeed.
    """

    default_code: int = _OTHER_SESSION_ERROR
    default_try_again: bool = False

    def __init__(
        self, message: str, *, code: int | None = None, try_again: bool | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = self.default_code if code is None else code
        self.try_again = self.default_try_again if try_again is None else try_again

    def __str__(self) -> str:
        return self.message


class ProtocolError(SyncError):
    """The sync protocol was violated (by us or by the peer)."""

    default_code = _BAD_SYNTAX


class RemoteProtocolError(ProtocolError):
    """The peer sent data we cannot accept: malformed bytes, an unknown message
    or instruction, a message out of order. The connection cannot continue."""


class LocalProtocolError(ProtocolError):
    """Our own code misused a protocol state machine (e.g. uploading on a session
    that is not bound). This is a bug in the caller, not in the peer."""

    default_code = _BAD_MESSAGE_ORDER


class ChangesetError(SyncError):
    """A changeset is invalid: an instruction with an impossible path or value,
    an upload that does not fit the history it claims to be based on."""

    default_code = _BAD_CHANGESET


class MergeError(ChangesetError):
    """Two changesets cannot be merged, e.g. AddClass/AddProperty of the same
    name with different definitions. The changeset that arrived last is rejected;
    retrying it unchanged cannot succeed."""

    default_code = _INVALID_SCHEMA_CHANGE


class SchemaViolationError(ChangesetError):
    """An uploaded instruction does not fit the realm's schema (unknown class
    or property, wrong value type, null where none is allowed, a list
    instruction on a scalar, ...). Nothing of the upload is stored; sending
    it again cannot succeed."""

    default_code = _SCHEMA_VIOLATION


class ClockSkewError(ChangesetError):
    """An uploaded changeset is stamped further ahead of the server's clock
    than the server allows (it would win every last-writer-wins conflict).
    Nothing of the upload is stored."""

    default_code = _CLOCK_SKEW


class HistoryCompactedError(SyncError):
    """The history no longer reaches back to the version asked for (it was
    compacted); the client must reset its local copy from the server."""

    default_code = 223  # client_file_expired


class CompactionError(SyncError):
    """The history could not be squashed into a snapshot (an integrated
    instruction does not fit the state the ones before it built). Nothing
    was compacted; the history stays as it was."""
