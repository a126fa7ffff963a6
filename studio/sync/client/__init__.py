"""The sync client: keeps local realms in sync with an object server in the background.

::

    app = App("http://localhost:9080")         # or App(["http://a:9080", "http://b:9080"])
    user = await app.login("ann", "secret")
    realm = await app.open_realm(user, "/shared/chat", path="chat.realm", schema=SCHEMA)
    with realm.write():
        realm.create("Message", {...})          # never waits for the network
    await realm.sync_session.wait_for_upload_completion()

See docs/sync-client.md.
"""

from __future__ import annotations

import warnings
from typing import Any

from studio.sync.client.admin import AdminApi
from studio.sync.client.app import App, SyncedRealm
from studio.sync.client.auth import User
from studio.sync.client.config import SyncConfig
from studio.sync.client.errors import (
    ApiError,
    AuthenticationError,
    ClientError,
    ClientResetError,
    ServerUnreachableError,
    SessionClosedError,
    SyncSessionError,
)
from studio.sync.client.recovery import RecoveryReport, UnrecoveredChange
from studio.sync.client.reset import ClientResetMode, ClientResetResult
from studio.sync.client.servers import ServerList
from studio.sync.client.session import (
    Progress,
    SessionConnectionState,
    SyncSession,
    SyncSessionState,
)

# The old names collided with the protocol's ConnectionState and SessionState;
# they were documented public API, so they still work, with a warning.
_DEPRECATED = {"SessionState": SyncSessionState, "ConnectionState": SessionConnectionState}


def __getattr__(name: str) -> Any:
    new = _DEPRECATED.get(name)
    if new is None:
        raise AttributeError(f"module 'studio.sync.client' has no attribute {name!r}")
    warnings.warn(
        f"studio.sync.client.{name} is deprecated: use {new.__name__}",
        DeprecationWarning,
        stacklevel=2,
    )
    return new


__all__ = [
    "AdminApi",
    "ApiError",
    "App",
    "AuthenticationError",
    "ClientError",
    "ClientResetError",
    "ClientResetMode",
    "ClientResetResult",
    "Progress",
    "RecoveryReport",
    "ServerList",
    "ServerUnreachableError",
    "SessionClosedError",
    "SessionConnectionState",
    "SyncConfig",
    "SyncSession",
    "SyncSessionError",
    "SyncSessionState",
    "SyncedRealm",
    "UnrecoveredChange",
    "User",
]
