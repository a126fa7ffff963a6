"""The admin JSON API (docs/server-api.md): users, realms, permissions,
connections, realm history and the server processes (nodes).

Server admins may do everything. A user with the ``admin`` level on a realm
(including the owner of a ``/~/`` realm) may also read and change that
realm's permissions and read its history: that is what the level means.
"""

from __future__ import annotations

import base64
import time
import urllib.parse
from typing import Any

from aiohttp import web

from studio.core.describe import describe
from studio.server.accounts import check_new_username, user_json
from studio.server.auth import hash_password
from studio.server.cluster import node_view, standalone_row
from studio.server.device_view import MAX_RECENT, device_view
from studio.server.errors import ApiError, BadRequest, Conflict, Forbidden, InvalidPath, NotFound
from studio.server.http_routes import (
    context,
    current_user,
    json_response,
    read_json,
    require_admin,
)
from studio.server.json_body import MAX_PASSWORD_CHARS, string_field
from studio.server.logs import clip, log
from studio.server.paths import MAX_USERNAME_LENGTH, owner_of, resolve_path
from studio.server.permissions import Level, parse_level
from studio.server.storage.base import RealmRecord, UserRecord
from studio.server.storage.cluster_messages import RealmDeleted
from studio.server.storage.errors import AlreadyExists, Missing, StorageError
from studio.sync.changeset import encode_changeset
from studio.sync.errors import CompactionError

MAX_HISTORY_PAGE = 1000


