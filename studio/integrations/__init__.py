"""Server-side helpers that connect realms to other backends (REST APIs, queues, PostgreSQL).

:class:`Notifier` runs handlers on the changes devices make to realms
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
    HandlerSpecError,
    IntegrationError,
    NotifierError,
)

if TYPE_CHECKING:
    from studio.integrations.adapter.adapter import PostgresAdapter
    from studio.integrations.events import RealmEvent
    from studio.integrations.notifier import Handler, Notifier

_LAZY = {
    "RealmEvent": "studio.integrations.events",
    "Handler": "studio.integrations.notifier",
    "Notifier": "studio.integrations.notifier",
    "PostgresAdapter": "studio.integrations.adapter.adapter",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'studio.integrations' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AdapterError",
    "BadRowError",
    "Handler",
    "HandlerSpecError",
    "IntegrationError",
    "Notifier",
    "NotifierError",
    "PostgresAdapter",
    "RealmEvent",
]
