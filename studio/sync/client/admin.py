"""The server's admin API (docs/server-api.md), for users with the admin flag.

Every call uses the access token of the App's current user (the last one
logged in) unless the API object was made for a specific user with
:meth:`AdminApi.as_user`. A token refused as expired is refreshed once and
the call repeated.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from studio.sync.client import http
from studio.sync.client.auth import User
from studio.sync.client.errors import ApiError, ClientError
from studio.sync.client.servers import ServerList

Level = Literal["read", "write", "admin"]
LEVELS: frozenset[str] = frozenset({"read", "write", "admin"})


class AdminApi:
    """``app.admin``: users, realms, permissions, connections and the event stream."""

    def __init__(
        self, base_url: str | ServerList, current_user: Callable[[], User | None]
    ) -> None:
        """``base_url``: the server, or the App's servers (calls go to the
        one in use and move on when it cannot be reached)."""
        self._servers = base_url if isinstance(base_url, ServerList) else ServerList(base_url)
        self._current_user = current_user

    def as_user(self, user: User) -> AdminApi:
        """The admin API acting as ``user`` rather than the App's current user."""
        return AdminApi(self._servers, lambda: user)

    def _user(self) -> User:
        user = self._current_user()
        if user is None or not user.logged_in:
            raise ClientError("the admin API needs a logged-in admin user: await app.login(...)")
        return user

    async def _call(self, method: str, path: str, body: Any | None = None) -> Any:
        user = self._user()
        token = await user.access_token_for_use()
        try:
            return await self._servers.request(method, path, body, token=token)
        except ApiError as exc:
            if exc.status != 401:
                raise
        await user.refresh()  # the token was refused (expired early, key rotated): once more
        return await self._servers.request(method, path, body, token=user.access_token)

    # ------------------------------------------------------------------ users

    async def list_users(self) -> list[dict[str, Any]]:
        answer = await self._call("GET", "/admin/users")
        return list(answer["users"])

    async def create_user(
        self, username: str, password: str, *, is_admin: bool = False
    ) -> dict[str, Any]:
        body = {"username": username, "password": password, "is_admin": is_admin}
        return dict(await self._call("POST", "/admin/users", body))

    async def update_user(
        self,
        username: str,
        *,
        password: str | None = None,
        is_admin: bool | None = None,
        suspended: bool | None = None,
    ) -> dict[str, Any]:
        """Change any of password, admin flag and suspension of a user."""
        body: dict[str, Any] = {}
        if password is not None:
            body["password"] = password
        if is_admin is not None:
            body["is_admin"] = is_admin
        if suspended is not None:
            body["suspended"] = suspended
        if not body:
            raise ValueError("update_user needs at least one of password, is_admin, suspended")
        return dict(await self._call("PATCH", f"/admin/users/{_segment(username)}", body))

    async def set_password(self, username: str, password: str) -> dict[str, Any]:
        return await self.update_user(username, password=password)

    async def set_admin(self, username: str, is_admin: bool = True) -> dict[str, Any]:
        return await self.update_user(username, is_admin=is_admin)

    async def suspend_user(self, username: str, suspended: bool = True) -> dict[str, Any]:
        return await self.update_user(username, suspended=suspended)

    async def delete_user(self, username: str) -> None:
        await self._call("DELETE", f"/admin/users/{_segment(username)}")

    # ------------------------------------------------------------------ realms

    async def list_realms(self) -> list[dict[str, Any]]:
        """Realms with path, owner, size, objects, clients, server_version, last_activity."""
        answer = await self._call("GET", "/admin/realms")
        return list(answer["realms"])

    async def create_realm(self, path: str) -> dict[str, Any]:
        return dict(await self._call("POST", "/admin/realms", {"path": path}))

    async def delete_realm(self, path: str) -> None:
        await self._call("DELETE", "/admin/realms?" + urllib.parse.urlencode({"path": path}))

    async def compact_realm(self, path: str) -> dict[str, Any]:
        """Compact the realm's history now (admin only): ``{realm, compacted,
        base_version, versions_before, versions_after, bytes_before,
        bytes_after, seconds, reason}``."""
        return dict(await self._call("POST", f"/admin/realms/{_segment(path)}/compact"))

    async def realm_history(
        self, path: str, since: int = 0, limit: int = 100, *, raw: bool = False
    ) -> list[dict[str, Any]]:
        """Changesets after server version ``since``; ``raw``: each with its wire bytes
        too (``"changeset"``, base64), to replay them."""
        fields: dict[str, Any] = {"path": path, "since": since, "limit": limit}
        if raw:
            fields["raw"] = 1
        query = urllib.parse.urlencode(fields)
        answer = await self._call("GET", "/admin/realms/history?" + query)
        return list(answer["changesets"])

    # ------------------------------------------------------------------ permissions

    async def get_permissions(self, path: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"path": path})
        answer = await self._call("GET", "/admin/permissions?" + query)
        return list(answer["permissions"])

    async def set_permission(self, realm_path: str, username: str, level: Level) -> None:
        """Grant ``username`` ``read``, ``write`` or ``admin`` on ``realm_path``."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of read, write, admin, not {level!r}")
        body = {"path": realm_path, "username": username, "level": level}
        await self._call("PUT", "/admin/permissions", body)

    async def revoke_permission(self, realm_path: str, username: str) -> None:
        await self._call("DELETE", "/admin/permissions", {"path": realm_path, "username": username})

    # ------------------------------------------------------------------ live state

    async def list_connections(self) -> list[dict[str, Any]]:
        answer = await self._call("GET", "/admin/connections")
        return list(answer["connections"])

    async def connection_device(self, connection_id: int, recent: int = 20) -> dict[str, Any]:
        """One connection in detail (``GET /admin/connections/device``): per session its
        realm, client file ident, integrated and latest server versions, missing versions
        and ``recent`` latest uploads."""
        query = urllib.parse.urlencode({"id": connection_id, "recent": recent})
        return dict(await self._call("GET", "/admin/connections/device?" + query))

    async def list_nodes(self) -> list[dict[str, Any]]:
        """The server processes serving the store (``GET /admin/nodes``)."""
        answer = await self._call("GET", "/admin/nodes")
        return list(answer["nodes"])

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The admin event stream (``/admin/events``) as decoded JSON events, until
        the server closes it or the iteration stops. The events are those of
        the server in use (each server process has its own)."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        user = self._user()
        token = await user.access_token_for_use()
        parts = urllib.parse.urlsplit(self._servers.current)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}{parts.path}/admin/events?" + urllib.parse.urlencode(
            {"token": token}
        )
        proxy: Literal[True] | None = None if http.is_loopback(parts.hostname or "") else True
        async with connect(url, proxy=proxy, max_size=None) as ws:
            try:
                async for frame in ws:
                    text = frame if isinstance(frame, str) else frame.decode("utf-8")
                    yield json.loads(text)
            except ConnectionClosed:
                return


def _segment(name: str) -> str:
    return urllib.parse.quote(name, safe="")
