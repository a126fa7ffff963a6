"""Limits that protect the server from one misbehaving client.

Each limit ends the offending connection only (an ``error`` message, then a
close); every other connection keeps being served.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.sync.protocol.codec import DEFAULT_MAX_MESSAGE_SIZE


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    """Largest websocket message accepted on /sync (bytes). Larger frames are
    refused from their header, before their payload is read."""
    max_sessions: int = 256
    """Sessions (binds) per connection, over its whole life."""
    first_message_timeout: float = 10.0
    """A connection that sends nothing this long after opening is closed."""
    max_outbound_bytes: int = 64 * 1024 * 1024
    """Bytes queued for a client that does not read fast enough; beyond this
    the connection is closed (the client reconnects and resumes from its
    cursors, which costs the server nothing)."""
    heartbeat: float = 30.0
    """Websocket ping interval; a peer that does not answer is dropped."""
    max_download_changesets: int = 100
    """Changesets per download message."""
    max_http_body: int = 1024 * 1024

    def __post_init__(self) -> None:
        for name in (
            "max_message_size",
            "max_sessions",
            "max_outbound_bytes",
            "max_download_changesets",
            "max_http_body",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.first_message_timeout <= 0 or self.heartbeat <= 0:
            raise ValueError("timeouts must be positive")
