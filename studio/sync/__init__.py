"""Sync: changesets on the wire, their merge, and the sans-I/O protocol.

Modules: ``changeset`` (wire encoding), ``merge`` (operational transformation),
``history`` (server log and client cursors), ``model`` (reference store used as
the merge oracle), ``protocol`` (messages and connection state machines),
``errors``. The asyncio/websockets client is ``studio.sync.client``.
"""

from __future__ import annotations

from studio.sync.errors import (
    ChangesetError,
    LocalProtocolError,
    MergeError,
    ProtocolError,
    RemoteProtocolError,
    SyncError,
)

__all__ = [
    "ChangesetError",
    "LocalProtocolError",
    "MergeError",
    "ProtocolError",
    "RemoteProtocolError",
    "SyncError",
]
