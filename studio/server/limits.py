"""Limits that protect the server from one misbehaving client, and the
server-wide budget of bytes waiting to go out.

Each per-connection limit ends the offending connection only (an ``error``
message, then a close); every other connection keeps being served. The
server-wide budget never ends a connection: when it is spent, the
connections that stream downloads wait until other connections' bytes have
left (see :class:`OutboundBudget`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from studio.sync.protocol.codec import DEFAULT_MAX_MESSAGE_SIZE

DEFAULT_OPEN_REALM_FILES: Final = 128
"""Realm files the state worker keeps open. Each takes about 7 file
descriptors in the worker (the state's SQLite file, WAL and shared memory,
the same for its history reader, and the write lock): 128 stay under the
usual ``ulimit -n`` of 1024."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    """Largest websocket message accepted on /sync (bytes). Larger frames are
    refused from their header, before their payload is read."""
    max_sessions: int = 256
    """Sessions (binds) per connection, over its whole life."""
    first_message_timeout: float = 10.0
    """A connection that sends nothing this long after opening is closed."""
    max_outbound_bytes: int = 64 * 1024 * 1024
    """Bytes queued for a client that does not read fast enough; beyond this
    the connection is closed (the client reconnects and resumes from its
    cursors, which costs the server nothing). Downloads are streamed (see
    ``download_window``) and never reach this; what can is answers to a
    client that keeps sending (uploads, pings) without reading."""
    max_server_outbound_bytes: int = 256 * 1024 * 1024
    """Bytes queued for all clients together. When reached, downloads wait
    (they are produced only once other connections' bytes have left), and
    the connection whose client has read nothing for longest is closed if
    that is more than ``send_stall`` (so clients that never read cannot
    hold the budget against everyone else)."""
    send_stall: float = 10.0
    """See ``max_server_outbound_bytes``."""
    download_window: int = 1024 * 1024
    """Downloads of a connection are produced (read from the history and
    encoded) only while fewer bytes than this wait for its client: a big
    history is streamed as the client reads, not queued at bind."""
    heartbeat: float = 30.0
    """A peer silent this long is pinged; one that does not answer within
    half of it is dropped."""
    max_download_changesets: int = 100
    """Changesets per download message."""
    max_http_body: int = 1024 * 1024
    max_realms_per_user: int = 1000
    """Realms one (non-admin) user may create, over all time (counted from
    storage: deleting realms gives room again)."""
    max_idents_per_user: int = 10_000
    """Client file idents issued to one (non-admin) user over all realms
    (one per device and realm: a device that resets its local realm takes a
    new one)."""

    def __post_init__(self) -> None:
        for name in (
            "max_message_size",
            "max_sessions",
            "max_outbound_bytes",
            "max_server_outbound_bytes",
            "download_window",
            "max_download_changesets",
            "max_http_body",
            "max_realms_per_user",
            "max_idents_per_user",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.first_message_timeout <= 0 or self.heartbeat <= 0 or self.send_stall <= 0:
            raise ValueError("timeouts must be positive")


class OutboundBudget:
    """Bytes queued for every client together, against a limit.

    Connections add what they queue and release what left (or was dropped).
    A connection that wants to produce more downloads while the budget is
    spent registers a wake-up callback; the callbacks run (on the event
    loop, soon after) once the total is back under the limit. (Which
    stalled connection to close when the budget stays spent is the
    connections' business: connection.py.)"""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queued = 0
        self.peak = 0
        self._waiters: dict[int, Callable[[], None]] = {}
        self.relief_scheduled = False
        """A check for a stalled connection to close is pending."""

    @property
    def has_room(self) -> bool:
        return self.queued < self.limit

    def add(self, size: int) -> None:
        self.queued += size
        self.peak = max(self.peak, self.queued)

    def release(self, size: int) -> None:
        self.queued = max(0, self.queued - size)
        if self._waiters and self.has_room:
            waiters, self._waiters = self._waiters, {}
            loop = asyncio.get_running_loop()
            for wake in waiters.values():
                loop.call_soon(wake)

    def wait(self, key: int, wake: Callable[[], None]) -> None:
        """Call ``wake`` once there is room again (``key``: one per waiter)."""
        self._waiters[key] = wake

    def forget(self, key: int) -> None:
        self._waiters.pop(key, None)

    @property
    def waiting(self) -> int:
        return len(self._waiters)
