"""The sync protocol: messages, their wire codec, and sans-I/O connection state
machines for both ends (no sockets, no clock; asyncio and websockets live in
``studio.sync.client`` and ``studio.server``)."""

from __future__ import annotations

from studio.sync.protocol.client_connection import ClientConnection
from studio.sync.protocol.codec import (
    MessageReader,
    decode_client_message,
    decode_server_message,
    encode_message,
)
from studio.sync.protocol.events import (
    BindRequested,
    Bound,
    ChangesetsIntegrated,
    ClientEvent,
    ClientUnbound,
    ConnectionFailed,
    DownloadProgressed,
    MarkReached,
    PongReceived,
    RemoteChanges,
    ServerEvent,
    SessionError,
    SessionUnbound,
    UploadAcknowledged,
)
from studio.sync.protocol.messages import (
    PROTOCOL_VERSION,
    WEBSOCKET_SUBPROTOCOL,
    Bind,
    ClientMessage,
    Cursors,
    Download,
    DownloadProgress,
    Error,
    ErrorCode,
    Ident,
    Mark,
    Message,
    Ping,
    Pong,
    ServerMessage,
    Unbind,
    Unbound,
    Upload,
    UploadProgress,
)
from studio.sync.protocol.outgoing import OutgoingFrame
from studio.sync.protocol.server_connection import ServerConnection
from studio.sync.protocol.spliced import EncodedChangesets
from studio.sync.protocol.states import ConnectionState, SessionState

__all__ = [
    "PROTOCOL_VERSION",
    "WEBSOCKET_SUBPROTOCOL",
    "Bind",
    "BindRequested",
    "Bound",
    "ChangesetsIntegrated",
    "ClientConnection",
    "ClientEvent",
    "ClientMessage",
    "ClientUnbound",
    "ConnectionFailed",
    "ConnectionState",
    "Cursors",
    "Download",
    "EncodedChangesets",
    "DownloadProgress",
    "DownloadProgressed",
    "Error",
    "ErrorCode",
    "Ident",
    "Mark",
    "MarkReached",
    "Message",
    "MessageReader",
    "OutgoingFrame",
    "Ping",
    "Pong",
    "PongReceived",
    "RemoteChanges",
    "ServerConnection",
    "ServerEvent",
    "ServerMessage",
    "SessionError",
    "SessionState",
    "SessionUnbound",
    "Unbind",
    "Unbound",
    "Upload",
    "UploadAcknowledged",
    "UploadProgress",
    "decode_client_message",
    "decode_server_message",
    "encode_message",
]
