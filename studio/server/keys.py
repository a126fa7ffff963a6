"""aiohttp application keys (typed access to the shared server state)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from studio.server.context import ServerContext

CONTEXT: web.AppKey[ServerContext] = web.AppKey("studio_context")
