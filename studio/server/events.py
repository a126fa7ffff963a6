"""The admin event bus: what ``/admin/events`` subscribers receive.

Publishing is cheap when nobody listens (the common case), and a slow
subscriber never slows the server down: each subscriber has a bounded queue,
and events that do not fit are dropped and counted (the ``counters`` event
reports ``dropped_events`` so the dashboard can say so).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

DEFAULT_QUEUE: Final = 2000


class Subscription:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(size)
        self.dropped = 0

    def put(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1


class EventBus:
    def __init__(self, queue_size: int = DEFAULT_QUEUE) -> None:
        self._size = queue_size
        self._subscribers: set[Subscription] = set()

    @property
    def active(self) -> bool:
        """Whether anyone listens (check before building expensive events)."""
        return bool(self._subscribers)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, type: str, **fields: Any) -> None:
        """Deliver an event to every subscriber; call on the event loop's thread."""
        if not self._subscribers:
            return
        event = {"type": type, "time": round(time.time(), 3), **fields}
        for sub in self._subscribers:
            sub.put(event)

    def subscribe(self) -> Subscription:
        sub = Subscription(self._size)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
