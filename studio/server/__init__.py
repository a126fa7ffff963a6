"""The object server: sync over websockets, HTTP API and admin event stream
on one port (aiohttp), storage in SQLite under a data directory.

Run it with ``python -m studio.server --data DIR`` or ``studio server --data
DIR``; embed it with :class:`Server`. See docs/server.md and
docs/server-api.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.server.app import Server, main, serve
    from studio.server.config import ServerConfig, parse_config
    from studio.server.errors import ServerError
    from studio.server.limits import Limits

# Imported when first asked for: the state worker process imports
# studio.server.storage, and must not pay for the whole server (aiohttp, the
# HTTP API) on every start (seconds on a loaded machine).
_WHERE = {"Server": "app", "main": "app", "serve": "app", "ServerConfig": "config",
          "parse_config": "config", "ServerError": "errors", "Limits": "limits"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'studio.server' has no attribute {name!r}")
    return getattr(importlib.import_module(f"studio.server.{module}"), name)

__all__ = ["Limits", "Server", "ServerConfig", "ServerError", "main", "parse_config", "serve"]
