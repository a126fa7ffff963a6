"""The object server: sync over websockets, HTTP API and admin event stream
on one port (aiohttp), storage in SQLite under a data directory.

Run it with ``python -m studio.server --data DIR`` or ``studio server --data
DIR``; embed it with :class:`Server`. See docs/server.md and
docs/server-api.md.
"""

from __future__ import annotations

from studio.server.app import Server, main, serve
from studio.server.config import ServerConfig, parse_config
from studio.server.errors import ServerError
from studio.server.limits import Limits

__all__ = ["Limits", "Server", "ServerConfig", "ServerError", "main", "parse_config", "serve"]
