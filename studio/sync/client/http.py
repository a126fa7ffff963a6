"""JSON over HTTP for the auth and admin APIs, with the standard library.

``urllib.request`` runs in a worker thread so the event loop never blocks;
these calls are rare (login, token refresh, admin actions), so a thread per
call costs nothing worth a dependency. The thread is a daemon of its own, not
the loop's default executor: a caller that gives up (cancelled, timed out)
returns at once, and a request still waiting for a silent server (up to its
timeout) holds up neither ``asyncio.run()``, which waits for the default
executor's threads, nor the interpreter's exit.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, Final, TypeVar

from studio.sync.client.errors import ApiError, AuthenticationError, ServerUnreachableError

_T = TypeVar("_T")

DEFAULT_TIMEOUT: Final = 30.0
_AUTH_ERRORS: Final = frozenset({"bad_credentials", "suspended", "invalid_token"})

# Loopback servers are never reached through a proxy from the environment.
_DIRECT: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_DEFAULT: Final = urllib.request.build_opener()


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _call(
    method: str, url: str, body: Any | None, token: str | None, timeout: float
) -> tuple[int, Any, str]:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    host = urllib.parse.urlsplit(url).hostname or ""
    opener = _DIRECT if is_loopback(host) else _DEFAULT
    try:
        with opener.open(request, timeout=timeout) as response:
            status, raw, ctype = (
                response.status,
                response.read(),
                response.headers.get("Content-Type", ""),
            )
    except urllib.error.HTTPError as exc:
        status, raw, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    except (urllib.error.URLError, OSError) as exc:  # TimeoutError is an OSError
        reason = getattr(exc, "reason", exc)
        raise ServerUnreachableError(f"cannot reach {url}: {reason}") from None
    text = raw.decode("utf-8", "replace")
    if "json" in ctype and text:
        try:
            return status, json.loads(text), text
        except ValueError:
            pass
    return status, None, text


async def request(
    method: str,
    url: str,
    body: Any | None = None,
    *,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """Send one request; returns the decoded JSON answer (None for 204 or a non-JSON body).

    An error status raises :class:`ApiError` (:class:`AuthenticationError` for
    the auth errors) with the server's error word and message.
    """
    status, payload, text = await _in_daemon_thread(_call, method, url, body, token, timeout)
    if status < 400:
        return payload if payload is not None else (text or None)
    error, message = "http_error", text.strip()[:500] or f"HTTP {status}"
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        error = str(payload["error"].get("code", error))
        message = str(payload["error"].get("message", message))
    cls = AuthenticationError if error in _AUTH_ERRORS else ApiError
    raise cls(status, error, f"{method} {urllib.parse.urlsplit(url).path}: {message}")


async def _in_daemon_thread(fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` in a new daemon thread; cancelling the caller abandons it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def work() -> None:
        deliver: Callable[[], None]
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to the caller, whatever it is
            deliver = functools.partial(_fail, future, exc)
        else:
            deliver = functools.partial(_succeed, future, result)
        try:
            loop.call_soon_threadsafe(deliver)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    threading.Thread(target=work, name="studio-http", daemon=True).start()
    return await future


def _succeed(future: asyncio.Future[_T], result: _T) -> None:
    if not future.done():  # else the caller gave up
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
