"""The websocket of a sync connection: aiohttp's, with the two things the
server needs that it lacks (a last word before a size-limit close, and an
abort that does not wait for a peer that stopped answering)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


class SyncSocket(web.WebSocketResponse):
    """aiohttp closes a connection by itself when a message is larger than
    ``max_msg_size`` (it rejects it from the frame header, before reading the
    payload). This hook lets the protocol's error message go out first, so
    the client learns why (``limits_exceeded``) instead of seeing a bare close."""

    on_too_big: Any = None  # Callable[[], list[bytes]] | None
    _transport: asyncio.Transport | None = None

    async def prepare(self, request: web.BaseRequest) -> Any:
        transport = request.transport
        self._transport = transport if isinstance(transport, asyncio.Transport) else None
        return await super().prepare(request)

    def abort(self) -> None:
        """Drop the TCP connection at once: a peer that stopped answering
        cannot take part in a closing handshake (close() would wait for it)."""
        if self._transport is not None:
            self._transport.abort()

    async def close(self, *, code: int = 1000, message: bytes = b"", drain: bool = True) -> bool:
        if code == 1009 and self.on_too_big is not None and not self.closed:
            hook, self.on_too_big = self.on_too_big, None
            for frame in hook():
                try:
                    await self.send_bytes(frame)
                except Exception:  # the peer is gone; closing is all that is left
                    break
        return await super().close(code=code, message=message, drain=drain)
