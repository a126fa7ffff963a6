"""Public HTTP routes (``/health``, ``/metrics``, ``/auth/...``), the JSON
error middleware and the request helpers the admin API shares."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from studio.server.connection_guard import address_key
from studio.server.context import ServerContext
from studio.server.errors import ApiError, Forbidden, TooManyRequests, Unauthorized
from studio.server.json_body import (
    MAX_PASSWORD_CHARS,
    MAX_TOKEN_CHARS,
    read_json_body,
    string_field,
)
from studio.server.keys import CONTEXT
from studio.server.logs import clip, log
from studio.server.paths import MAX_USERNAME_LENGTH
from studio.server.storage.base import UserRecord
from studio.server.storage.errors import (
    AlreadyExists,
    Missing,
    QuotaExceeded,
    StorageError,
    VersionConflict,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


STORE_RETRY_AFTER: Final = 2
"""Seconds a client is asked to wait when the store is unavailable (503)."""


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error answer is ``{"error": {"code", "message"}}`` (docs/server-api.md)."""
    try:
        return await handler(request)
    except ApiError as exc:
        response = json_response(error_body(exc.code, exc.message), exc.status)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(math.ceil(exc.retry_after))
        if exc.status == 408:
            # Answered now, then closed: the rest of a slow body is not
            # waited for (aiohttp would read it for another 10 s).
            response.force_close()
            await response.prepare(request)
            await response.write_eof()
            if request.transport is not None:
                request.transport.close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status, "http_error"
        )
        message = exc.reason
        if exc.status == 404:
            message = f"no such endpoint: {request.method} {clip(request.path)}"
        return json_response(error_body(code, message), exc.status)
    except Exception as exc:
        if _store_unavailable(exc):
            return _unavailable_answer(request, exc)
        log(
            40,
            "http_internal_error",
            method=clip(request.method),
            path=clip(request.path),
            error=clip(f"{type(exc).__name__}: {exc}", 1000),
        )
        return json_response(error_body("internal", "internal server error"), 500)


def _store_unavailable(exc: Exception) -> bool:
    """The store failed to serve (PostgreSQL restarting or failing over, a
    disk error): retryable, unlike a bug. Its answers (a user exists, a
    realm is missing ...) are not failures and are handled by the routes."""
    return isinstance(exc, StorageError) and not isinstance(
        exc, AlreadyExists | Missing | QuotaExceeded | VersionConflict
    )


def _unavailable_answer(request: web.Request, exc: Exception) -> web.Response:
    """503 ``store_unavailable``: a load balancer, or a client of several
    servers, may try another one (docs/deployment.md)."""
    log(40, "http_store_unavailable", method=clip(request.method),
        path=clip(request.path), error=clip(str(exc), 1000))  # fmt: skip
    response = json_response(
        error_body(
            "store_unavailable",
            "the server cannot reach its data store right now; try again shortly",
        ),
        503,
    )
    response.headers["Retry-After"] = str(STORE_RETRY_AFTER)
    return response


def context(request: web.Request) -> ServerContext:
    return request.app[CONTEXT]


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, read within the server's limits
    (json_body.py): every route that takes a body reads it here."""
    config = context(request).config
    return await read_json_body(request, config.limits.max_http_body, config.http.body_timeout)


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <access token>' (from /auth/login)")
    return token.strip()


async def current_user(request: web.Request) -> UserRecord:
    return await context(request).accounts.authenticate(bearer_token(request))


async def require_admin(request: web.Request) -> UserRecord:
    user = await current_user(request)
    if not user.is_admin:
        raise Forbidden(f"{user.username} is not an admin; this needs an admin user")
    return user


# ---------------------------------------------------------------------------- routes


async def health(request: web.Request) -> web.Response:
    ctx = context(request)
    body: dict[str, Any] = {
        "status": "ok",
        "version": ctx.version,
        "uptime_s": round(time.time() - ctx.started, 3),
    }
    state_errors = ctx.hub.state_errors
    if state_errors:
        # Serving, but a realm's state file stopped following its history.
        body["status"] = "degraded"
        body["problems"] = [
            {"realm": path, "kind": "state", "error": error}
            for path, error in sorted(state_errors.items())
        ]
    return json_response(body)


async def metrics(request: web.Request) -> web.Response:
    text = context(request).metrics.render()
    return web.Response(
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Prometheus-Format": "0.0.4"},
    )


async def login(request: web.Request) -> web.Response:
    ctx = context(request)
    address = request.remote or "unknown"
    try:
        body = await read_json(request)
        # Sizes first: nothing is kept, logged or hashed of an overlong field.
        # Empty ones are wrong credentials (401), as they always were.
        name = string_field(body, "username", MAX_USERNAME_LENGTH, allow_empty=True)
        password = string_field(body, "password", MAX_PASSWORD_CHARS, allow_empty=True)
    except ApiError as exc:
        ctx.metrics.logins.inc(label=exc.code)
        log(30, "login_refused", code=exc.code, reason=clip(exc.message), address=address)
        raise
    assert name is not None and password is not None
    throttle = ctx.login_throttle
    counted_as = address_key(address)
    try:
        wait = throttle.retry_after(name, counted_as)
        if wait > 0:
            raise TooManyRequests(
                f"too many failed logins for {name!r} from {address}; "
                f"try again in {math.ceil(wait)} s",
                retry_after=wait,
            )
        try:
            tokens = await ctx.accounts.login(name, password)
        except ApiError as exc:
            if exc.code == "bad_credentials":
                throttle.failed(name, counted_as)
            raise
    except ApiError as exc:
        ctx.metrics.logins.inc(label=exc.code)
        log(30, "login_failed", user=name, code=exc.code, address=address)
        raise
    throttle.succeeded(name, counted_as)
    ctx.metrics.logins.inc(label="ok")
    log(20, "login", user=tokens["user"]["username"], address=address)
    return json_response(tokens)


async def refresh(request: web.Request) -> web.Response:
    body = await read_json(request)
    token = string_field(body, "refresh_token", MAX_TOKEN_CHARS)
    tokens = await context(request).accounts.refresh(token)
    return json_response(tokens)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/auth/login", login)
    app.router.add_post("/auth/refresh", refresh)
