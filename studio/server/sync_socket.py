"""The websocket of a sync connection: aiohttp's, with the three things the
server needs that it lacks (a last word before a size-limit close, an abort
that does not wait for a peer that stopped answering, and a synchronous
write for frames that leave the moment their commit is stored)."""

from __future__ import annotations

import asyncio
import struct
from typing import Any, Final

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

    def can_write_now(self) -> bool:
        """Whether :meth:`write_now` may write a frame: the socket is open,
        uncompressed, and nothing is waiting in its send buffer (a client that
        reads slowly gets its frames through ``send_bytes``, which waits for
        the buffer to drain)."""
        transport = self._transport
        return (
            transport is not None
            and not self.closed
            and not self.compress
            and not transport.is_closing()
            and transport.get_write_buffer_size() == 0
        )

    def write_now(self, frame: bytes) -> None:
        """Write one binary message at once, without a task switch (call only
        when :meth:`can_write_now`). What ``send_bytes`` does on an open,
        uncompressed socket with an empty buffer, which does not suspend
        either: a server frame is a header and the payload, unmasked."""
        transport = self._transport
        assert transport is not None
        size = len(frame)
        if size < 126:
            header = _HEADER_SHORT.pack(_FIN_BINARY, size)
        elif size < 1 << 16:
            header = _HEADER_MEDIUM.pack(_FIN_BINARY, 126, size)
        else:
            header = _HEADER_LONG.pack(_FIN_BINARY, 127, size)
        if size > _JOIN_BELOW:
            transport.write(header)
            transport.write(frame)
        else:
            transport.write(header + frame)

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


_FIN_BINARY: Final = 0x82
"""A final frame (no continuation) with opcode 2, binary (RFC 6455, 5.2)."""
_HEADER_SHORT: Final = struct.Struct("!BB")
_HEADER_MEDIUM: Final = struct.Struct("!BBH")
_HEADER_LONG: Final = struct.Struct("!BBQ")
_JOIN_BELOW: Final = 16 * 1024
"""Payloads up to this size are copied behind their header (one write)."""
