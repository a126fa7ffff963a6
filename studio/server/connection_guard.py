"""Bounding what one client may hold of the server's connections (slowloris).

aiohttp waits for a request's headers for as long as a connection stays
open (up to its keep-alive timeout, an hour by default), and accepts any
number of connections from one address. Every connection of the listening
socket therefore goes through a :class:`GuardedProtocol` wrapped around
aiohttp's own protocol (``runner.server`` is a protocol factory):

* a connection from an address that already holds
  ``max_connections_per_address`` connections (HTTP and ``/sync`` or
  ``/admin/events`` websockets alike) gets a ``503`` and is closed before
  anything is read;
* a request's head (request line and headers) must be complete within
  ``header_timeout`` seconds of its first byte (of the connection, for the
  first request): otherwise the connection gets a ``408`` and is closed.
  :meth:`ConnectionGuard.middleware` tells the guard when aiohttp has parsed
  a head (the handler starts) and when the handler is done (the connection
  waits for the next request, which re-arms the watchdog with its first byte).

Bodies are bounded by their readers (json_body.py, ``body_timeout``) and by
aiohttp's lingering close (10 s) for bodies a handler does not read; idle
keep-alive connections by aiohttp's ``keepalive_timeout``. Refusals and
timeouts are logged at most once a minute per address (and for at most
``MAX_LOGGED_ADDRESSES`` addresses at a time), with the number suppressed.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from studio.server.config import HttpLimits
from studio.server.logs import log

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ProtocolFactory = Callable[[], asyncio.Protocol]
LOG_INTERVAL: Final = 60.0
MAX_LOGGED_ADDRESSES: Final = 1024


def address_key(address: str) -> str:
    """What per-address limits count by: an IPv4 address, or the /64 of an
    IPv6 one (a single host usually holds a whole /64, so counting single
    IPv6 addresses would limit nothing)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _http_error(status: str, code: str, message: str, extra: str = "") -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
    )
    return head.encode("ascii") + body


class _State(enum.Enum):
    HEAD = "head"
    """Waiting for a request head; the watchdog runs."""
    BUSY = "busy"
    """A handler serves a request (or a websocket)."""
    IDLE = "idle"
    """Between requests: aiohttp's keep-alive timeout applies."""


class _RateLimitedLog:
    """One log line per address and event per ``LOG_INTERVAL`` at most."""

    def __init__(self) -> None:
        self._last: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    def __call__(self, level: int, now: float, event: str, address: str, **fields: Any) -> None:
        key = (event, address)
        last, suppressed = self._last.get(key, (float("-inf"), 0))
        if now - last < LOG_INTERVAL:
            self._last[key] = (last, suppressed + 1)
            return
        self._last[key] = (now, 0)
        self._last.move_to_end(key)
        while len(self._last) > MAX_LOGGED_ADDRESSES:
            self._last.popitem(last=False)
        log(level, event, address=address, suppressed=suppressed, **fields)


class ConnectionGuard:
    """The per-address counts and the watchdogs of one server's connections."""

    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self._open: dict[str, int] = {}
        self._guards: dict[asyncio.BaseTransport, GuardedProtocol] = {}
        self._log = _RateLimitedLog()

    def protocol_factory(self, make_protocol: ProtocolFactory) -> ProtocolFactory:
        """A factory for ``loop.create_server`` that guards the protocols
        ``make_protocol`` makes."""
        return lambda: GuardedProtocol(self, make_protocol)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        guard = self._guards.get(request.transport) if request.transport else None
        if guard is not None:
            guard.request_started()
        try:
            return await handler(request)
        finally:
            if guard is not None:
                guard.request_finished()

    # ------------------------------------------------------------------ for GuardedProtocol

    def admit(self, address: str, transport: asyncio.BaseTransport, guard: GuardedProtocol) -> bool:
        limit = self.limits.max_connections_per_address
        count = self._open.get(address, 0)
        if limit and count >= limit:
            self._log(
                30,
                asyncio.get_running_loop().time(),
                "connection_limit",
                address,
                limit=limit,
            )
            return False
        self._open[address] = count + 1
        self._guards[transport] = guard
        return True

    def release(self, address: str, transport: asyncio.BaseTransport) -> None:
        self._guards.pop(transport, None)
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)

    def timed_out(self, address: str, now: float, head_bytes: int) -> None:
        # A connection opened and never used (a browser's preconnect) is no news.
        level = 30 if head_bytes else 20
        self._log(
            level, now, "header_timeout", address, timeout=self.limits.header_timeout
        )


class GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind the guard's checks."""

    def __init__(self, guard: ConnectionGuard, make_protocol: ProtocolFactory) -> None:
        self._guard = guard
        self._make_protocol = make_protocol
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._address = ""
        self._state = _State.HEAD
        self._head_bytes = 0
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        peer = transport.get_extra_info("peername")
        self._address = address_key(str(peer[0])) if isinstance(peer, tuple) and peer else "local"
        if not self._guard.admit(self._address, transport, self):
            limit = self._guard.limits.max_connections_per_address
            transport.write(
                _http_error(
                    "503 Service Unavailable",
                    "too_many_connections",
                    f"this address already has {limit} connections open to the server; "
                    "close some, or retry later",
                    "Retry-After: 5\r\n",
                )
            )
            transport.close()
            return
        self._transport = transport
        self._arm()
        self._inner = self._make_protocol()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return  # refused: the close is under way
        if self._state is _State.IDLE:
            self._state = _State.HEAD
            self._head_bytes = 0
            self._arm()
        if self._state is _State.HEAD:
            self._head_bytes += len(data)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._inner is None or self._transport is None:
            return
        self._guard.release(self._address, self._transport)
        inner, self._inner = self._inner, None
        inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    # ------------------------------------------------------------------ told by the middleware

    def request_started(self) -> None:
        self._state = _State.BUSY
        self._disarm()

    def request_finished(self) -> None:
        if self._state is _State.BUSY:
            self._state = _State.IDLE

    # ------------------------------------------------------------------ the watchdog

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(self._guard.limits.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _expire(self) -> None:
        self._watchdog = None
        transport = self._transport
        if self._state is not _State.HEAD or transport is None or transport.is_closing():
            return
        self._guard.timed_out(self._address, asyncio.get_running_loop().time(), self._head_bytes)
        if self._head_bytes:
            timeout = self._guard.limits.header_timeout
            transport.write(
                _http_error(
                    "408 Request Timeout",
                    "request_timeout",
                    f"the request's headers did not arrive within {timeout:g} s",
                )
            )
        transport.close()

