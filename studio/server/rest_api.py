"""The REST data API (docs/server-api.md, "REST data API"): objects of a
realm read and written over HTTP with the access tokens of ``/auth/login``.

Writes go the way of every upload: a changeset from the realm's server
client file ident (reserved once per realm, owned by nobody who can bind),
based on the latest server version and stamped with the server's clock, is
checked by the realm's upload check, integrated into the history, handed to
the commit thread and answered once it is stored; devices download it like
any other change. Nothing writes the realm around that path.

Reads come from the realm's state file (rest_reads.py). A caller's read
waits (up to :data:`READ_WAIT` seconds) until the state has applied that
caller's latest write to the realm, so a read after a write sees it; other
changes show up as soon as the state worker applies them (a fraction of a
second, ``state_delay``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from aiohttp import web

from studio.primitives.instructions import Changeset, Instruction, Link
from studio.server import idents
from studio.server.errors import ApiError, BadRequest, Conflict, Forbidden, InvalidPath, NotFound
from studio.server.http_routes import context, current_user, json_response, read_json
from studio.server.keys import CONTEXT
from studio.server.paths import resolve_path
from studio.server.permissions import Level
from studio.server.realms import LoadedRealm
from studio.server.rest_openapi import Route, openapi_document
from studio.server.rest_reads import (
    MAX_QUERY_CHARS,
    ClassNotInState,
    PageRequest,
    StateBehind,
    object_exists,
    read_object,
    read_page,
)
from studio.server.rest_values import (
    create_instructions,
    erase_instructions,
    primary_key_from_text,
    update_instructions,
)
from studio.server.storage.base import ClientIdent, UserRecord
from studio.server.storage.errors import StorageError
from studio.sync.errors import SyncError
from studio.sync.upload_check import ClassInfo

_T = TypeVar("_T")

SERVER_CLIENT: Final = "(server)"
"""The name the realm's server client file ident is recorded under: no
account can have it (paths.validate_username), so no device can bind as it."""
DEFAULT_PAGE: Final = 100
MAX_PAGE: Final = 1000
READ_WAIT: Final = 10.0
"""Seconds a read waits for the state to apply the caller's own writes."""
_POLL: Final = 0.01


@dataclass(slots=True)
class RestState:
    written: dict[tuple[str, str], int]
    """(user id, realm path) -> the server version of that user's latest REST write."""


REST_STATE: Final = web.AppKey("rest_state", RestState)


# ---------------------------------------------------------------------------- helpers


@dataclass(slots=True)
class _Target:
    user: UserRecord
    path: str
    realm: LoadedRealm


async def _target(request: web.Request, need: Level) -> _Target:
    """The caller, the realm of the URL (loaded, a reference held: release
    it) and a check of the caller's level on it."""
    ctx = context(request)
    user = await current_user(request)
    raw = request.match_info["realm"]
    try:
        path = resolve_path(raw, user.username)
    except InvalidPath as exc:
        raise BadRequest(
            f"realm: {exc} (URL-encode the path as one segment: %2Fshared%2Fchat)"
        ) from None
    record = await ctx.run(ctx.storage.get_realm, path)
    if record is None:
        raise NotFound(f"there is no realm {path}", code="no_such_realm")
    level = await ctx.accounts.level(user, path, record)
    if level < need:
        what = "read" if need == Level.READ else "write to"
        raise Forbidden(f"{user.username} may not {what} {path}", code="permission_denied")
    try:
        realm = await ctx.hub.acquire(path)
    except StorageError as exc:
        raise ApiError(
            f"the realm {path} cannot be opened now ({exc}); try again later",
            code="unavailable",
            status=503,
        ) from None
    return _Target(user, path, realm)


def _class(target: _Target, name: str) -> ClassInfo:
    info = target.realm.current_schema().classes.get(name)
    if info is None or info.embedded:
        raise NotFound(f"{target.path} has no class {name[:100]!r}", code="no_such_class")
    return info


def _state_file(target: _Target) -> Path:
    file = target.realm.store.state_file()
    if file is None:
        raise ApiError("this storage backend keeps no realm state", code="unavailable", status=503)
    return file


