"""``GET /sync``: the sync protocol over a websocket (binary msgpack frames).

The websocket subprotocol ``studio-sync.<version>`` is optional: a client
that offers none is served (raw clients and tests), but a client that only
offers other versions gets ``wrong_protocol_version`` and a close, so that a
future protocol change fails loudly instead of garbling messages.
"""

from __future__ import annotations

from aiohttp import web

from studio.server.connection import SyncConnection
from studio.server.context import ServerContext
from studio.server.keys import CONTEXT
from studio.server.logs import clip, log
from studio.server.sync_socket import SyncSocket
from studio.sync.protocol import WEBSOCKET_SUBPROTOCOL, ErrorCode, ServerConnection

MAX_AGENT_CHARS = 200
"""A client's User-Agent as kept and shown (it is the peer's text)."""


def _offered_protocols(request: web.Request) -> list[str]:
    header = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


async def sync_handler(request: web.Request) -> web.StreamResponse:
    ctx: ServerContext = request.app[CONTEXT]
    limits = ctx.config.limits
    ws = SyncSocket(
        protocols=(WEBSOCKET_SUBPROTOCOL,),
        max_msg_size=limits.max_message_size,
        # No aiohttp heartbeat: its data callback ties the request handler and
        # this socket into a reference cycle that only a full garbage
        # collection frees. SyncConnection pings an idle peer itself.
        heartbeat=None,
        autoping=False,
        # Loopback and LAN traffic: deflate would cost more CPU than it saves.
        compress=False,
    )
    await ws.prepare(request)
    offered = _offered_protocols(request)
    if offered and WEBSOCKET_SUBPROTOCOL not in offered:
        log(30, "wrong_protocol_version", address=request.remote, offered=offered)
        sc = ServerConnection()
        wanted = f"this server speaks {WEBSOCKET_SUBPROTOCOL}; offered {', '.join(offered)}"
        sc.close(ErrorCode.WRONG_PROTOCOL_VERSION, wanted)
        for frame in sc.frames_to_send():
            await ws.send_bytes(frame)
        await ws.close()
        return ws
    # What the client says it is (e.g. "studio-notifier/0.1.0 (handlers: ...)"),
    # shown in the admin views; clipped, it is the peer's text.
    agent = clip(request.headers.get("User-Agent", ""), MAX_AGENT_CHARS)
    connection = SyncConnection(ctx, ws, request.remote or "?", agent=agent)
    await connection.run()
    return ws
