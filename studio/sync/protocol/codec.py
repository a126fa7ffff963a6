"""Wire form of the protocol messages, with strict validation.

Every message is one msgpack map with a ``"type"`` string and exactly the
fields its entry in :data:`MESSAGE_TYPES` lists (no more, no fewer). That
table is the one place a message type is spelled out: its dataclass, which
side may send it, and each field with its wire name and validation; encoding
and decoding are derived from it. Changesets travel as msgpack
``bin`` holding :func:`~studio.sync.changeset.encode_changeset` bytes (so the
server can store them as they came); a downloaded changeset is
``[server_version, last_integrated_client_version, bin]``. Small structures
are nested maps::

    {"type": "bind", "session": 1, "path": "/~/chat", "token": "...",
     "client_file_ident": 0, "client_file_salt": 0,
     "cursors": {"server_version": 0, "client_version": 0}}
    {"type": "ident", "session": 1, "client_file_ident": 5, "client_file_salt": 81...}
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

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from studio.primitives.instructions import Changeset
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
from studio.sync.protocol.spliced import EncodedChangesets, encode_download
from studio.sync.values import INT64_MAX, INT64_MIN

DEFAULT_MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024
_UINT64_MAX: Final = 2**64 - 1


def _fail(message: str, code: ErrorCode = ErrorCode.BAD_SYNTAX) -> RemoteProtocolError:
    return RemoteProtocolError(message, code=int(code), try_again=False)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_uint(value: Any, what: str, minimum: int = 0) -> int:
    if type(value) is not int or not minimum <= value <= _UINT64_MAX:
        raise _fail(f"{what} must be an integer >= {minimum}, got {_shown(value)}")
    return value


# --------------------------------------------------------------------------- field kinds


def _compile(expression: str, env: dict[str, Any]) -> Any:
    """Evaluate generated source (as dataclasses and namedtuple do): the codec
    of each message type is made from its table entry into the code one would
    write by hand, so the table costs nothing per message."""
    return eval(expression, env)  # the source is made from MESSAGE_TYPES, never from input


Encoder = Callable[[Any, EncodedChangesets | None], Any]
Decoder = Callable[[Any, str], Any]
"""``(wire value, "<type> message: <field>") -> field value``; raises
RemoteProtocolError saying what is wrong."""


@dataclass(frozen=True, slots=True)
class Kind:
    """How one field travels: ``encode`` (None: the value as it is) and
    ``decode`` (validates the wire value, returns the field's value)."""

    decode: Decoder
    encode: Encoder | None = None
    inline: Callable[[str], str] | None = None
    """Source of an expression encoding the value of the given expression,
    put into the generated encoder instead of calling ``encode``."""


def _uint(minimum: int = 0) -> Kind:
    def decode(value: Any, what: str) -> int:
        return _check_uint(value, what, minimum)

    return Kind(decode)


def _int64(value: Any, what: str) -> int:
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        raise _fail(f"{what} must be a 64-bit integer, got {_shown(value)}")
    return value


def _string(value: Any, what: str) -> str:
    if type(value) is not str:
        raise _fail(f"{what} must be a string, got {_shown(value)}")
    return value


def _nonempty_string(value: Any, what: str) -> str:
    if type(value) is not str or not value:
        raise _fail(f"{what} must be a non-empty string, got {_shown(value)}")
    return value


def _bool(value: Any, what: str) -> bool:
    if type(value) is not bool:
        raise _fail(f"{what} must be a bool, got {_shown(value)}")
    return value


_SESSION_UINT: Final = _uint(1).decode


def _optional_session(value: Any, what: str) -> int | None:
    return None if value is None else _SESSION_UINT(value, what)


def _struct(
    cls: Callable[..., Any],
    fields: tuple[tuple[str, str], ...],
    check: Callable[[Any, str], None] | None = None,
) -> Kind:
    """A small structure sent as a map of unsigned integers: ``fields`` are
    (wire key, attribute) in the order of ``cls``'s fields."""
    keys = frozenset(wire for wire, _ in fields)
    wires = tuple(wire for wire, _ in fields)

    def inline(value: str) -> str:
        return "{" + ", ".join(f"{wire!r}: {value}.{attr}" for wire, attr in fields) + "}"

    encode: Encoder = _compile(f"lambda v, cache: {inline('v')}", {})

    def decode(value: Any, what: str) -> Any:
        if type(value) is not dict or value.keys() != keys:
            raise _fail(f"{what} must be a map with exactly the keys {sorted(keys)}, "
                        f"got {_shown(value)}")  # fmt: skip
        for wire in wires:
            v = value[wire]
            if type(v) is not int or not 0 <= v <= _UINT64_MAX:
                raise _fail(f"{what}.{wire} must be an integer >= 0, got {_shown(v)}")
        out = cls(*[value[wire] for wire in wires])
        if check is not None:
            check(out, what)
        return out

    return Kind(decode, encode, inline)


def _download_progress_order(progress: DownloadProgress, what: str) -> None:
    if progress.server_version > progress.latest_server_version:
        raise _fail(f"{what}.server_version is after latest_server_version")


def _changeset(data: object, what: str) -> Changeset:
    if type(data) is not bytes:
        raise _fail(f"{what} must be bin, got {type(data).__name__}")
    try:
        return decode_changeset(data)
    except RemoteProtocolError as exc:
        raise _fail(f"{what}: {exc}", ErrorCode.BAD_CHANGESET) from None


def _array(value: Any, what: str) -> list[Any]:
    if type(value) is not list:
        raise _fail(f"{what} must be an array, got {_shown(value)}")
    return value


def _encode_changesets(
    value: tuple[Changeset, ...], cache: EncodedChangesets | None
) -> list[bytes]:
    return [encode_changeset(c) for c in value]


def _message_part(what: str) -> str:
    """``"upload message"`` of ``"upload message: changesets"``."""
    return what.partition(":")[0]


def _decode_changesets(value: Any, what: str) -> tuple[Changeset, ...]:
    items = _array(value, what)
    if all(type(c) is bytes for c in items):
        try:  # the common case: no error text made per changeset
            return tuple([decode_changeset(c) for c in items])
        except RemoteProtocolError:
            pass
    kind = _message_part(what)
    return tuple(_changeset(c, f"{kind}: changeset {n}") for n, c in enumerate(items))


def _encode_remote(
    value: tuple[RemoteChangeset, ...], cache: EncodedChangesets | None
) -> list[list[Any]]:
    if cache is None:
        return [
            [c.server_version, c.last_integrated_client_version, encode_changeset(c.changeset)]
            for c in value
        ]
    encode = cache.encode
    return [[c.server_version, c.last_integrated_client_version, encode(c)] for c in value]


def _decode_remote(value: Any, what: str) -> tuple[RemoteChangeset, ...]:
    out = []
    for n, item in enumerate(_array(value, what)):
        if (
            type(item) is list
            and len(item) == 3
            and type(item[0]) is int
            and 1 <= item[0] <= _UINT64_MAX
            and type(item[1]) is int
            and 0 <= item[1] <= _UINT64_MAX
            and type(item[2]) is bytes
        ):
            try:  # the common case: no error text made per changeset
                out.append(RemoteChangeset(item[0], item[1], decode_changeset(item[2])))
                continue
            except RemoteProtocolError:
                pass
        where = f"{_message_part(what)}: changeset {n}"
        if type(item) is not list or len(item) != 3:
            raise _fail(f"{where} must be [server_version, last_integrated_client_version, bin]")
        server_version = _check_uint(item[0], f"{where} server_version", 1)
        client_version = _check_uint(item[1], f"{where} last_integrated_client_version")
        out.append(RemoteChangeset(server_version, client_version, _changeset(item[2], where)))
    return tuple(out)


UINT: Final = _uint(0)
SESSION: Final = Kind(_SESSION_UINT)
IDENT: Final = _uint(1)
INT64: Final = Kind(_int64)
STRING: Final = Kind(_string)
NONEMPTY_STRING: Final = Kind(_nonempty_string)
BOOL: Final = Kind(_bool)
OPTIONAL_SESSION: Final = Kind(_optional_session)
CURSORS: Final = _struct(
    Cursors,
    (
        ("server_version", "last_integrated_server_version"),
        ("client_version", "last_acked_client_version"),
    ),
)
UPLOAD_PROGRESS: Final = _struct(
    UploadProgress,
    (("client_version", "client_version"), ("server_version", "last_integrated_server_version")),
)
DOWNLOAD_PROGRESS: Final = _struct(
    DownloadProgress,
    (("server_version", "server_version"), ("latest_server_version", "latest_server_version")),
    _download_progress_order,
)
CHANGESETS: Final = Kind(_decode_changesets, _encode_changesets)
REMOTE_CHANGESETS: Final = Kind(_decode_remote, _encode_remote)


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    """The attribute of the message's dataclass and the key on the wire."""
    kind: Kind


@dataclass(frozen=True, slots=True)
class MessageType:
    name: str
    """The ``"type"`` on the wire."""
    cls: type[Message]
    fields: tuple[Field, ...]
    """Every field of ``cls``, in its order (checked below)."""
    from_client: bool = False
    from_server: bool = False


MESSAGE_TYPES: Final[tuple[MessageType, ...]] = (
    MessageType(
        "bind",
        Bind,
        (
            Field("session", SESSION),
            Field("path", NONEMPTY_STRING),
            Field("token", STRING),
            Field("client_file_ident", UINT),
            Field("cursors", CURSORS),
            Field("client_file_salt", UINT),
        ),
        from_client=True,
    ),
    MessageType(
        "upload",
        Upload,
        (
            Field("session", SESSION),
            Field("changesets", CHANGESETS),
            Field("progress", UPLOAD_PROGRESS),
        ),
        from_client=True,
    ),
    MessageType(
        "mark",
        Mark,
        (Field("session", SESSION), Field("request_id", UINT)),
        from_client=True,
        from_server=True,
    ),
    MessageType("unbind", Unbind, (Field("session", SESSION),), from_client=True),
    MessageType("ping", Ping, (Field("timestamp", INT64),), from_client=True),
    MessageType(
        "ident",
        Ident,
        (
            Field("session", SESSION),
            Field("client_file_ident", IDENT),
            Field("client_file_salt", UINT),
        ),
        from_server=True,
    ),
    MessageType(
        "download",
        Download,
        (
            Field("session", SESSION),
            Field("changesets", REMOTE_CHANGESETS),
            Field("progress", DOWNLOAD_PROGRESS),
            Field("upload_ack", UINT),
        ),
        from_server=True,
    ),
    MessageType("unbound", Unbound, (Field("session", SESSION),), from_server=True),
    MessageType(
        "error",
        Error,
        (
            Field("code", UINT),
            Field("message", STRING),
            Field("try_again", BOOL),
            Field("session", OPTIONAL_SESSION),
        ),
        from_server=True,
    ),
    MessageType("pong", Pong, (Field("timestamp", INT64),), from_server=True),
)

CLIENT_MESSAGE_TYPES: Final = frozenset(t.name for t in MESSAGE_TYPES if t.from_client)
SERVER_MESSAGE_TYPES: Final = frozenset(t.name for t in MESSAGE_TYPES if t.from_server)


# --------------------------------------------------------------------------- derived codecs


def _wrong_fields(name: str, keys: frozenset[str], raw: dict[str, Any]) -> Message:
    missing = sorted(keys - raw.keys())
    extra = sorted(str(k) for k in raw.keys() - keys)
    raise _fail(f"{name} message: missing fields {missing}, unknown fields {extra}")


ToWire = Callable[[Any, EncodedChangesets | None], dict[str, Any]]
FromWire = Callable[[dict[str, Any]], Message]


def _derive(spec: MessageType) -> tuple[ToWire, FromWire]:
    """The encoder and the strict decoder of one message type, from its entry."""
    names = tuple(f.name for f in spec.fields)
    declared = tuple(f.name for f in dataclasses.fields(spec.cls))
    if names != declared:
        raise TypeError(f"{spec.name}: the table lists {names}, the dataclass has {declared}")
    env: dict[str, Any] = {
        "cls": spec.cls,
        "name": spec.name,
        "keys": frozenset({"type", *names}),
        "wrong_fields": _wrong_fields,
    }
    items = [f'"type": {spec.name!r}']
    args = []
    for n, f in enumerate(spec.fields):
        env[f"decode{n}"] = f.kind.decode
        args.append(f"decode{n}(raw[{f.name!r}], {spec.name + ' message: ' + f.name!r})")
        if f.kind.encode is None:
            items.append(f"{f.name!r}: m.{f.name}")
        elif f.kind.inline is not None:
            items.append(f"{f.name!r}: {f.kind.inline('m.' + f.name)}")
        else:
            env[f"encode{n}"] = f.kind.encode
            items.append(f"{f.name!r}: encode{n}(m.{f.name}, cache)")
    to_wire = _compile(f"lambda m, cache: {{{', '.join(items)}}}", env)
    from_wire = _compile(
        f"lambda raw: cls({', '.join(args)}) if raw.keys() == keys "
        "else wrong_fields(name, keys, raw)",
        env,
    )
    return to_wire, from_wire


_TO_WIRE: Final[dict[type, ToWire]] = {}
_FROM_WIRE: Final[dict[str, FromWire]] = {}
for _spec in MESSAGE_TYPES:
    _TO_WIRE[_spec.cls], _FROM_WIRE[_spec.name] = _derive(_spec)
del _spec


def message_to_wire(message: Message, cache: EncodedChangesets | None = None) -> dict[str, Any]:
    """The msgpack-ready map of ``message`` (downloaded changesets from
    ``cache`` when given)."""
    to_wire = _TO_WIRE.get(type(message))
    if to_wire is None:
        raise TypeError(f"not a protocol message: {message!r}")
    return to_wire(message, cache)


def encode_message(message: Message, cache: EncodedChangesets | None = None) -> bytes:
    """One message as bytes (a websocket frame, or a piece of a stream)."""
    if type(message) is Download:
        # The server's most frequent message: spliced from encoded changesets.
        try:
            return encode_download(message, cache)
        except (ValueError, OverflowError):
            pass  # an integer the splice cannot write (negative): msgpack says what
    to_wire = _TO_WIRE.get(type(message))
    if to_wire is None:
        raise TypeError(f"not a protocol message: {message!r}")
    return msgpack.packb(to_wire(message, cache), use_bin_type=True)


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
    return _FROM_WIRE[kind](raw)


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
        # Made on the first feed: an Unpacker allocates a buffer of about 512 KB
        # at once, and a websocket connection (which frames messages itself and
        # never feeds a stream) would hold one per idle client.
        self._unpacker: msgpack.Unpacker | None = None

    def feed(self, data: bytes) -> Iterator[Message]:
        """Add bytes; yields every message completed by them."""
        unpacker = self._unpacker
        if unpacker is None:
            unpacker = self._unpacker = msgpack.Unpacker(
                raw=False, strict_map_key=True, use_list=True, max_buffer_size=self._max
            )
        try:
            unpacker.feed(data)
        except msgpack.BufferFull:
            raise _fail(
                f"a message is larger than {self._max} bytes", ErrorCode.LIMITS_EXCEEDED
            ) from None
        while True:
            try:
                raw = next(unpacker)
            except StopIteration:
                return
            except Exception as exc:
                raise _fail(f"a message is not valid msgpack ({exc})") from None
            yield message_from_wire(raw, self._allowed)