async def _read(
    request: web.Request, target: _Target, min_version: int, fn: Callable[..., _T], *args: Any
) -> _T:
    """``fn(state_file, min_version, *args)`` on an I/O thread, once the
    state has applied ``min_version`` (retried until :data:`READ_WAIT`)."""
    ctx = context(request)
    file = _state_file(target)
    deadline = time.monotonic() + READ_WAIT
    while True:
        try:
            return await ctx.run(fn, file, min_version, *args)
        except ClassNotInState:
            # The class is in the history (checked): the state is behind.
            latest = target.realm.history.latest_version
            if min_version >= latest:
                raise ApiError(
                    f"the state of {target.path} lacks a class of its history; try again",
                    code="state_behind",
                    status=503,
                ) from None
            min_version = latest
        except StateBehind:
            if time.monotonic() >= deadline:
                raise ApiError(
                    f"the state of {target.path} has not caught up with version {min_version} "
                    f"within {READ_WAIT:g} s; try again",
                    code="state_behind",
                    status=503,
                ) from None
            ctx.hub.schedule_state(target.realm, delay=0)
            await asyncio.sleep(_POLL)


def _own_version(request: web.Request, target: _Target) -> int:
    return request.app[REST_STATE].written.get((target.user.user_id, target.path), 0)


def _server_ident(realm: LoadedRealm) -> int:
    """The realm's client file ident for REST writes (reserved on first use,
    stored with the next commit)."""
    for record in realm.idents.values():
        if record.user == SERVER_CLIENT and record.user_id is None:
            return record.ident
    ident = realm.history.allocate_file_ident()
    realm.add_ident(ClientIdent(ident, SERVER_CLIENT, None, idents.new_salt()))
    return ident


async def _write(request: web.Request, target: _Target, instructions: list[Instruction]) -> int:
    """Integrate ``instructions`` as one changeset from the server; returns
    its server version once it is stored."""
    ctx = context(request)
    realm = target.realm
    history = realm.history
    ident = _server_ident(realm)
    now_ms = int(time.time() * 1000)
    changeset = Changeset(
        ident,
        history.last_client_version(ident) + 1,
        history.latest_version,
        now_ms,
        tuple(instructions),
    )
    try:
        realm.check_upload([changeset], now_ms)
        result = history.integrate(ident, [changeset], now_ms=now_ms)
    except SyncError as exc:
        raise BadRequest(f"the change does not fit the realm: {exc}", code="bad_change") from None
    realm.add_entries(result.entries, target.user.username, ident)
    seq = ctx.committer.note(realm)
    ctx.hub.schedule_state(realm)
    ctx.metrics.uploads.inc(len(result.entries))
    version = result.entries[-1].server_version
    request.app[REST_STATE].written[(target.user.user_id, target.path)] = version
    await ctx.committer.wait(seq)
    if realm.failed:
        raise ApiError(
            "the server could not store the change; try again", code="unavailable", status=503
        )
    return version


async def _check_links(
    request: web.Request, target: _Target, instructions: list[Instruction]
) -> None:
    """A link must name an existing object (a device's link to a missing one
    would merge to null; over REST that is a mistake to report)."""
    latest = target.realm.history.latest_version
    for ins in instructions:
        link = getattr(ins, "value", None)  # Set, ListInsert, SetInsert, DictSet
        if isinstance(link, Link) and not await _read(
            request, target, latest, object_exists, link.class_name, link.primary_key
        ):
            path = getattr(ins, "path", ("?",))
            raise BadRequest(
                f"{getattr(ins, 'class_name', '?')}.{path[0]} links to a {link.class_name} "
                f"with primary key {link.primary_key!r:.100}, and there is none"
            )


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return DEFAULT_PAGE
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_PAGE}")
    value = int(raw)
    if not 1 <= value <= MAX_PAGE:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_PAGE}")
    return value


async def _body(request: web.Request) -> dict[str, Any]:
    return await read_json(request)


