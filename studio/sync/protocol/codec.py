"""Wire form of the protocol messages, with strict validation.

Every message is one msgpack map with a ``"type"`` string and exactly the
fields listed in ``_FIELDS`` (no more, no fewer). Changesets travel as msgpack
``bin`` holding :func:`~studio.sync.changeset.encode_changeset` bytes (so the
server can store them as they came); a downloaded changeset is
``[server_version, last_integrated_client_version, bin]``. Small structures
are nested maps::

    {"type": "bind", "session": 1, "path": "/~/chat", "token": "...",
     "client_file_ident": 0, "cursors": {"server_version": 0, "client_version": 0}}
    {"type": "upload", "session": 1, "changesets": [bin, ...],
     "progress": {"client_version": 7, "server_version": 12}}
    {"type": "download", "session": 1, "changesets": [[13, 7, bin], ...],
     "progress": {"server_version": 13, "latest_server_version": 13}, "upload_ack": 7}
    {"type": "error", "session": 1 | nil, "code": 212, "message": "...", "try_again": false}

Decoding is direction-aware (a server only accepts client messages) and raises
:class:`~studio.sync.errors.RemoteProtocolError` carrying the error code to
report (bad_syntax, unknown_message, bad_changeset, limits_exceeded).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Final

import msgpack

from studio.sync.changeset import decode_changeset, encode_changeset
from studio.sync.errors import RemoteProtocolError
from studio.sync.history import RemoteChangeset
from studio.sync.protocol.messages import (
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
from studio.sync.values import INT64_MAX, INT64_MIN

DEFAULT_MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024
_UINT64_MAX: Final = 2**64 - 1

_FIELDS: Final[dict[str, frozenset[str]]] = {
    "bind": frozenset({"type", "session", "path", "token", "client_file_ident", "cursors"}),
    "upload": frozenset({"type", "session", "changesets", "progress"}),
    "mark": frozenset({"type", "session", "request_id"}),
    "unbind": frozenset({"type", "session"}),
    "ping": frozenset({"type", "timestamp"}),
    "ident": frozenset({"type", "session", "client_file_ident"}),
    "download": frozenset({"type", "session", "changesets", "progress", "upload_ack"}),
    "unbound": frozenset({"type", "session"}),
    "error": frozenset({"type", "session", "code", "message", "try_again"}),
    "pong": frozenset({"type", "timestamp"}),
}
CLIENT_MESSAGE_TYPES: Final = frozenset({"bind", "upload", "mark", "unbind", "ping"})
SERVER_MESSAGE_TYPES: Final = frozenset({"ident", "download", "mark", "unbound", "error", "pong"})


# --------------------------------------------------------------------------- encoding


class EncodedChangesets:
    """Encoded changesets of one server history by server version, shared by
    the connections bound to that realm: a download going to many clients
    encodes each changeset once. Keeps the ``max_entries`` latest added."""

    __slots__ = ("_bytes", "_max")

    def __init__(self, max_entries: int = 4096) -> None:
        # OrderedDict: dropping the oldest is O(1) (``del d[next(iter(d))]``
        # on a dict scans every slot deleted before it).
        self._bytes: OrderedDict[int, bytes] = OrderedDict()
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._bytes)

    def encode(self, remote: RemoteChangeset) -> bytes:
        data = self._bytes.get(remote.server_version)
        if data is None:
            data = encode_changeset(remote.changeset)
            if len(self._bytes) >= self._max:
                self._bytes.popitem(last=False)  # the oldest added
            self._bytes[remote.server_version] = data
        return data


def message_to_wire(message: Message, cache: EncodedChangesets | None = None) -> dict[str, Any]:
    """The msgpack-ready map of ``message`` (downloaded changesets from
    ``cache`` when given)."""
    if isinstance(message, Bind):
        return {
            "type": "bind",
            "session": message.session,
            "path": message.path,
            "token": message.token,
            "client_file_ident": message.client_file_ident,
            "cursors": {
                "server_version": message.cursors.last_integrated_server_version,
                "client_version": message.cursors.last_acked_client_version,
            },
        }
    if isinstance(message, Upload):
        return {
            "type": "upload",
            "session": message.session,
            "changesets": [encode_changeset(c) for c in message.changesets],
            "progress": {
                "client_version": message.progress.client_version,
                "server_version": message.progress.last_integrated_server_version,
            },
        }
    if isinstance(message, Mark):
        return {"type": "mark", "session": message.session, "request_id": message.request_id}
    if isinstance(message, Unbind | Unbound):
        return {
            "type": "unbind" if isinstance(message, Unbind) else "unbound",
            "session": message.session,
        }
    if isinstance(message, Ping | Pong):
        return {
            "type": "ping" if isinstance(message, Ping) else "pong",
            "timestamp": message.timestamp,
        }
    if isinstance(message, Ident):
        return {
            "type": "ident",
            "session": message.session,
            "client_file_ident": message.client_file_ident,
        }
    if isinstance(message, Download):
        return {
            "type": "download",
            "session": message.session,
            "changesets": [
                [
                    c.server_version,
                    c.last_integrated_client_version,
                    encode_changeset(c.changeset) if cache is None else cache.encode(c),
                ]
                for c in message.changesets
            ],
            "progress": {
                "server_version": message.progress.server_version,
                "latest_server_version": message.progress.latest_server_version,
            },
            "upload_ack": message.upload_ack,
        }
    if isinstance(message, Error):
        return {
            "type": "error",
            "session": message.session,
            "code": int(message.code),
            "message": message.message,
            "try_again": message.try_again,
        }
    raise TypeError(f"not a protocol message: {message!r}")


def encode_message(message: Message, cache: EncodedChangesets | None = None) -> bytes:
    """One message as bytes (a websocket frame, or a piece of a stream)."""
    return msgpack.packb(message_to_wire(message, cache), use_bin_type=True)


# --------------------------------------------------------------------------- decoding


def _fail(message: str, code: ErrorCode = ErrorCode.BAD_SYNTAX) -> RemoteProtocolError:
    return RemoteProtocolError(message, code=int(code), try_again=False)


def _check_uint(value: Any, what: str, minimum: int = 0) -> int:
    if type(value) is not int or not minimum <= value <= _UINT64_MAX:
        text = repr(value)
        raise _fail(f"{what} must be an integer >= {minimum}, got {text[:60]}")
    return value


class _Fields:
    """Typed access to the fields of one decoded message map."""

    __slots__ = ("kind", "raw")

    def __init__(self, kind: str, raw: dict[str, Any]) -> None:
        self.kind = kind
        self.raw = raw

    def fail(self, name: str, expected: str) -> RemoteProtocolError:
        value = repr(self.raw[name])
        if len(value) > 60:
            value = value[:57] + "..."
        return _fail(f"{self.kind} message: {name} must be {expected}, got {value}")

    def uint(self, name: str, minimum: int = 0) -> int:
        return _check_uint(self.raw[name], f"{self.kind} message: {name}", minimum)

    def session(self) -> int:
        return self.uint("session", 1)

    def int64(self, name: str) -> int:
        value = self.raw[name]
        if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
            raise self.fail(name, "a 64-bit integer")
        return value

    def string(self, name: str, *, empty: bool = True) -> str:
        value = self.raw[name]
        if type(value) is not str or (not empty and not value):
            raise self.fail(name, "a string" if empty else "a non-empty string")
        return value

    def submap(self, name: str, keys: frozenset[str]) -> dict[str, Any]:
        value = self.raw[name]
        if type(value) is not dict or value.keys() != keys:
            raise self.fail(name, f"a map with exactly the keys {sorted(keys)}")
        for key in keys:
            v = value[key]
            if type(v) is not int or not 0 <= v <= _UINT64_MAX:
                raise _fail(f"{self.kind} message: {name}.{key} must be an integer >= 0, got {v!r}")
        return value

    def array(self, name: str) -> list[Any]:
        value = self.raw[name]
        if type(value) is not list:
            raise self.fail(name, "an array")
        return value

    def changeset(self, data: object, where: str) -> Any:
        if type(data) is not bytes:
            raise _fail(f"{self.kind} message: {where} must be bin, got {type(data).__name__}")
        try:
            return decode_changeset(data)
        except RemoteProtocolError as exc:
            raise _fail(f"{self.kind} message: {where}: {exc}", ErrorCode.BAD_CHANGESET) from None


_PROGRESS_KEYS: Final = frozenset({"client_version", "server_version"})
_DOWNLOAD_PROGRESS_KEYS: Final = frozenset({"server_version", "latest_server_version"})


def _bind(f: _Fields) -> Bind:
    cursors = f.submap("cursors", _PROGRESS_KEYS)
    return Bind(
        f.session(),
        f.string("path", empty=False),
        f.string("token"),
        f.uint("client_file_ident"),
        Cursors(cursors["server_version"], cursors["client_version"]),
    )


def _upload(f: _Fields) -> Upload:
    session = f.session()
    changesets = tuple(
        f.changeset(c, f"changeset {n}") for n, c in enumerate(f.array("changesets"))
    )
    progress = f.submap("progress", _PROGRESS_KEYS)
    return Upload(
        session, changesets, UploadProgress(progress["client_version"], progress["server_version"])
    )


def _download(f: _Fields) -> Download:
    session = f.session()
    out = []
    for n, item in enumerate(f.array("changesets")):
        if type(item) is not list or len(item) != 3:
            raise _fail(
                f"download message: changeset {n} must be "
                "[server_version, last_integrated_client_version, bin]"
            )
        out.append(
            RemoteChangeset(
                _check_uint(item[0], f"download message: changeset {n} server_version", 1),
                _check_uint(
                    item[1], f"download message: changeset {n} last_integrated_client_version"
                ),
                f.changeset(item[2], f"changeset {n}"),
            )
        )
    progress = f.submap("progress", _DOWNLOAD_PROGRESS_KEYS)
    if progress["server_version"] > progress["latest_server_version"]:
        raise _fail("download message: progress.server_version is after latest_server_version")
    return Download(
        session,
        tuple(out),
        DownloadProgress(progress["server_version"], progress["latest_server_version"]),
        f.uint("upload_ack"),
    )


def _error(f: _Fields) -> Error:
    session = None if f.raw["session"] is None else f.session()
    try_again = f.raw["try_again"]
    if type(try_again) is not bool:
        raise f.fail("try_again", "a bool")
    return Error(f.uint("code"), f.string("message"), try_again, session)


_DECODERS: Final[dict[str, Callable[[_Fields], Message]]] = {
    "bind": _bind,
    "upload": _upload,
    "mark": lambda f: Mark(f.session(), f.uint("request_id")),
    "unbind": lambda f: Unbind(f.session()),
    "ping": lambda f: Ping(f.int64("timestamp")),
    "ident": lambda f: Ident(f.session(), f.uint("client_file_ident", 1)),
    "download": _download,
    "unbound": lambda f: Unbound(f.session()),
    "error": _error,
    "pong": lambda f: Pong(f.int64("timestamp")),
}


def message_from_wire(raw: object, allowed: frozenset[str]) -> Message:
    """Validate a decoded msgpack object as one of the ``allowed`` message types."""
    if type(raw) is not dict:
        raise _fail(f"a message must be a map, got {type(raw).__name__}")
    assert isinstance(raw, dict)
    kind = raw.get("type")
    if type(kind) is not str:
        raise _fail("a message needs a string 'type'")
    if kind not in allowed:
        raise _fail(f"unexpected message type {kind!r}", ErrorCode.UNKNOWN_MESSAGE)
    expected = _FIELDS[kind]
    if raw.keys() != expected:
        missing = sorted(expected - raw.keys())
        extra = sorted(str(k) for k in raw.keys() - expected)
        raise _fail(f"{kind} message: missing fields {missing}, unknown fields {extra}")
    return _DECODERS[kind](_Fields(kind, raw))


def _unpack_one(data: bytes) -> object:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:  # msgpack may raise anything on garbage
        raise _fail(f"a message is not valid msgpack ({exc})") from None


def decode_client_message(data: bytes) -> ClientMessage:
    """Decode exactly one client -> server message (strict)."""
    return message_from_wire(_unpack_one(data), CLIENT_MESSAGE_TYPES)  # type: ignore[return-value]


def decode_server_message(data: bytes) -> ServerMessage:
    """Decode exactly one server -> client message (strict)."""
    return message_from_wire(_unpack_one(data), SERVER_MESSAGE_TYPES)  # type: ignore[return-value]


class MessageReader:
    """Splits a byte stream into messages (msgpack is self-delimiting), for
    transports that do not frame messages themselves."""

    def __init__(
        self, allowed: frozenset[str], max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    ) -> None:
        self._allowed = allowed
        self._max = max_message_size
        self._unpacker = msgpack.Unpacker(
            raw=False, strict_map_key=True, use_list=True, max_buffer_size=max_message_size
        )

    def feed(self, data: bytes) -> Iterator[Message]:
        """Add bytes; yields every message completed by them."""
        try:
            self._unpacker.feed(data)
        except msgpack.BufferFull:
            raise _fail(
                f"a message is larger than {self._max} bytes", ErrorCode.LIMITS_EXCEEDED
            ) from None
        while True:
            try:
                raw = next(self._unpacker)
            except StopIteration:
                return
            except Exception as exc:
                raise _fail(f"a message is not valid msgpack ({exc})") from None
            yield message_from_wire(raw, self._allowed)
