"""The sync client: keeps local realms in sync with an object server in the background.

::

    app = App("http://localhost:9080")
    user = await app.login("ann", "secret")
    realm = await app.open_realm(user, "/shared/chat", path="chat.realm", schema=SCHEMA)
    with realm.write():
        realm.create("Message", {...})          # never waits for the network
    await realm.sync_session.wait_for_upload_completion()

See docs/sync-client.md.
"""

from __future__ import annotations

from studio.sync.client.admin import AdminApi
from studio.sync.client.app import App, SyncedRealm
from studio.sync.client.auth import User
from studio.sync.client.config import SyncConfig
from studio.sync.client.errors import (
    ApiError,
    AuthenticationError,
    ClientError,
    ServerUnreachableError,
    SessionClosedError,
    SyncSessionError,
)
from studio.sync.client.session import ConnectionState, Progress, SessionState, SyncSession

__all__ = [
    "AdminApi",
    "ApiError",
    "App",
    "AuthenticationError",
    "ClientError",
    "ConnectionState",
    "Progress",
    "ServerUnreachableError",
    "SessionClosedError",
    "SessionState",
    "SyncConfig",
    "SyncSession",
    "SyncSessionError",
    "SyncedRealm",
    "User",
]
