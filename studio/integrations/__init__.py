"""Server-side helpers that connect realms to other backends (REST APIs, queues, PostgreSQL).

:class:`Notifier` runs handlers on the changes devices make to realms;
:class:`Fetcher` (a handler answering ``FetchRequest`` objects),
:class:`Poller` (an HTTP API into a realm) and :class:`Dequeuer` (a PostgreSQL
queue into realms, exactly once) are the integration patterns
(docs/integrations.md); :class:`PostgresAdapter` keeps realms and PostgreSQL
tables in step (docs/adapter.md). The names are loaded on first use, so that the
``studio`` command line can list ``studio notifier`` without loading the sync
client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from studio.integrations.errors import (
    AdapterError,
    BadRowError,
    DequeuerError,
    FetcherError,
    HandlerSpecError,
    IntegrationError,
    NotifierError,
    PollerError,
)

if TYPE_CHECKING:
    from studio.integrations.adapter.adapter import PostgresAdapter
    from studio.integrations.dequeuer import (
        Dequeuer,
        QueueMessage,
        create_queue,
        enqueue,
        queue_sql,
    )
    from studio.integrations.events import RealmEvent
    from studio.integrations.fetcher import FETCH_REQUEST_SCHEMA, Fetcher
    from studio.integrations.notifier import Handler, Notifier
    from studio.integrations.poller import Poller, PollResult

_LAZY = {
    "RealmEvent": "studio.integrations.events",
    "Handler": "studio.integrations.notifier",
    "Notifier": "studio.integrations.notifier",
    "Dequeuer": "studio.integrations.dequeuer",
    "FETCH_REQUEST_SCHEMA": "studio.integrations.fetcher",
    "Fetcher": "studio.integrations.fetcher",
    "Poller": "studio.integrations.poller",
    "PollResult": "studio.integrations.poller",
    "QueueMessage": "studio.integrations.dequeuer",
    "create_queue": "studio.integrations.dequeuer",
    "enqueue": "studio.integrations.dequeuer",
    "queue_sql": "studio.integrations.dequeuer",
    "PostgresAdapter": "studio.integrations.adapter.adapter",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'studio.integrations' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "FETCH_REQUEST_SCHEMA",
    "AdapterError",
    "BadRowError",
    "Dequeuer",
    "DequeuerError",
    "Fetcher",
    "FetcherError",
    "Handler",
    "HandlerSpecError",
    "IntegrationError",
    "Notifier",
    "NotifierError",
    "PollResult",
    "Poller",
    "PollerError",
    "PostgresAdapter",
    "QueueMessage",
    "RealmEvent",
    "create_queue",
    "enqueue",
    "queue_sql",
]
