"""``App``: the entry point of the sync client (login, synced realms, admin API)."""

from __future__ import annotations

import asyncio
import os
import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from studio.core.realm import MigrationCallback, Realm, SchemaInput
from studio.sync.client.admin import AdminApi
from studio.sync.client.auth import User
from studio.sync.client.config import SyncConfig
from studio.sync.client.connection import AppConnection
from studio.sync.client.errors import ClientError
from studio.sync.client.reset import (
    AfterResetCallback,
    BeforeResetCallback,
    ClientResetConfig,
    ClientResetMode,
    finish_interrupted_reset,
)
from studio.sync.client.servers import ServerList, sync_url
from studio.sync.client.session import ErrorCallback, SyncSession


class SyncedRealm(Realm):
    """A :class:`~studio.core.Realm` that syncs in the background.

    It is a Realm in every respect; it adds ``sync_session`` and stops syncing
    when closed. (A subclass rather than an attribute set on a plain Realm so
    that ``close()`` also ends the session and type checkers know the attribute.)
    """

    sync_session: SyncSession

    def close(self) -> None:
        session = self.__dict__.get("sync_session")
        if session is not None and not self.is_closed:
            session.close()
        super().close()


class App:
    """A client of an object server, or of several in front of one store.

    ``App("http://host:port")`` is the server's HTTP base URL; the sync
    websocket is ``/sync`` under it. ``App(["http://a:9080", "http://b:9080"])``
    (or ``"http://a:9080,http://b:9080"``) names several servers sharing one
    store: when the one in use cannot be reached the App moves on to the next
    (servers.py; docs/deployment.md). All sessions of an App share one
    websocket. Use it on a running asyncio loop; ``await app.close()`` (or
    ``async with App(...) as app``) ends everything.
    """

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        config: SyncConfig | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.servers = ServerList(base_url)
        self.base_url = self.servers.urls[0]
        """The first server's URL: the App's identity (local realm files are
        kept and checked under it, whichever server is in use)."""
        self.config = config or SyncConfig()
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd() / "studio-sync"
        self.current_user: User | None = None
        self.users: list[User] = []
        self.admin = AdminApi(self.servers, lambda: self.current_user)
        self._connection: AppConnection | None = None
        self._sessions: dict[str, SyncSession] = {}

    @property
    def sync_url(self) -> str:
        """The sync websocket URL of the server in use."""
        return sync_url(self.servers.current)

    # ------------------------------------------------------------------ users

    async def login(self, username: str, password: str) -> User:
        """Log in (``POST /auth/login``); the user becomes ``app.current_user``.

        Raises :class:`~studio.sync.client.errors.AuthenticationError` for a wrong
        password (``bad_credentials``) or a suspended user (``suspended``).
        """
        answer = await self.servers.request(
            "POST", "/auth/login", {"username": username, "password": password}
        )
        user = User.from_login(self.servers, answer)
        self.users = [u for u in self.users if u.username != user.username] + [user]
        self.current_user = user
        return user

    async def log_out(self, user: User) -> None:
        """Close the user's synced realms and forget its tokens."""
        for session in [s for s in self._sessions.values() if s.user is user]:
            session.realm.close()
        user.logged_in = False
        self.users = [u for u in self.users if u is not user]
        if self.current_user is user:
            self.current_user = self.users[-1] if self.users else None

    # ------------------------------------------------------------------ realms

    async def open_realm(
        self,
        user: User,
        realm_path: str,
        *,
        path: str | os.PathLike[str] | None = None,
        schema: SchemaInput | None = None,
        schema_version: int | None = None,
        migration: MigrationCallback | None = None,
        on_error: ErrorCallback | None = None,
        wait_for_download: bool = False,
        timeout: float | None = None,
        client_reset: ClientResetMode = ClientResetMode.RECOVER,
        on_before_reset: BeforeResetCallback | None = None,
        on_after_reset: AfterResetCallback | None = None,
    ) -> SyncedRealm:
        """Open the local copy of the server realm ``realm_path`` (``/~/name`` for
        the user's own, ``/shared/chat`` ...) and sync it in the background.

        ``path`` is the local file (default: under ``base_dir``, by server, user
        and realm path). The realm is usable at once, offline too; with
        ``wait_for_download=True`` this first waits (at most ``timeout``
        seconds) until what the server has is downloaded. Sync errors go to
        ``on_error(session, error)`` (and ``session.add_error_listener``).

        ``client_reset`` says what happens when the server can no longer sync
        this file (docs/sync-client.md, "Client reset"): ``RECOVER`` (default)
        downloads a fresh copy and replays the unsynced local changes on it,
        ``RECOVER_OR_DISCARD`` discards them if that fails, ``DISCARD_LOCAL``
        drops them, ``MANUAL`` stops the session with an error whose
        ``client_reset_required`` is True. ``on_before_reset(realm)`` runs
        before (the realm still shows the old state) and
        ``on_after_reset(realm, result)`` after the reset
        (:class:`~studio.sync.client.reset.ClientResetResult`: the backup file,
        what was not recovered). A reset that a crash interrupted is finished
        (or undone) here, before syncing starts.
        """
        if not user.logged_in:
            raise ClientError(f"{user.username} has logged out; log in again")
        if not realm_path.startswith("/"):
            raise ValueError(f"a realm path starts with '/', e.g. /~/chat, not {realm_path!r}")
        self._forget_closed()
        file = Path(path) if path is not None else self._default_path(user, realm_path)
        file.parent.mkdir(parents=True, exist_ok=True)
        key = str(file.resolve())
        if key in self._sessions:
            raise ClientError(
                f"{file} is already open and syncing in this App; use that realm object"
            )
        realm = cast(
            SyncedRealm,
            SyncedRealm.open(
                file,
                schema=schema,
                schema_version=schema_version,
                migration=migration,
                record_history=True,
            ),
        )
        reset = ClientResetConfig(client_reset, on_before_reset, on_after_reset)
        try:
            interrupted = finish_interrupted_reset(realm, client_reset)
        except BaseException:
            realm.close()
            raise
        if interrupted is not None and on_after_reset is not None:
            on_after_reset(realm, interrupted)
        try:
            session = SyncSession(
                realm,
                user,
                realm_path,
                self._sync_connection(),
                self.config,
                server_url=self.base_url,
                on_error=on_error,
                client_reset=reset,
            )
        except BaseException:
            realm.close()
            raise
        realm.sync_session = session
        self._sessions[key] = session
        session.add_connection_listener(lambda *_: self._forget_closed())
        if wait_for_download:
            try:
                await session.wait_for_download_completion(timeout)
            except BaseException:
                realm.close()
                raise
        return realm

    def sync_session(self, realm: Realm) -> SyncSession:
        """The sync session of a realm opened by this App."""
        session = getattr(realm, "sync_session", None)
        if not isinstance(session, SyncSession):
            raise ClientError(f"{realm.path} was not opened with App.open_realm")
        return session

    @property
    def sessions(self) -> list[SyncSession]:
        self._forget_closed()
        return list(self._sessions.values())

    def _forget_closed(self) -> None:
        for key in [k for k, s in self._sessions.items() if s.is_closed]:
            del self._sessions[key]

    def _sync_connection(self) -> AppConnection:
        if self._connection is None:
            self._connection = AppConnection(self.servers, self.config)
        return self._connection

    def _default_path(self, user: User, realm_path: str) -> Path:
        netloc = urllib.parse.urlsplit(self.base_url).netloc
        safe = [re.sub(r"[^A-Za-z0-9_.-]", "_", p) for p in realm_path.strip("/").split("/")]
        return self.base_dir.joinpath(
            re.sub(r"[^A-Za-z0-9_.-]", "_", netloc), user.username, *safe
        ).with_suffix(".realm")

    # ------------------------------------------------------------------ server state

    async def health(self) -> dict[str, Any]:
        """``GET /health``."""
        return dict(await self.servers.request("GET", "/health"))

    async def metrics(self) -> str:
        """``GET /metrics`` (Prometheus text)."""
        return str(await self.servers.request("GET", "/metrics") or "")

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Close every synced realm of this App and the connection."""
        for session in list(self._sessions.values()):
            if not session.realm.is_closed:
                session.realm.close()
        self._sessions.clear()
        if self._connection is not None:
            # Give the unbinds a moment to leave; the server copes without them.
            await asyncio.sleep(0)
            await self._connection.close()
            self._connection = None

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        urls = ", ".join(self.servers.urls)
        return f"<App {urls}>"
