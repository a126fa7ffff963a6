"""Protocol messages on the wire: round trips and strict validation."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sync_strategies import changeset_key, changesets

from studio.primitives.instructions import Changeset, CreateObject
from studio.sync.changeset import encode_changeset
from studio.sync.errors import RemoteProtocolError
from studio.sync.history import RemoteChangeset
from studio.sync.protocol import (
    Bind,
    Cursors,
    Download,
    DownloadProgress,
    Error,
    ErrorCode,
    Ident,
    Mark,
    MessageReader,
    Ping,
    Pong,
    Unbind,
    Unbound,
    Upload,
    UploadProgress,
    decode_client_message,
    decode_server_message,
    encode_message,
)
from studio.sync.protocol.codec import CLIENT_MESSAGE_TYPES, MESSAGE_TYPES, SERVER_MESSAGE_TYPES

u64 = st.integers(0, 2**64 - 1)
sessions = st.integers(1, 2**64 - 1)
small_changesets = st.lists(changesets, max_size=3).map(tuple)

client_messages = st.one_of(
    st.builds(
        Bind, sessions, st.text(min_size=1), st.text(), u64, st.builds(Cursors, u64, u64), u64
    ),
    st.builds(Upload, sessions, small_changesets, st.builds(UploadProgress, u64, u64)),
    st.builds(Mark, sessions, u64),
    st.builds(Unbind, sessions),
    st.builds(Ping, st.integers(-(2**63), 2**63 - 1)),
)
server_messages = st.one_of(
    st.builds(Ident, sessions, st.integers(1, 2**64 - 1), u64),
    st.builds(
        Download,
        sessions,
        st.lists(
            st.builds(RemoteChangeset, st.integers(1, 2**64 - 1), u64, changesets), max_size=3
        ).map(tuple),
        st.tuples(u64, u64).map(lambda t: DownloadProgress(min(t), max(t))),
        u64,
    ),
    st.builds(Mark, sessions, u64),
    st.builds(Unbound, sessions),
    st.builds(Error, u64, st.text(), st.booleans(), st.one_of(st.none(), sessions)),
    st.builds(Pong, st.integers(-(2**63), 2**63 - 1)),
)


def key(message: Any) -> Any:
    """Comparable form (changesets by exact key: NaN-safe)."""
    if isinstance(message, Upload):
        return (message.session, [changeset_key(c) for c in message.changesets], message.progress)
    if isinstance(message, Download):
        entries = [
            (r.server_version, r.last_integrated_client_version, changeset_key(r.changeset))
            for r in message.changesets
        ]
        return (message.session, entries, message.progress, message.upload_ack)
    return message


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(client_messages)
def test_client_messages_round_trip(message: Any) -> None:
    back = decode_client_message(encode_message(message))
    assert type(back) is type(message) and key(back) == key(message)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(server_messages)
def test_server_messages_round_trip(message: Any) -> None:
    back = decode_server_message(encode_message(message))
    assert type(back) is type(message) and key(back) == key(message)


def test_wire_form_is_a_map_with_a_type() -> None:
    data = encode_message(Bind(1, "/~/chat", "tok", 4, Cursors(3, 2), 2**62 + 1))
    assert msgpack.unpackb(data) == {
        "type": "bind",
        "session": 1,
        "path": "/~/chat",
        "token": "tok",
        "client_file_ident": 4,
        "client_file_salt": 2**62 + 1,
        "cursors": {"server_version": 3, "client_version": 2},
    }
    assert msgpack.unpackb(encode_message(Ident(1, 4, 99))) == {
        "type": "ident",
        "session": 1,
        "client_file_ident": 4,
        "client_file_salt": 99,
    }
    changeset = Changeset(1, 1, 0, 0, (CreateObject("C", 1),))
    download = msgpack.unpackb(
        encode_message(Download(1, (RemoteChangeset(5, 2, changeset),), DownloadProgress(5, 6), 2))
    )
    assert download["changesets"] == [[5, 2, encode_changeset(changeset)]]


def expect(data: Any, fragment: str, code: ErrorCode, decode: Any = decode_client_message) -> None:
    raw = data if isinstance(data, bytes) else msgpack.packb(data, use_bin_type=True)
    with pytest.raises(RemoteProtocolError) as info:
        decode(raw)
    assert fragment in str(info.value)
    assert info.value.code == code


def good_upload(**changes: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "type": "upload",
        "session": 1,
        "changesets": [encode_changeset(Changeset(1, 1, 0, 0, ()))],
        "progress": {"client_version": 1, "server_version": 0},
    }
    msg.update(changes)
    return msg


@pytest.mark.parametrize(
    ("data", "fragment", "code"),
    [
        (b"\xc1", "not valid msgpack", ErrorCode.BAD_SYNTAX),
        (encode_message(Ping(1)) + b"\x00", "not valid msgpack", ErrorCode.BAD_SYNTAX),
        ([1, 2], "must be a map", ErrorCode.BAD_SYNTAX),
        ({"session": 1}, "string 'type'", ErrorCode.BAD_SYNTAX),
        ({"type": "hello"}, "unexpected message type 'hello'", ErrorCode.UNKNOWN_MESSAGE),
        ({"type": "download"}, "unexpected message type 'download'", ErrorCode.UNKNOWN_MESSAGE),
        ({"type": "unbind"}, "missing fields ['session']", ErrorCode.BAD_SYNTAX),
        ({"type": "unbind", "session": 1, "x": 1}, "unknown fields ['x']", ErrorCode.BAD_SYNTAX),
        ({"type": "unbind", "session": 0}, "session must be", ErrorCode.BAD_SYNTAX),
        ({"type": "unbind", "session": True}, "session must be", ErrorCode.BAD_SYNTAX),
        ({"type": "ping", "timestamp": 1.5}, "timestamp", ErrorCode.BAD_SYNTAX),
        ({"type": "mark", "session": 1, "request_id": -1}, "request_id", ErrorCode.BAD_SYNTAX),
        (good_upload(changesets={}), "changesets must be an array", ErrorCode.BAD_SYNTAX),
        (good_upload(changesets=["x"]), "changeset 0 must be bin", ErrorCode.BAD_SYNTAX),
        (good_upload(changesets=[b"\x93"]), "changeset 0", ErrorCode.BAD_CHANGESET),
        (good_upload(progress={"client_version": 1}), "progress", ErrorCode.BAD_SYNTAX),
        (
            good_upload(progress={"client_version": 1, "server_version": "0"}),
            "server_version",
            ErrorCode.BAD_SYNTAX,
        ),
        (
            {
                "type": "bind",
                "session": 1,
                "path": "",
                "token": "",
                "client_file_ident": 0,
                "client_file_salt": 0,
                "cursors": {"server_version": 0, "client_version": 0},
            },
            "path must be a non-empty",
            ErrorCode.BAD_SYNTAX,
        ),
        (
            {
                "type": "bind",
                "session": 1,
                "path": "/~/x",
                "token": "",
                "client_file_ident": 3,
                "cursors": {"server_version": 0, "client_version": 0},
            },
            "missing fields ['client_file_salt']",
            ErrorCode.BAD_SYNTAX,
        ),
        (
            {
                "type": "bind",
                "session": 1,
                "path": "/~/x",
                "token": "",
                "client_file_ident": 3,
                "client_file_salt": -1,
                "cursors": {"server_version": 0, "client_version": 0},
            },
            "bind message: client_file_salt must be an integer >= 0",
            ErrorCode.BAD_SYNTAX,
        ),
    ],
)
def test_client_message_validation(data: Any, fragment: str, code: ErrorCode) -> None:
    expect(data, fragment, code)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"type": "bind"}, "unexpected message type 'bind'"),
        (
            {"type": "ident", "session": 1, "client_file_ident": 0, "client_file_salt": 1},
            "client_file_ident",
        ),
        (
            {"type": "ident", "session": 1, "client_file_ident": 1, "client_file_salt": "s"},
            "client_file_salt must be an integer",
        ),
        (
            {"type": "error", "session": None, "code": 1, "message": "m", "try_again": 1},
            "try_again must be a bool",
        ),
        (
            {
                "type": "download",
                "session": 1,
                "changesets": [[1, 0]],
                "progress": {"server_version": 1, "latest_server_version": 1},
                "upload_ack": 0,
            },
            "changeset 0 must be",
        ),
        (
            {
                "type": "download",
                "session": 1,
                "changesets": [[0, 0, b""]],
                "progress": {"server_version": 1, "latest_server_version": 1},
                "upload_ack": 0,
            },
            "server_version must be an integer >= 1",
        ),
        (
            {
                "type": "download",
                "session": 1,
                "changesets": [],
                "progress": {"server_version": 2, "latest_server_version": 1},
                "upload_ack": 0,
            },
            "after latest_server_version",
        ),
    ],
)
def test_server_message_validation(data: Any, fragment: str) -> None:
    raw = msgpack.packb(data, use_bin_type=True)
    with pytest.raises(RemoteProtocolError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        decode_server_message(raw)


def test_the_table_defines_every_message_type_once() -> None:
    """Every message dataclass has one entry whose fields are exactly its own,
    and the directions come from the table."""
    names = [t.name for t in MESSAGE_TYPES]
    assert len(names) == len(set(names))
    assert {t.cls for t in MESSAGE_TYPES} == {
        Bind, Upload, Mark, Unbind, Ping, Ident, Download, Unbound, Error, Pong
    }  # fmt: skip
    for t in MESSAGE_TYPES:
        assert [f.name for f in t.fields] == [f.name for f in dataclasses.fields(t.cls)]
    assert {"bind", "upload", "mark", "unbind", "ping"} == CLIENT_MESSAGE_TYPES
    assert {"ident", "download", "mark", "unbound", "error", "pong"} == SERVER_MESSAGE_TYPES


def test_reader_splits_a_stream_at_any_boundary() -> None:
    messages = [Ping(n) for n in range(5)] + [Unbind(3)]
    data = b"".join(encode_message(m) for m in messages)
    for chunk in (1, 2, 3, 7, len(data)):
        reader = MessageReader(CLIENT_MESSAGE_TYPES)
        out = []
        for start in range(0, len(data), chunk):
            out.extend(reader.feed(data[start : start + chunk]))
        assert out == messages


def test_reader_enforces_the_size_limit() -> None:
    reader = MessageReader(SERVER_MESSAGE_TYPES, max_message_size=64)
    with pytest.raises(RemoteProtocolError, match="larger than 64") as info:
        list(reader.feed(encode_message(Error(1, "x" * 100, False))))
    assert info.value.code == ErrorCode.LIMITS_EXCEEDED


@settings(max_examples=500)
@given(st.binary(max_size=100))
def test_random_bytes_raise_only_remote_protocol_error(data: bytes) -> None:
    for decode in (decode_client_message, decode_server_message):
        try:
            decode(data)
        except RemoteProtocolError:
            pass
    reader = MessageReader(CLIENT_MESSAGE_TYPES)
    try:
        list(reader.feed(data))
    except RemoteProtocolError:
        pass


def test_error_codes_know_whether_to_retry() -> None:
    assert ErrorCode.CONNECTION_CLOSED.try_again
    assert ErrorCode.TOKEN_EXPIRED.try_again
    assert not ErrorCode.BAD_CHANGESET.try_again
    assert not ErrorCode.PERMISSION_DENIED.try_again
    assert not ErrorCode.CLIENT_FILE_IDENT_MISMATCH.try_again
    assert ErrorCode.CLIENT_FILE_IDENT_MISMATCH.is_session_level
    assert ErrorCode.BAD_CHANGESET.is_session_level
    assert not ErrorCode.BAD_SYNTAX.is_session_level
    assert ErrorCode.describe(212) == "bad_changeset"
    assert ErrorCode.describe(999) == "error 999"
