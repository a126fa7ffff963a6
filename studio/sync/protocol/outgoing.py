"""What the server's protocol object hands its caller with each outgoing
frame, so that metrics and logs need not decode it."""

from __future__ import annotations

from dataclasses import dataclass

from studio.sync.protocol.messages import (
    Download,
    Error,
    Ident,
    Mark,
    Pong,
    ServerMessage,
    Unbound,
)


@dataclass(frozen=True, slots=True)
class OutgoingFrame:
    """What one outgoing frame holds, so that the caller need not decode it."""

    type: str
    """The message type on the wire ("download", "error", "ident", ...)."""
    session: int | None
    changesets: int = 0
    message: ServerMessage | None = None
    """The message itself (e.g. an error's code and text, a download's progress)."""

    @property
    def instructions(self) -> int:
        """Instructions in a download (counted when asked: rarely needed)."""
        if isinstance(self.message, Download):
            return sum(len(c.changeset.instructions) for c in self.message.changesets)
        return 0


def describe_frame(message: ServerMessage) -> OutgoingFrame:
    if isinstance(message, Download):
        return OutgoingFrame("download", message.session, len(message.changesets), message)
    if isinstance(message, Error):
        return OutgoingFrame("error", message.session, message=message)
    if isinstance(message, Pong):
        return OutgoingFrame("pong", None, message=message)
    kind = {Ident: "ident", Mark: "mark", Unbound: "unbound"}[type(message)]
    return OutgoingFrame(kind, message.session, message=message)
