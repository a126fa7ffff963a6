"""Settings of the sync client, and the reconnect backoff."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from studio.sync.protocol.client_connection import DEFAULT_MAX_UPLOAD_CHANGESETS
from studio.sync.protocol.codec import DEFAULT_MAX_MESSAGE_SIZE


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """How an :class:`~studio.sync.client.App` connects and retries.

    Reconnects wait ``reconnect_initial * 2**n`` seconds (at most
    ``reconnect_max``), each delay drawn between half and all of that
    ("equal jitter"), so a server restart is not met by every client at once.
    """

    reconnect_initial: float = 0.25
    reconnect_max: float = 30.0
    connect_timeout: float = 10.0
    ping_interval: float | None = 20.0
    """websocket keepalive pings: a silent dead connection is noticed after
    ``ping_interval + ping_timeout`` seconds."""
    ping_timeout: float | None = 20.0
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_upload_changesets: int = DEFAULT_MAX_UPLOAD_CHANGESETS
    max_uploads_in_flight: int = 1
    """Uploads of one session sent and not yet acknowledged at most (the server
    acknowledges in order); commits made while the window is full go out
    together in the next upload. 1 (stop-and-wait) costs the least CPU per
    changeset when a client commits faster than the server acknowledges
    (bigger uploads; see docs/performance.md); more helps on links whose
    round trip is long next to the time a batch takes to integrate."""
    watch_files: bool = True
    """Poll each synced realm file so that commits by other processes upload too."""
    watch_interval: float = 0.1
    user_agent: str | None = None
    """The ``User-Agent`` of the sync websocket (None: the websockets default),
    e.g. ``studio-notifier/1.0 (handlers: ...)`` so operators can tell what a
    connection is."""


class Backoff:
    """Exponential backoff with equal jitter."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempts = 0
        self._rng = rng

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2 ** min(self.attempts, 32))
        self.attempts += 1
        return float(ceiling / 2 + self._rng() * ceiling / 2)

    def reset(self) -> None:
        self.attempts = 0
