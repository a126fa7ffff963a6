"""Sync: changesets on the wire, their merge, and the sans-I/O protocol.

Subpackages: ``changeset`` (wire encoding), ``merge`` (operational
transformation), ``protocol`` (messages and connection state machines); modules
``history`` (server log and client cursors), ``values`` (exact value
identity), ``errors``. The asyncio/websockets client is ``studio.sync.client``.
The tests' oracles (a reference store, the plain merge driver) live in
``tests/oracles/``, outside the shipped package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studio.sync.errors import (
    ChangesetError,
    LocalProtocolError,
    MergeError,
    ProtocolError,
    RemoteProtocolError,
    SyncError,
)

if TYPE_CHECKING:
    from studio.sync.client import App


def __getattr__(name: str) -> Any:
    # ``App`` is imported lazily: the server and the sans-I/O modules import
    # studio.sync without needing the client (and its websockets import).
    if name == "App":
        from studio.sync.client import App

        return App
    raise AttributeError(f"module 'studio.sync' has no attribute {name!r}")


__all__ = [
    "App",
    "ChangesetError",
    "LocalProtocolError",
    "MergeError",
    "ProtocolError",
    "RemoteProtocolError",
    "SyncError",
]
