"""Session state machines, as tables of ``(state, event) -> new state``.

A pair missing from a table is a protocol violation: raised as
:class:`LocalProtocolError` when our side attempted it and as
:class:`RemoteProtocolError` when the peer's message caused it.

Client session::

    UNBOUND --send bind--> BINDING --recv ident--> BOUND --send unbind--> UNBINDING
    UNBINDING --recv unbound--> UNBOUND (the session id is retired)
    BINDING/BOUND --recv error--> ERROR --send unbind--> UNBINDING
    BOUND --fail (a download that cannot be merged)--> ERROR

Server session (created by a received ``bind``)::

    BINDING --accept--> BOUND --recv unbind--> UNBOUND (answered with ``unbound``)
    BINDING --reject--> ERROR;  BOUND --upload rejected / fail--> ERROR
    ERROR --recv unbind--> UNBOUND   (uploads and marks in ERROR are ignored:
                                      the client sent them before it saw the error)
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from studio.sync.errors import LocalProtocolError, RemoteProtocolError


class SessionState(Enum):
    UNBOUND = "unbound"
    BINDING = "binding"
    BOUND = "bound"
    UNBINDING = "unbinding"
    ERROR = "error"


class ConnectionState(Enum):
    OPEN = "open"
    CLOSED = "closed"


class SessionEvent(Enum):
    SEND_BIND = "send bind"
    SEND_UPLOAD = "send upload"
    SEND_MARK = "send mark"
    SEND_UNBIND = "send unbind"
    RECV_BIND = "receive bind"
    RECV_IDENT = "receive ident"
    RECV_UPLOAD = "receive upload"
    RECV_DOWNLOAD = "receive download"
    RECV_MARK = "receive mark"
    RECV_UNBIND = "receive unbind"
    RECV_UNBOUND = "receive unbound"
    RECV_ERROR = "receive error"
    ACCEPT = "accept bind"
    REJECT = "reject bind"
    FAIL = "fail session"


S = SessionState
E = SessionEvent

CLIENT_TRANSITIONS: Final[dict[tuple[SessionState, SessionEvent], SessionState]] = {
    (S.UNBOUND, E.SEND_BIND): S.BINDING,
    (S.BINDING, E.RECV_IDENT): S.BOUND,
    (S.BOUND, E.SEND_UPLOAD): S.BOUND,
    (S.BOUND, E.SEND_MARK): S.BOUND,
    (S.BOUND, E.RECV_DOWNLOAD): S.BOUND,
    (S.BOUND, E.RECV_MARK): S.BOUND,
    (S.BINDING, E.SEND_UNBIND): S.UNBINDING,
    (S.BOUND, E.SEND_UNBIND): S.UNBINDING,
    (S.ERROR, E.SEND_UNBIND): S.UNBINDING,
    # After we sent unbind the server may still deliver what it sent before.
    (S.UNBINDING, E.RECV_IDENT): S.UNBINDING,
    (S.UNBINDING, E.RECV_DOWNLOAD): S.UNBINDING,
    (S.UNBINDING, E.RECV_MARK): S.UNBINDING,
    (S.UNBINDING, E.RECV_ERROR): S.UNBINDING,
    (S.UNBINDING, E.RECV_UNBOUND): S.UNBOUND,
    (S.BINDING, E.RECV_ERROR): S.ERROR,
    (S.BOUND, E.RECV_ERROR): S.ERROR,
    # A session can also fail on our side (a download that does not merge with
    # local schema changes); the server does not know yet and may still send.
    (S.BOUND, E.FAIL): S.ERROR,
    (S.ERROR, E.RECV_DOWNLOAD): S.ERROR,
    (S.ERROR, E.RECV_MARK): S.ERROR,
    (S.ERROR, E.RECV_ERROR): S.ERROR,
}

SERVER_TRANSITIONS: Final[dict[tuple[SessionState, SessionEvent], SessionState]] = {
    (S.UNBOUND, E.RECV_BIND): S.BINDING,
    (S.BINDING, E.ACCEPT): S.BOUND,
    (S.BINDING, E.REJECT): S.ERROR,
    (S.BINDING, E.FAIL): S.ERROR,
    (S.BOUND, E.RECV_UPLOAD): S.BOUND,
    (S.BOUND, E.RECV_MARK): S.BOUND,
    (S.BOUND, E.FAIL): S.ERROR,
    (S.ERROR, E.RECV_UPLOAD): S.ERROR,
    (S.ERROR, E.RECV_MARK): S.ERROR,
    (S.ERROR, E.FAIL): S.ERROR,
    (S.BINDING, E.RECV_UNBIND): S.UNBOUND,
    (S.BOUND, E.RECV_UNBIND): S.UNBOUND,
    (S.ERROR, E.RECV_UNBIND): S.UNBOUND,
}

_RECEIVED: Final = frozenset(e for e in SessionEvent if e.name.startswith("RECV_"))


def next_state(
    table: dict[tuple[SessionState, SessionEvent], SessionState],
    state: SessionState,
    event: SessionEvent,
    session: int,
    *,
    code: int = 109,  # bad_message_order
) -> SessionState:
    """The state after ``event``, or the protocol error that ``event`` is."""
    new = table.get((state, event))
    if new is None:
        message = f"session {session}: cannot {event.value} in state {state.value}"
        if event in _RECEIVED:
            raise RemoteProtocolError(message, code=code, try_again=False)
        raise LocalProtocolError(message)
    return new
