"""``GET /admin/events?token=<admin access token>``: the live event stream
for the Studio dashboard (JSON text frames), and the once-a-second
``counters`` event.

Events: connection_opened/closed, session_bound/unbound, upload, download,
error, log, counters (docs/server-api.md). A subscriber that cannot keep up
loses events rather than slowing the server; ``counters`` then reports how
many it lost (``dropped_events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import WSMsgType, web

from studio.server.context import ServerContext
from studio.server.errors import Forbidden
from studio.server.events import Subscription
from studio.server.http_routes import bearer_token, context
from studio.server.logs import log


async def events_handler(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    token = request.query.get("token")
    user = await ctx.accounts.authenticate(token if token else bearer_token(request))
    if not user.is_admin:
        raise Forbidden(f"{user.username} is not an admin; the event stream needs an admin token")
    ws = web.WebSocketResponse(heartbeat=ctx.config.limits.heartbeat, max_msg_size=64 * 1024)
    await ws.prepare(request)
    sub = ctx.bus.subscribe()
    ctx.admin_sockets.add(ws)
    log(20, "admin_stream_opened", user=user.username, address=request.remote)
    forward = asyncio.get_running_loop().create_task(_forward(ws, sub))
    try:
        # Nothing is expected from the admin; reading detects the close.
        async for msg in ws:
            if msg.type is WSMsgType.ERROR:
                break
    finally:
        ctx.bus.unsubscribe(sub)
        ctx.admin_sockets.discard(ws)
        forward.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await forward
        log(20, "admin_stream_closed", user=user.username, dropped=sub.dropped)
    return ws


async def _forward(ws: web.WebSocketResponse, sub: Subscription) -> None:
    while not ws.closed:
        event = await sub.queue.get()
        if event["type"] == "counters":
            event = {**event, "dropped_events": sub.dropped}
        try:
            await ws.send_str(json.dumps(event, default=str, separators=(",", ":")))
        except (ConnectionError, RuntimeError):
            return


class CounterTicker:
    """Publishes ``counters`` once a second (rates over the last second)."""

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._last: dict[str, float] = {}
        self._last_time = time.monotonic()

    def _totals(self) -> dict[str, float]:
        m = self._ctx.metrics
        return {
            "uploads": m.uploads.value,
            "downloads": m.downloads.value,
            "bytes_in": m.bytes_in.value,
            "bytes_out": m.bytes_out.value,
        }

    def tick(self) -> dict[str, Any]:
        ctx = self._ctx
        now = time.monotonic()
        span = max(now - self._last_time, 1e-6)
        totals = self._totals()
        rates = {
            f"{k}_per_s": round((v - self._last.get(k, v)) / span, 2) for k, v in totals.items()
        }
        self._last, self._last_time = totals, now
        merge = ctx.metrics.merge
        p50, p99 = merge.quantile(0.5), merge.quantile(0.99)
        return {
            "connections": len(ctx.connections),
            "sessions": ctx.session_count(),
            **rates,
            "uploads_total": totals["uploads"],
            "downloads_total": totals["downloads"],
            "merge_ms_p50": None if p50 != p50 else round(p50 * 1000, 3),
            "merge_ms_p99": None if p99 != p99 else round(p99 * 1000, 3),
            "active_realms": sum(1 for r in ctx.hub.loaded() if r.session_count),
            "loaded_realms": len(ctx.hub),
        }

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            counters = self.tick()  # always, so rates span one second
            if self._ctx.bus.active:
                self._ctx.bus.publish("counters", **counters)