def _path(value: object, user: UserRecord) -> str:
    try:
        return resolve_path(value, user.username)
    except InvalidPath as exc:
        raise BadRequest(str(exc)) from None


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if len(raw) <= 20 else None
    except ValueError:
        value = None
    if value is None:
        raise BadRequest(f"{name} must be an integer, got {clip(raw, 40)!r}")
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def _bool_field(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false")
    return value


def _password_field(body: dict[str, Any], required: bool) -> str | None:
    return string_field(body, "password", MAX_PASSWORD_CHARS, required=required)


def _username_param(request: web.Request) -> str:
    """The user named in the URL; a name no user can have is not looked up."""
    username = request.match_info["username"]
    if len(username) > MAX_USERNAME_LENGTH:
        raise NotFound(f"there is no user {clip(username, 40)!r}")
    return username


# ---------------------------------------------------------------------------- users


async def _user_realms(
    request: web.Request, user: UserRecord, records: list[RealmRecord] | None = None
) -> list[dict[str, str]]:
    """The realms a user owns (level admin) or was granted a level on."""
    ctx = context(request)
    if records is None:
        records = await ctx.run(ctx.storage.list_realms)
    owned = [r.path for r in records if r.owner == user.username]
    granted = await ctx.run(ctx.storage.user_permissions, user.username)
    realms = [{"path": p, "level": "admin"} for p in owned]
    realms += [{"path": p, "level": level} for p, level in granted if p not in owned]
    return realms


async def list_users(request: web.Request) -> web.Response:
    await require_admin(request)
    ctx = context(request)
    users = await ctx.run(ctx.storage.list_users)
    records = await ctx.run(ctx.storage.list_realms)
    return json_response(
        {"users": [user_json(u, await _user_realms(request, u, records)) for u in users]}
    )


async def create_user(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    ctx = context(request)
    body = await read_json(request)
    username = check_new_username(body.get("username"))
    password = _password_field(body, required=True)
    assert password is not None
    is_admin = bool(_bool_field(body, "is_admin"))
    hashed = await ctx.run(hash_password, password, ctx.config.scrypt_n)
    user = UserRecord(username, hashed, is_admin, False, time.time())
    try:
        await ctx.run(ctx.storage.create_user, user)
    except AlreadyExists:
        raise Conflict(f"user {username!r} already exists", code="exists") from None
    log(20, "user_created", user=username, is_admin=is_admin, by=admin.username)
    return json_response(user_json(user, []), 201)


async def _check_not_last_admin(request: web.Request, username: str) -> None:
    ctx = context(request)
    users = await ctx.run(ctx.storage.list_users)
    active_admins = [u.username for u in users if u.is_admin and not u.suspended]
    if active_admins == [username]:
        raise Conflict(
            f"{username} is the last active admin; make another admin first", code="last_admin"
        )


async def update_user(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    ctx = context(request)
    username = _username_param(request)
    body = await read_json(request)
    unknown = set(body) - {"password", "is_admin", "suspended"}
    if unknown:
        shown = [clip(name, 40) for name in sorted(unknown)[:5]]
        raise BadRequest(f"unknown fields {shown}; use password, is_admin, suspended")
    password = _password_field(body, required=False)
    is_admin = _bool_field(body, "is_admin")
    suspended = _bool_field(body, "suspended")
    if is_admin is False or suspended is True:
        await _check_not_last_admin(request, username)
    hashed = await ctx.run(hash_password, password, ctx.config.scrypt_n) if password else None
    try:
        user = await ctx.run(
            lambda: ctx.storage.update_user(
                username, password_hash=hashed, is_admin=is_admin, suspended=suspended
            )
        )
    except Missing:
        raise NotFound(f"there is no user {username!r}") from None
    log(20, "user_updated", user=username, by=admin.username, fields=sorted(body))
    if is_admin is not None or suspended is not None:
        await ctx.access_changed(user=username)
    return json_response(user_json(user, await _user_realms(request, user)))


async def delete_user(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    ctx = context(request)
    username = _username_param(request)
    await _check_not_last_admin(request, username)
    try:
        await ctx.run(ctx.storage.delete_user, username)
    except Missing:
        raise NotFound(f"there is no user {username!r}") from None
    log(20, "user_deleted", user=username, by=admin.username)
    await ctx.access_changed(user=username)
    return web.Response(status=204)


# ---------------------------------------------------------------------------- realms


async def _realm_json(request: web.Request, record: RealmRecord) -> dict[str, Any]:
    ctx = context(request)
    stats = await ctx.hub.stats(record.path)
    loaded = ctx.hub.get(record.path)
    return {
        "path": record.path,
        "owner": record.owner,
        "created": record.created,
        "size": stats.size_bytes,
        "objects": stats.objects,
        "clients": loaded.session_count if loaded else 0,
        "server_version": loaded.history.latest_version if loaded else stats.server_version,
        "state_version": stats.state_version,
        "state_error": stats.state_error,
        "last_activity": loaded.last_activity if loaded else stats.modified,
    }


async def list_realms(request: web.Request) -> web.Response:
    await require_admin(request)
    ctx = context(request)
    records = await ctx.run(ctx.storage.list_realms)
    return json_response({"realms": [await _realm_json(request, r) for r in records]})


async def create_realm(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    ctx = context(request)
    path = _path((await read_json(request)).get("path"), admin)
    try:
        record = await ctx.run(ctx.storage.create_realm, path, owner_of(path))
    except AlreadyExists:
        raise Conflict(f"realm {path} already exists", code="exists") from None
    log(20, "realm_created", realm=path, by=admin.username)
    return json_response(await _realm_json(request, record), 201)


async def delete_realm(request: web.Request) -> web.Response:
    admin = await require_admin(request)
    ctx = context(request)
    path = _path(request.query.get("path"), admin)
    if await ctx.run(ctx.storage.get_realm, path) is None:
        raise NotFound(f"there is no realm {path}")
    await ctx.drop_realm(path, f"realm {path} was deleted by an admin")
    try:
        await ctx.run(ctx.storage.delete_realm, path)
    except Missing:
        raise NotFound(f"there is no realm {path}") from None
    if ctx.cluster is not None:
        ctx.cluster.tell(RealmDeleted(ctx.cluster.node, path))
    log(20, "realm_deleted", realm=path, by=admin.username)
    return web.Response(status=204)


async def compact_realm(request: web.Request) -> web.Response:
    """``POST /admin/realms/{realm}/compact`` (the realm's path, its slashes
    as they are or %2F-encoded) or ``POST /admin/realms/compact?path=``:
    compact its history now, as far as the clients allow (compaction.py)."""
    admin = await require_admin(request)
    ctx = context(request)
    raw = request.match_info.get("realm")
    if raw is None:
        raw = request.query.get("path")
    else:
        raw = urllib.parse.unquote(raw)
        raw = raw if raw.startswith("/") else "/" + raw
    path = _path(raw, admin)
    if await ctx.run(ctx.storage.get_realm, path) is None:
        raise NotFound(f"there is no realm {path}")
    try:
        result = await ctx.compactor.compact(path)
    except CompactionError as exc:
        raise Conflict(
            f"the history of {path} cannot be compacted (nothing changed): {exc}",
            code="not_compactable",
        ) from None
    except StorageError as exc:
        log(40, "compaction_failed", realm=path, error=str(exc))
        raise Conflict(
            f"compacting {path} failed and changed nothing: {exc}; try again",
            code="compaction_failed",
        ) from None
    log(20, "realm_compact_requested", realm=path, by=admin.username, compacted=result.compacted)
    return json_response(result.as_json())


async def realm_history(request: web.Request) -> web.Response:
    user = await current_user(request)
    ctx = context(request)
    path = _path(request.query.get("path"), user)
    await _require_realm_admin(request, user, path)
    since = _int_param(request, "since", 0, 0, 2**62)
    limit = _int_param(request, "limit", 100, 1, MAX_HISTORY_PAGE)
    raw = request.query.get("raw", "0")
    if raw not in ("0", "1"):
        raise BadRequest(f"raw must be 0 or 1, not {clip(raw)!r}")
    loaded = ctx.hub.get(path)
    if loaded is not None:
        store = loaded.store
        entries = await ctx.run(store.read_history, since, limit)
    else:
        store = await ctx.run(ctx.storage.open_realm, path)
        try:
            entries = await ctx.run(store.read_history, since, limit)
        finally:
            await ctx.run(store.close)
    rows = []
    for s in entries:
        row: dict[str, Any] = {
            "server_version": s.entry.server_version,
            "origin_file_ident": s.entry.origin_file_ident,
            "client_version": s.entry.client_version,
            "user": s.user,
            "timestamp_ms": s.entry.timestamp_ms,
            "integrated_at_ms": s.entry.integrated_at_ms,
            "instructions": [describe(i) for i in s.entry.changeset.instructions],
        }
        if raw == "1":  # what the Studio replays to show the realm as of a version
            encoded = s.encoded if s.encoded is not None else encode_changeset(
                s.entry.changeset)
            row["changeset"] = base64.b64encode(encoded).decode("ascii")
        rows.append(row)
    return json_response({"changesets": rows})


# ---------------------------------------------------------------------------- permissions


async def _require_realm_admin(request: web.Request, user: UserRecord, path: str) -> None:
    ctx = context(request)
    if await ctx.accounts.level(user, path) < Level.ADMIN:
        raise Forbidden(f"{user.username} is not an admin of {path}")
    if await ctx.run(ctx.storage.get_realm, path) is None:
        raise NotFound(f"there is no realm {path}")


async def list_permissions(request: web.Request) -> web.Response:
    user = await current_user(request)
    ctx = context(request)
    path = _path(request.query.get("path"), user)
    await _require_realm_admin(request, user, path)
    grants = await ctx.run(ctx.storage.list_permissions, path)
    return json_response(
        {
            "path": path,
            "permissions": [{"username": u, "level": level} for u, level in grants],
        }
    )


async def _grant_target(request: web.Request) -> tuple[UserRecord, str, str, dict[str, Any]]:
    user = await current_user(request)
    ctx = context(request)
    body = await read_json(request)
    path = _path(body.get("path"), user)
    username = string_field(body, "username", MAX_USERNAME_LENGTH)
    assert username is not None
    if await ctx.accounts.level(user, path) < Level.ADMIN:
        raise Forbidden(f"{user.username} is not an admin of {path}")
    return user, path, username, body


async def set_permission(request: web.Request) -> web.Response:
    user, path, username, body = await _grant_target(request)
    ctx = context(request)
    level = parse_level(body.get("level"))
    # Only server admins (who may list users anyway) learn that a name has no
    # account. For a realm's own admin the grant is recorded by name either
    # way, with the same answer, and lists the same afterwards: it applies to
    # nobody until an account of that name exists.
    if user.is_admin and await ctx.run(ctx.storage.get_user, username) is None:
        raise NotFound(f"there is no user {username!r}")
    if await ctx.run(ctx.storage.get_realm, path) is None:
        try:  # granting access to a realm that does not exist yet creates it
            await ctx.run(ctx.storage.create_realm, path, owner_of(path))
        except AlreadyExists:
            pass
    await ctx.run(ctx.storage.set_permission, path, username, level.label)
    log(20, "permission_set", realm=path, user=username, level=level.label, by=user.username)
    await ctx.access_changed(path=path, user=username)
    return json_response({"path": path, "username": username, "level": level.label})


async def revoke_permission(request: web.Request) -> web.Response:
    user, path, username, _ = await _grant_target(request)
    ctx = context(request)
    if not await ctx.run(ctx.storage.revoke_permission, path, username):
        raise NotFound(f"{username} has no permission on {path}")
    log(20, "permission_revoked", realm=path, user=username, by=user.username)
    await ctx.access_changed(path=path, user=username)
    return web.Response(status=204)


# ---------------------------------------------------------------------------- connections


async def list_connections(request: web.Request) -> web.Response:
    await require_admin(request)
    ctx = context(request)
    return json_response({"connections": [c.describe() for c in ctx.connections.values()]})


async def connection_device(request: web.Request) -> web.Response:
    """One connection's sessions: client file ident, integrated vs latest server version,
    recent uploads (device_view.py)."""
    await require_admin(request)
    ctx = context(request)
    ident = _int_param(request, "id", 0, 0, 2**62)
    recent = _int_param(request, "recent", 20, 0, MAX_RECENT)
    connection = ctx.connections.get(ident)
    if connection is None:
        raise NotFound(f"there is no connection {ident} (it may have closed)")
    return json_response(device_view(connection, recent))


# ---------------------------------------------------------------------------- nodes


async def list_nodes(request: web.Request) -> web.Response:
    """The server processes serving this store (one, without a shared store)."""
    await require_admin(request)
    ctx = context(request)
    if ctx.cluster is None:
        nodes = [node_view(standalone_row(ctx), time.time(), this=True)]
    else:
        try:
            nodes = await ctx.cluster.nodes()
        except StorageError as exc:
            raise ApiError(
                f"the nodes table cannot be read right now ({exc}); try again",
                code="unavailable",
                status=503,
            ) from exc
    return json_response({"nodes": nodes})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/admin/users", list_users)
    r.add_post("/admin/users", create_user)
    r.add_patch("/admin/users/{username}", update_user)
    r.add_delete("/admin/users/{username}", delete_user)
    r.add_get("/admin/realms", list_realms)
    r.add_post("/admin/realms", create_realm)
    r.add_delete("/admin/realms", delete_realm)
    r.add_get("/admin/realms/history", realm_history)
    r.add_post("/admin/realms/compact", compact_realm)
    r.add_post("/admin/realms/{realm:.+}/compact", compact_realm)
    r.add_get("/admin/permissions", list_permissions)
    r.add_put("/admin/permissions", set_permission)
    r.add_delete("/admin/permissions", revoke_permission)
    r.add_get("/admin/connections", list_connections)
    r.add_get("/admin/connections/device", connection_device)
    r.add_get("/admin/nodes", list_nodes)
