"""The admin event bus: what ``/admin/events`` subscribers receive.

Publishing is cheap when nobody listens (the common case), and a slow
subscriber never slows the server down: each subscriber has a bounded queue,
and events that do not fit are dropped and counted (the ``counters`` event
reports ``dropped_events`` so the dashboard can say so). With several server
processes on one store, each one's events reach every process's subscribers
(cluster.py), tagged with the ``node`` they come from.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
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
        self.forward: Callable[[dict[str, Any]], None] | None = None
        """With several server processes (cluster.py): takes every event
        published here to the others' streams."""
        self.remote_listeners = 0
        """Subscribers of the other server processes (their events come here
        through :meth:`deliver`, ours go there through ``forward``)."""
        self.on_subscribers_changed: Callable[[], None] | None = None
        self.node: str | None = None
        """This process's node id, in every event when there are several."""

    @property
    def active(self) -> bool:
        """Whether anyone listens (check before building expensive events)."""
        return bool(self._subscribers) or (self.forward is not None and self.remote_listeners > 0)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, type: str, **fields: Any) -> None:
        """Deliver an event to every subscriber; call on the event loop's thread."""
        if not self.active:
            return
        event = {"type": type, "time": round(time.time(), 3), **fields}
        if self.node is not None:
            event["node"] = self.node
        for sub in self._subscribers:
            sub.put(event)
        if self.forward is not None and self.remote_listeners > 0:
            self.forward(event)

    def deliver(self, event: dict[str, Any]) -> None:
        """An event of another server process: to our subscribers only."""
        for sub in self._subscribers:
            sub.put(event)

    def subscribe(self) -> Subscription:
        sub = Subscription(self._size)
        self._subscribers.add(sub)
        if self.on_subscribers_changed is not None:
            self.on_subscribers_changed()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        if self.on_subscribers_changed is not None:
            self.on_subscribers_changed()
