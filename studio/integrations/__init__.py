"""Server-side helpers that connect realms to other backends (REST APIs, queues, PostgreSQL).

:class:`Notifier` runs handlers on the changes devices make to realms
(docs/integrations.md).
"""

from __future__ import annotations

from studio.integrations.errors import HandlerSpecError, IntegrationError, NotifierError
from studio.integrations.events import RealmEvent
from studio.integrations.notifier import Handler, Notifier

__all__ = [
    "Handler",
    "HandlerSpecError",
    "IntegrationError",
    "Notifier",
    "NotifierError",
    "RealmEvent",
]
