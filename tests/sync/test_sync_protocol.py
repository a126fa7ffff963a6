"""The sans-I/O client and server connections, pumped in memory."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from sync_net import PATH, Network

from studio.primitives.instructions import (
    AddProperty,
    Changeset,
    CreateObject,
    ListInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.sync.client_history import ClientHistory
from studio.sync.errors import LocalProtocolError, RemoteProtocolError
from studio.sync.history import ServerHistory
from studio.sync.protocol import (
    Bind,
    BindRequested,
    Bound,
    ChangesetsIntegrated,
    ClientConnection,
    ClientUnbound,
    ConnectionFailed,
    ConnectionState,
    Cursors,
    Download,
    DownloadProgress,
    DownloadProgressed,
    EncodedChangesets,
    Error,
    ErrorCode,
    Ident,
    Mark,
    MarkReached,
    OutgoingFrame,
    Ping,
    PongReceived,
    RemoteChanges,
    ServerConnection,
    SessionError,
    SessionState,
    SessionUnbound,
    Unbind,
    Unbound,
    Upload,
    UploadAcknowledged,
    UploadProgress,
    decode_client_message,
    decode_server_message,
    encode_message,
)
from studio.sync.protocol.states import (
    CLIENT_TRANSITIONS,
    SERVER_TRANSITIONS,
    SessionEvent,
    next_state,
)

C = "Item"


def put(name: str, value: Any, pk: int = 1) -> SetValue:
    return SetValue(C, pk, (name,), value)


def item(net: Network, name: str, pk: int = 1) -> Any:
    state = net.server_state if name == "server" else net.peers[name].state
    from oracles import model

    return model.to_plain(state).get(C, {}).get(pk)


@pytest.fixture
def net() -> Network:
    """Two clients; a has created Item 1 and both are in sync."""
    network = Network(["a", "b"])
    network.connect("a")
    network.commit("a", [CreateObject(C, 1), put("name", "start")])
    network.sync_all()
    network.assert_converged()
    return network


# --------------------------------------------------------------------------- normal operation


def test_bind_assigns_identity_and_downloads_history(net: Network) -> None:
    a, b = net.peers["a"], net.peers["b"]
    assert a.history.client_file_ident != b.history.client_file_ident > 0
    assert any(isinstance(e, Bound) for e in b.events)
    assert item(net, "b") == {"name": "start"}
    assert b.history.last_integrated_server_version == net.history.latest_version


def test_changes_reach_other_clients_in_real_time(net: Network) -> None:
    net.commit("a", [put("name", "live")])
    net.settle()
    assert item(net, "b") == {"name": "live"}
    assert any(isinstance(e, RemoteChanges) for e in net.peers["b"].events)
    assert any(isinstance(e, UploadAcknowledged) for e in net.peers["a"].events)
    net.assert_converged()


def test_offline_edits_merge_on_reconnect(net: Network) -> None:
    net.drop("a")
    net.drop("b")
    net.commit("a", [put("name", "from a"), ListInsert(C, 1, ("tags",), 0, "a1")])
    net.commit("a", [ListInsert(C, 1, ("tags",), 1, "a2")])
    net.commit("b", [put("name", "from b"), ListInsert(C, 1, ("tags",), 0, "b1")])
    net.sync_all()
    net.assert_converged()
    # b's edits are later (the network clock ticks on every commit).
    assert item(net, "server") == {"name": "from b", "tags": ["a1", "a2", "b1"]}


def test_dropped_connection_then_resend_applies_nothing_twice_nor_loses_anything(
    net: Network,
) -> None:
    net.commit("a", [CreateObject(C, 2), ListInsert(C, 2, ("log",), 0, "once")])
    net.deliver_up("a")  # the server integrates it...
    assert net.peers["a"].down  # ... and the acknowledgement is on its way
    net.drop("a")  # ... but never arrives
    assert net.peers["a"].history.pending  # so the client still has it
    versions = net.history.latest_version
    net.commit("a", [ListInsert(C, 2, ("log",), 1, "twice?")])
    net.sync_all()
    net.assert_converged()
    assert item(net, "server", 2) == {"log": ["once", "twice?"]}
    assert net.history.latest_version == versions + 1  # only the new one was added
    integrated = [
        (e.client_file_ident, entry.client_version)
        for e in net.server_events
        if isinstance(e, ChangesetsIntegrated)
        for entry in e.entries
    ]
    assert len(integrated) == len(set(integrated))
    assert not net.peers["a"].history.pending


def test_upload_lost_in_flight_is_sent_again(net: Network) -> None:
    net.commit("b", [put("name", "lost once")])
    net.drop("b")  # the upload never reached the server
    net.sync_all()
    net.assert_converged()
    assert item(net, "a") == {"name": "lost once"}


def test_downloads_are_not_applied_twice_after_reconnect(net: Network) -> None:
    applied = net.peers["b"].applied
    net.commit("a", [ListInsert(C, 1, ("tags",), 0, "x")])
    net.deliver_up("a")
    net.deliver_down("b")  # b applies it
    net.drop("b")
    net.sync_all()
    assert net.peers["b"].applied == applied + 1
    assert item(net, "b")["tags"] == ["x"]
    net.assert_converged()


def test_many_changes_download_in_batches() -> None:
    network = Network(["a", "b"])
    network.connect("a")
    network.commit("a", [CreateObject(C, 1)])
    for n in range(7):
        network.commit("a", [ListInsert(C, 1, ("l",), n, n)])
    network.settle()
    b = network.peers["b"]
    b.conn = ClientConnection()
    b.server_conn = ServerConnection(max_download_changesets=3)
    b.conn.bind(1, PATH, "t", b.history)
    b.up.extend(b.conn.frames_to_send())
    network.settle()
    downloads = [e for e in b.events if isinstance(e, RemoteChanges)]
    assert [len(e.changesets) for e in downloads] == [3, 3, 2]
    progress = [e for e in b.events if isinstance(e, DownloadProgressed)]
    assert progress[-1].caught_up and not progress[0].caught_up
    network.assert_converged()


def test_mark_reports_download_completion(net: Network) -> None:
    net.commit("a", [put("name", "x")])
    net.deliver_up("a")
    conn = net.peers["b"].conn
    assert conn is not None
    conn.mark(1, 42)
    net.peers["b"].up.extend(conn.frames_to_send())
    net.settle()
    events = net.peers["b"].events
    mark = next(n for n, e in enumerate(events) if isinstance(e, MarkReached))
    assert events[mark] == MarkReached(1, 42)
    assert any(isinstance(e, RemoteChanges) for e in events[:mark])


def test_ping_pong_measures_round_trip() -> None:
    client, server = ClientConnection(), ServerConnection()
    client.ping(1000)
    assert server.receive_data(client.data_to_send(), now_ms=1005) == []
    events = client.receive_data(server.data_to_send(), now_ms=1012)
    assert events == [PongReceived(1000, 12)]


def test_unbind_ends_the_session_and_retires_its_id() -> None:
    client, server, history = ClientConnection(), ServerConnection(), ServerHistory()
    client.bind(1, PATH, "t", ClientHistory())
    (request,) = server.receive_data(client.data_to_send(), now_ms=0)
    assert isinstance(request, BindRequested)
    server.accept_bind(1, history)
    client.receive_data(server.data_to_send())
    assert client.session_state(1) is SessionState.BOUND
    client.unbind(1)
    assert client.session_state(1) is SessionState.UNBINDING
    assert server.receive_data(client.data_to_send(), now_ms=0) == [ClientUnbound(1, PATH)]
    assert client.receive_data(server.data_to_send()) == [SessionUnbound(1)]
    assert client.session_state(1) is SessionState.UNBOUND
    with pytest.raises(LocalProtocolError, match="already used"):
        client.bind(1, PATH, "t", ClientHistory())


def test_unbind_while_the_server_is_still_deciding() -> None:
    client, server = ClientConnection(), ServerConnection()
    client.bind(1, PATH, "t", ClientHistory())
    client.unbind(1)
    events = server.receive_data(client.data_to_send(), now_ms=0)
    assert [type(e) for e in events] == [BindRequested, ClientUnbound]
    assert server.accept_bind(1, ServerHistory()) is False  # too late, no harm
    assert client.receive_data(server.data_to_send()) == [SessionUnbound(1)]


def test_stream_transport_in_odd_chunks(net: Network) -> None:
    client, server = ClientConnection(), ServerConnection()
    history = ClientHistory()
    client.bind(1, PATH, "t", history)
    data = client.data_to_send()
    events = []
    for n in range(len(data)):
        events += server.receive_data(data[n : n + 1], now_ms=0)
    server.accept_bind(1, net.history)
    data = server.data_to_send()
    client_events = []
    for start in range(0, len(data), 5):
        client_events += client.receive_data(data[start : start + 5])
    assert any(isinstance(e, RemoteChanges) for e in client_events)
    assert history.last_integrated_server_version == net.history.latest_version


# --------------------------------------------------------------------------- session errors


def test_bad_changeset_ends_only_that_session(net: Network) -> None:
    net.commit("a", [AddProperty(C, "age", "int")])
    net.settle()
    b = net.peers["b"]
    assert b.conn is not None
    # A buggy client (its own store would refuse this) contradicts the schema.
    bad = Changeset(
        0, b.history.latest_client_version + 1, 0, 99, (AddProperty(C, "age", "string"),)
    )
    b.conn.commit(1, bad)
    b.up.extend(b.conn.frames_to_send())
    net.settle()
    (error,) = [e for e in b.events if isinstance(e, SessionError)]
    assert error.code == ErrorCode.INVALID_SCHEMA_CHANGE and not error.try_again
    assert "Item.age" in error.message
    assert b.conn.session_state(1) is SessionState.ERROR
    assert b.conn.state is ConnectionState.OPEN
    # More uploads from b before it saw the error are ignored by the server.
    assert b.server_conn is not None
    b.server_conn.receive_message(encode_message(Upload(1, (), UploadProgress(9, 0))), now_ms=0)
    b.conn.unbind(1)
    b.up.extend(b.conn.frames_to_send())
    net.settle()
    assert isinstance(b.events[-1], SessionUnbound)


def test_client_reports_a_download_that_conflicts_with_local_schema(net: Network) -> None:
    net.drop("b")
    net.commit("b", [AddProperty(C, "age", "string")])
    net.commit("a", [AddProperty(C, "age", "int")])
    net.settle()
    net.connect("b")
    net.settle()
    errors = [e for e in net.peers["b"].events if isinstance(e, SessionError)]
    assert errors and all(e.code == ErrorCode.INVALID_SCHEMA_CHANGE for e in errors)


def test_rejected_bind_reports_the_reason() -> None:
    client, server = ClientConnection(), ServerConnection()
    client.bind(1, PATH, "bad token", ClientHistory())
    server.receive_data(client.data_to_send(), now_ms=0)
    server.reject_bind(1, ErrorCode.PERMISSION_DENIED, "no write access to /shared/test")
    (event,) = client.receive_data(server.data_to_send())
    assert event == SessionError(1, 206, "no write access to /shared/test", False)
    assert client.session_state(1) is SessionState.ERROR


@pytest.mark.parametrize(
    ("ident", "cursors", "code"),
    [
        (99, Cursors(0, 0), ErrorCode.BAD_CLIENT_FILE_IDENT),
        (1, Cursors(50, 0), ErrorCode.BAD_SERVER_VERSION),
        (1, Cursors(0, 7), ErrorCode.DIVERGING_HISTORIES),
    ],
)
def test_bind_with_impossible_cursors_fails_the_session(
    ident: int, cursors: Cursors, code: ErrorCode
) -> None:
    history = ServerHistory()
    history.allocate_file_ident()
    server = ServerConnection()
    server.receive_message(encode_message(Bind(1, PATH, "t", ident, cursors)), now_ms=0)
    server.accept_bind(1, history)
    (error,) = [decode_server_message(f) for f in server.frames_to_send()]
    assert isinstance(error, Error) and error.code == code and error.session == 1


def test_bind_after_compaction_asks_for_a_client_reset() -> None:
    history = ServerHistory()
    ident = history.allocate_file_ident()
    for n in range(1, 4):
        history.integrate(ident, [Changeset(ident, n, n - 1, n, (CreateObject(C, n),))])
    history.compact_before(3)
    server = ServerConnection()
    server.receive_message(encode_message(Bind(1, PATH, "t", ident, Cursors(1, 1))), now_ms=0)
    server.accept_bind(1, history)
    (error,) = [decode_server_message(f) for f in server.frames_to_send()]
    assert isinstance(error, Error) and error.code == ErrorCode.CLIENT_FILE_EXPIRED


def test_server_shutdown_closes_the_connection() -> None:
    client, server = ClientConnection(), ServerConnection()
    server.close()
    (event,) = client.receive_data(server.data_to_send())
    assert isinstance(event, ConnectionFailed) and event.try_again
    assert client.state is ConnectionState.CLOSED


# --------------------------------------------------------------------------- misuse (ours)


def test_protocol_misuse_raises_local_protocol_error() -> None:
    client = ClientConnection()
    history = ClientHistory()
    with pytest.raises(LocalProtocolError, match="not bound"):
        client.send(Upload(1, (), UploadProgress(0, 0)))
    with pytest.raises(LocalProtocolError, match="not bound"):
        client.mark(3, 1)
    with pytest.raises(LocalProtocolError, match="not bound"):
        client.unbind(3)
    with pytest.raises(LocalProtocolError, match="bind"):
        client.send(Bind(1, PATH, "t"))
    with pytest.raises(LocalProtocolError, match="start at 1"):
        client.bind(0, PATH, "t", history)
    client.bind(1, PATH, "t", history)
    with pytest.raises(LocalProtocolError, match="already used"):
        client.bind(1, "/other", "t", ClientHistory())
    with pytest.raises(LocalProtocolError, match="already bound"):
        client.bind(2, PATH, "t", ClientHistory())
    with pytest.raises(LocalProtocolError, match="already bound"):
        client.bind(2, "/other", "t", history)
    # Binding, not bound yet: no uploads or marks.
    with pytest.raises(LocalProtocolError, match="cannot send upload in state binding"):
        client.send(Upload(1, (), UploadProgress(0, 0)))
    with pytest.raises(LocalProtocolError, match="cannot send mark in state binding"):
        client.mark(1, 1)
    client.connection_lost()
    with pytest.raises(LocalProtocolError, match="closed"):
        client.ping(0)


def test_server_side_misuse_raises_local_protocol_error() -> None:
    server = ServerConnection()
    with pytest.raises(LocalProtocolError, match="never asked"):
        server.accept_bind(1, ServerHistory())
    server.receive_message(encode_message(Bind(1, PATH, "t")), now_ms=0)
    server.accept_bind(1, ServerHistory())
    with pytest.raises(LocalProtocolError, match="cannot accept bind in state bound"):
        server.accept_bind(1, ServerHistory())
    with pytest.raises(LocalProtocolError, match="cannot reject bind"):
        server.reject_bind(1, 206, "no")
    with pytest.raises(LocalProtocolError, match="not bound"):
        server.send_downloads(5)


def test_downloads_can_stop_at_a_version() -> None:
    """The server sends only what is stored: ``until_version`` bounds a
    download (and the progress it reports); the rest follows later."""
    history = ServerHistory()
    writer = history.allocate_file_ident()
    for version in range(1, 4):
        history.integrate(
            writer, [Changeset(writer, version, version - 1, 5, (CreateObject(C, version),))]
        )
    server = ServerConnection()
    server.receive_message(encode_message(Bind(1, PATH, "t")), now_ms=0)
    server.accept_bind(1, history)
    server.frames_to_send()  # ident and the first download
    for version in range(4, 7):
        history.integrate(
            writer, [Changeset(writer, version, version - 1, 5, (CreateObject(C, version),))]
        )

    def downloads() -> list[Download]:
        out = []
        for frame in server.frames_to_send():
            message = decode_server_message(frame)
            assert isinstance(message, Download)
            out.append(message)
        return out

    server.send_downloads(1, until_version=2)  # behind what the session has: nothing
    assert downloads() == []
    server.send_downloads(1, until_version=5)
    [first] = downloads()
    assert [c.server_version for c in first.changesets] == [4, 5]
    assert first.progress == DownloadProgress(5, 5)
    server.send_downloads(1)
    [rest] = downloads()
    assert [c.server_version for c in rest.changesets] == [6]
    assert rest.progress == DownloadProgress(6, 6)


def test_commit_while_unbound_waits_for_the_next_bind() -> None:
    client = ClientConnection()
    history = ClientHistory()
    client.bind(1, PATH, "t", history)
    client.frames_to_send()
    client.commit(1, Changeset(0, 1, 0, 5, (CreateObject(C, 1),)))
    assert client.frames_to_send() == []  # not bound yet: nothing to send
    assert len(history.pending) == 1


# --------------------------------------------------------------------------- bad data (theirs)


def bound_server() -> ServerConnection:
    server = ServerConnection()
    server.receive_message(encode_message(Bind(1, PATH, "t")), now_ms=0)
    server.accept_bind(1, ServerHistory())
    server.frames_to_send()
    return server


@pytest.mark.parametrize(
    ("message", "code", "fragment"),
    [
        (b"\xc1\xc1", ErrorCode.BAD_SYNTAX, "not valid msgpack"),
        (msgpack.packb({"type": "download"}), ErrorCode.UNKNOWN_MESSAGE, "'download'"),
        (
            encode_message(Upload(7, (), UploadProgress(0, 0))),
            ErrorCode.BAD_SESSION_IDENT,
            "session 7",
        ),
        (encode_message(Mark(7, 1)), ErrorCode.BAD_SESSION_IDENT, "session 7"),
        (encode_message(Bind(1, "/x", "t")), ErrorCode.REUSE_OF_SESSION_IDENT, "already used"),
        (encode_message(Bind(2, PATH, "t")), ErrorCode.BOUND_IN_OTHER_SESSION, "already bound"),
    ],
)
def test_bad_client_data_raises_and_produces_an_error_message(
    message: bytes, code: ErrorCode, fragment: str
) -> None:
    server = bound_server()
    with pytest.raises(RemoteProtocolError, match=fragment):
        server.receive_message(message, now_ms=0)
    (error,) = [decode_server_message(f) for f in server.frames_to_send()]
    assert isinstance(error, Error)
    assert (error.code, error.session, error.try_again) == (code, None, False)
    assert fragment in error.message
    assert server.state is ConnectionState.CLOSED
    with pytest.raises(LocalProtocolError, match="closed"):
        server.receive_message(encode_message(Ping(1)), now_ms=0)


def test_upload_before_ident_is_out_of_order() -> None:
    server = ServerConnection()
    server.receive_message(encode_message(Bind(1, PATH, "t")), now_ms=0)
    with pytest.raises(RemoteProtocolError, match="before the bind was answered"):
        server.receive_message(encode_message(Upload(1, (), UploadProgress(0, 0))), now_ms=0)
    (error,) = [decode_server_message(f) for f in server.frames_to_send()]
    assert isinstance(error, Error) and error.code == ErrorCode.BAD_MESSAGE_ORDER


def test_changeset_from_another_origin_fails_the_session() -> None:
    server = bound_server()
    forged = Changeset(99, 1, 0, 0, (CreateObject(C, 1),))
    (event,) = server.receive_message(
        encode_message(Upload(1, (forged,), UploadProgress(1, 0))), now_ms=0
    )
    assert isinstance(event, SessionError) and event.code == ErrorCode.BAD_ORIGIN_FILE_IDENT


def bound_client() -> tuple[ClientConnection, ClientHistory]:
    client = ClientConnection()
    history = ClientHistory()
    client.bind(1, PATH, "t", history)
    client.receive_message(encode_message(Ident(1, 4)))
    client.frames_to_send()
    return client, history


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        (b"\x00", "must be a map"),
        (encode_message(Ident(1, 4)), "cannot receive ident in state bound"),
        (encode_message(Ident(9, 4)), "unknown session 9"),
        (encode_message(Mark(1, 5)), "mark 5 was never requested"),
        (encode_message(Unbound(1)), "cannot receive unbound in state bound"),
        (encode_message(Error(212, "x", False, 9)), "unknown session 9"),
        (
            encode_message(Download(1, (), DownloadProgress(0, 0), 3)),
            "acknowledged client version 3",
        ),
    ],
)
def test_bad_server_data_raises_remote_protocol_error(message: bytes, fragment: str) -> None:
    client, _ = bound_client()
    with pytest.raises(RemoteProtocolError, match=fragment):
        client.receive_message(message)
    assert client.state is ConnectionState.CLOSED


def test_server_cannot_change_a_known_client_identity() -> None:
    client = ClientConnection()
    client.bind(1, PATH, "t", ClientHistory(4))
    with pytest.raises(RemoteProtocolError, match="this realm is 4"):
        client.receive_message(encode_message(Ident(1, 5)))


# --------------------------------------------------------------------------- state tables


def test_client_state_table() -> None:
    S, E = SessionState, SessionEvent
    assert next_state(CLIENT_TRANSITIONS, S.UNBOUND, E.SEND_BIND, 1) is S.BINDING
    assert next_state(CLIENT_TRANSITIONS, S.BINDING, E.RECV_IDENT, 1) is S.BOUND
    assert next_state(CLIENT_TRANSITIONS, S.BOUND, E.SEND_UNBIND, 1) is S.UNBINDING
    assert next_state(CLIENT_TRANSITIONS, S.UNBINDING, E.RECV_UNBOUND, 1) is S.UNBOUND
    assert next_state(CLIENT_TRANSITIONS, S.BOUND, E.RECV_ERROR, 1) is S.ERROR
    assert next_state(CLIENT_TRANSITIONS, S.ERROR, E.SEND_UNBIND, 1) is S.UNBINDING
    with pytest.raises(LocalProtocolError):
        next_state(CLIENT_TRANSITIONS, S.UNBOUND, E.SEND_UPLOAD, 1)
    with pytest.raises(RemoteProtocolError):
        next_state(CLIENT_TRANSITIONS, S.UNBOUND, E.RECV_DOWNLOAD, 1)


def test_server_state_table() -> None:
    S, E = SessionState, SessionEvent
    assert next_state(SERVER_TRANSITIONS, S.UNBOUND, E.RECV_BIND, 1) is S.BINDING
    assert next_state(SERVER_TRANSITIONS, S.BINDING, E.ACCEPT, 1) is S.BOUND
    assert next_state(SERVER_TRANSITIONS, S.BOUND, E.FAIL, 1) is S.ERROR
    assert next_state(SERVER_TRANSITIONS, S.ERROR, E.RECV_UPLOAD, 1) is S.ERROR
    assert next_state(SERVER_TRANSITIONS, S.ERROR, E.RECV_UNBIND, 1) is S.UNBOUND
    with pytest.raises(RemoteProtocolError):
        next_state(SERVER_TRANSITIONS, S.BINDING, E.RECV_MARK, 1)
    with pytest.raises(LocalProtocolError):
        next_state(SERVER_TRANSITIONS, S.BOUND, E.ACCEPT, 1)


def test_every_message_the_client_sends_is_a_valid_client_message(net: Network) -> None:
    client = ClientConnection()
    client.bind(1, "/p", "t", ClientHistory())
    client.ping(3)
    for frame in client.frames_to_send():
        assert type(decode_client_message(frame)) in (Bind, Ping, Unbind)


def test_upload_progress_must_match_its_changesets() -> None:
    server = bound_server()
    changeset = Changeset(1, 1, 0, 0, (CreateObject(C, 1),))
    (event,) = server.receive_message(
        encode_message(Upload(1, (changeset,), UploadProgress(0, 0))), now_ms=0
    )
    assert isinstance(event, SessionError) and event.code == ErrorCode.BAD_CLIENT_VERSION
    server = bound_server()
    (event,) = server.receive_message(
        encode_message(Upload(1, (changeset,), UploadProgress(1, 3))), now_ms=0
    )
    assert isinstance(event, SessionError) and event.code == ErrorCode.BAD_SERVER_VERSION


def test_compaction_past_a_bound_client_fails_its_session() -> None:
    history = ServerHistory()
    writer = history.allocate_file_ident()
    server = ServerConnection()
    server.receive_message(encode_message(Bind(1, PATH, "t")), now_ms=0)
    server.accept_bind(1, history)
    history.integrate(writer, [Changeset(writer, 1, 0, 1, (CreateObject(C, 1),))])
    server.send_downloads()
    server.frames_to_send()  # the session is at server version 1 now
    for n in range(2, 4):
        history.integrate(writer, [Changeset(writer, n, n - 1, n, (CreateObject(C, n),))])
    history.compact_before(3)
    server.send_downloads()
    (error,) = [decode_server_message(f) for f in server.frames_to_send()]
    assert isinstance(error, Error) and error.code == ErrorCode.CLIENT_FILE_EXPIRED
    assert server.session_state(1) is SessionState.ERROR


def test_compaction_before_a_new_client_downloads_sends_it_the_snapshot() -> None:
    history = ServerHistory()
    writer = history.allocate_file_ident()
    server = ServerConnection()
    server.receive_message(encode_message(Bind(1, PATH, "t")), now_ms=0)
    server.accept_bind(1, history)
    server.frames_to_send()
    for n in range(1, 4):
        history.integrate(writer, [Changeset(writer, n, n - 1, n, (CreateObject(C, n),))])
    history.compact_before(3)
    server.send_downloads()
    (download,) = [decode_server_message(f) for f in server.frames_to_send()]
    assert isinstance(download, Download)
    # Versions 1 and 2 are one snapshot changeset now (numbered 2), then 3.
    assert [r.server_version for r in download.changesets] == [2, 3]
    assert download.changesets[0].changeset.instructions == (CreateObject(C, 1), CreateObject(C, 2))
    assert server.session_state(1) is SessionState.BOUND


# --------------------------------------------------------------------------- uploads in flight


def _uploaded_versions(frames: list[bytes]) -> list[int]:
    out: list[int] = []
    for frame in frames:
        message = decode_client_message(frame)
        if isinstance(message, Upload):
            out.extend(c.client_version for c in message.changesets)
    return out


@pytest.mark.parametrize("deliver_first", [True, False])
def test_rebased_uploads_in_flight_are_not_sent_again(net: Network, deliver_first: bool) -> None:
    """A download rebases changesets in flight; the next upload carries only
    the new ones (the server rebases its copy), and everything converges."""
    a = net.peers["a"]
    net.commit("a", [ListInsert(C, 1, ("tags",), 0, "a1")])
    net.commit("a", [put("name", "a")])
    delivered: list[bytes] = []
    if deliver_first:
        delivered.append(a.up[0])
        net.deliver_up("a")  # integrated, but the acknowledgement is not there yet
    net.commit("b", [ListInsert(C, 1, ("tags",), 0, "b1"), put("name", "b")])
    net.deliver_up("b")
    while a.down:  # b's change (and maybe the ack) rebases a's changesets in flight
        net.deliver_down("a")
    for round_ in range(3):
        net.commit("a", [ListInsert(C, 1, ("tags",), 1, f"a{round_ + 2}")])
        net.commit("b", [ListInsert(C, 1, ("tags",), 0, f"b{round_ + 2}")])
        net.deliver_up("b")
        while a.down:
            net.deliver_down("a")
    sent = _uploaded_versions(delivered + a.up)
    assert sent == list(range(2, 7))  # the fixture committed version 1
    net.sync_all()
    net.assert_converged()
    assert not any(isinstance(e, SessionError) for e in net.server_events)
    assert len(sent) == len(set(sent))  # each changeset once on this connection
    assert not a.history.pending


def test_pipelined_uploads_are_acknowledged_in_order_and_survive_a_reconnect(
    net: Network,
) -> None:
    """Five uploads in flight at once (no ack awaited between them), another
    client's change concurrent with them; the server integrates two, the
    connection breaks with the rest in flight and the acks lost; after the
    reconnect nothing is integrated twice and nothing is lost."""
    a = net.peers["a"]
    for n in range(5):
        net.commit("a", [ListInsert(C, 1, ("tags",), n, f"a{n}")])
    assert _uploaded_versions(a.up) == [2, 3, 4, 5, 6]  # five frames, none waited for
    assert len(a.up) == 5
    net.commit("b", [ListInsert(C, 1, ("tags",), 0, "b0")])
    net.deliver_up("b")
    net.deliver_up("a")
    net.deliver_up("a")  # the server has a's 2 and 3 (after b's change)
    acks = [
        e.client_version
        for _ in range(len(a.down))
        for e in net.deliver_down("a")
        if isinstance(e, UploadAcknowledged)
    ]
    assert acks == sorted(acks) and acks[-1] == 3  # in order
    assert [c.client_version for c in a.history.pending] == [4, 5, 6]
    net.deliver_up("a")  # 4 is integrated, its ack is lost with the connection
    net.drop("a")
    net.commit("a", [ListInsert(C, 1, ("tags",), 5, "a5")])  # offline meanwhile
    net.sync_all()
    net.assert_converged()
    integrated = [
        (e.client_file_ident, entry.client_version)
        for e in net.server_events
        if isinstance(e, ChangesetsIntegrated)
        for entry in e.entries
    ]
    assert len(integrated) == len(set(integrated))  # nothing twice
    mine = sorted(v for ident, v in integrated if ident == a.history.client_file_ident)
    assert mine == [1, 2, 3, 4, 5, 6, 7]  # nothing lost
    tags = item(net, "server")["tags"]
    assert sorted(tags) == ["a0", "a1", "a2", "a3", "a4", "a5", "b0"]
    assert not a.history.pending


def test_read_only_session_refuses_uploads_without_integrating() -> None:
    history = ServerHistory()
    server = ServerConnection()
    client = ClientConnection()
    client.bind(1, PATH, "token", ClientHistory())
    for frame in client.frames_to_send():
        server.receive_message(frame, now_ms=1)
    assert server.accept_bind(1, history, can_upload=False, upload_denied="reader: no")
    for frame in server.frames_to_send():
        client.receive_message(frame)
    client.commit(1, Changeset(0, 1, 0, 5, (CreateObject(C, 1),)))
    events = [e for f in client.frames_to_send() for e in server.receive_message(f, now_ms=2)]
    assert events == [SessionError(1, int(ErrorCode.PERMISSION_DENIED), "reader: no", False)]
    assert history.latest_version == 0
    assert server.session_state(1) is SessionState.ERROR
    (frame,) = server.frames_to_send()
    error = decode_server_message(frame)
    assert isinstance(error, Error) and error.code == ErrorCode.PERMISSION_DENIED
    assert not error.try_again


def test_write_permission_can_change_while_bound() -> None:
    history = ServerHistory()
    server = ServerConnection()
    client = ClientConnection()
    client.bind(1, PATH, "token", ClientHistory())
    for frame in client.frames_to_send():
        server.receive_message(frame, now_ms=1)
    server.accept_bind(1, history, can_upload=False)
    server.set_can_upload(1, True)
    for frame in server.frames_to_send():
        client.receive_message(frame)
    client.commit(1, Changeset(0, 1, 0, 5, (CreateObject(C, 1),)))
    for frame in client.frames_to_send():
        assert not any(isinstance(e, SessionError) for e in server.receive_message(frame, now_ms=2))
    assert history.latest_version == 1


def test_outgoing_frames_are_described() -> None:
    history = ServerHistory()
    other = history.allocate_file_ident()
    server = ServerConnection()
    client = ClientConnection()
    client.bind(1, PATH, "token", ClientHistory())
    for frame in client.frames_to_send():
        server.receive_message(frame, now_ms=1)
    server.accept_bind(1, history)
    (ident,) = server.frames_to_send_described()
    assert ident[1] == OutgoingFrame("ident", 1, message=decode_server_message(ident[0]))
    history.integrate(other, [Changeset(other, 1, 0, 5, (CreateObject(C, 1), put("n", 1)))])
    history.integrate(other, [Changeset(other, 2, 1, 6, (put("n", 2),))])
    server.send_downloads()
    server.fail_session(1, ErrorCode.PERMISSION_DENIED, "gone")
    described = server.frames_to_send_described()
    assert [info.type for _, info in described] == ["download", "error"]
    (download, d_info), (error, e_info) = described
    assert d_info == OutgoingFrame("download", 1, 2, decode_server_message(download))
    assert d_info.instructions == 3
    assert e_info == OutgoingFrame("error", 1, message=decode_server_message(error))
    assert server.frames_to_send() == []


def test_downloads_encode_each_changeset_once_per_realm() -> None:
    history = ServerHistory()
    writer = history.allocate_file_ident()
    history.integrate(writer, [Changeset(writer, 1, 0, 5, (CreateObject(C, 1), put("n", 1)))])
    cache = EncodedChangesets(max_entries=1)
    frames: list[bytes] = []
    for _ in range(2):
        server = ServerConnection()
        client = ClientConnection()
        client.bind(1, PATH, "token", ClientHistory())
        for frame in client.frames_to_send():
            server.receive_message(frame, now_ms=1)
        server.accept_bind(1, history, encoded=cache)
        frames.extend(server.frames_to_send()[1:])
        assert len(cache) == 1
    plain = ServerConnection()
    plain.receive_message(encode_message(Bind(1, PATH, "token")), now_ms=1)
    plain.accept_bind(1, history)
    assert frames == [plain.frames_to_send()[1]] * 2