def _with_target(
    need: Level, handler: Callable[[web.Request, _Target], Awaitable[web.StreamResponse]]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        target = await _target(request, need)
        try:
            return await handler(request, target)
        finally:
            context(request).hub.release(target.realm)

    return wrapped


# ---------------------------------------------------------------------------- handlers


async def list_objects(request: web.Request, target: _Target) -> web.StreamResponse:
    name = request.match_info["cls"]
    _class(target, name)
    query = request.query.get("query") or None
    if query is not None and len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"query has more than {MAX_QUERY_CHARS} characters")
    page = PageRequest(
        name, query, request.query.get("sort") or None, _limit(request), request.query.get("after")
    )
    body = await _read(request, target, _own_version(request, target), read_page, page)
    return json_response(body)


async def create_object(request: web.Request, target: _Target) -> web.StreamResponse:
    info = _class(target, request.match_info["cls"])
    body = await _body(request)
    pk, instructions = create_instructions(target.realm.current_schema(), info, body)
    # Whether it exists, as of everything integrated so far.
    latest = target.realm.history.latest_version
    if await _read(request, target, latest, object_exists, info.name, pk):
        raise Conflict(f"{info.name} {pk!r:.100} exists already; PATCH it", code="exists")
    await _check_links(request, target, instructions)
    version = await _write(request, target, instructions)
    obj = await _read(request, target, version, read_object, info.name, pk)
    return json_response(obj, status=201)


async def _existing(request: web.Request, target: _Target) -> tuple[ClassInfo, Any]:
    info = _class(target, request.match_info["cls"])
    pk = primary_key_from_text(info, request.match_info["pk"])
    latest = target.realm.history.latest_version
    if not await _read(request, target, latest, object_exists, info.name, pk):
        raise NotFound(
            f"there is no {info.name} with primary key {pk!r:.100}", code="no_such_object"
        )
    return info, pk


async def get_object(request: web.Request, target: _Target) -> web.StreamResponse:
    info = _class(target, request.match_info["cls"])
    pk = primary_key_from_text(info, request.match_info["pk"])
    try:
        obj = await _read(
            request, target, _own_version(request, target), read_object, info.name, pk
        )
    except NotFound as exc:
        raise NotFound(exc.message, code="no_such_object") from None
    return json_response(obj)


async def patch_object(request: web.Request, target: _Target) -> web.StreamResponse:
    info = _class(target, request.match_info["cls"])
    body = await _body(request)
    pk = primary_key_from_text(info, request.match_info["pk"])
    instructions = update_instructions(target.realm.current_schema(), info, pk, body)
    await _existing(request, target)
    await _check_links(request, target, instructions)
    version = await _write(request, target, instructions) if instructions else 0
    obj = await _read(request, target, version, read_object, info.name, pk)
    return json_response(obj)


async def delete_object(request: web.Request, target: _Target) -> web.StreamResponse:
    info, pk = await _existing(request, target)
    await _write(request, target, erase_instructions(info, pk))
    return web.Response(status=204)


async def openapi(request: web.Request) -> web.StreamResponse:
    return json_response(openapi_document(ROUTES, request.app[CONTEXT].version))


# ---------------------------------------------------------------------------- routes

_OBJECTS = "/api/v1/realms/{realm}/classes/{cls}/objects"
_OBJECT = _OBJECTS + "/{pk}"

ROUTES: Final = (
    Route(
        "GET",
        _OBJECTS,
        "listObjects",
        "List objects (RQL query, sort, cursor pages)",
        _with_target(Level.READ, list_objects),
        200,
    ),
    Route(
        "POST",
        _OBJECTS,
        "createObject",
        "Create an object",
        _with_target(Level.WRITE, create_object),
        201,
        body=True,
    ),
    Route(
        "GET",
        _OBJECT,
        "getObject",
        "Read one object by primary key",
        _with_target(Level.READ, get_object),
        200,
    ),
    Route(
        "PATCH",
        _OBJECT,
        "updateObject",
        "Set some properties of an object",
        _with_target(Level.WRITE, patch_object),
        200,
        body=True,
    ),
    Route(
        "DELETE",
        _OBJECT,
        "deleteObject",
        "Delete an object",
        _with_target(Level.WRITE, delete_object),
        204,
    ),
)
"""The REST API: the routes served and the OpenAPI document come from here."""


def add_routes(app: web.Application) -> None:
    app[REST_STATE] = RestState({})
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    app.router.add_get("/api/openapi.json", openapi)
