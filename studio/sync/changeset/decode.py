"""The changeset decoder: wire bytes back to a changeset, strictly.

The ext hook that turns msgpack extensions into values, :class:`_Decoder`
that checks everything, :func:`_decode_instructions` (its fast path) and the
public functions (re-exported by :mod:`studio.sync.changeset`, which
describes the format).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgpack

from studio.primitives.instructions import (
    EMBEDDED,
    AddClass,
    AddInteger,
    AddProperty,
    Changeset,
    Clear,
    CreateObject,
    DictErase,
    DictSet,
    EraseObject,
    Instruction,
    Link,
    ListErase,
    ListInsert,
    ListMove,
    ListSet,
    Path,
    SetErase,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.primitives.objectid import ObjectId
from studio.sync.changeset import body_cache
from studio.sync.changeset.format import (
    EPOCH,
    EXT_DECIMAL,
    EXT_OBJECTID,
    EXT_UUID,
    FORMAT_VERSION,
    LENGTHS,
    NAMES,
    TAG_EMBEDDED,
    TAG_LINK,
    UINT64_MAX,
)
from studio.sync.errors import RemoteProtocolError
from studio.sync.slots import CHANGESET_SLOTS, slot_setters
from studio.sync.values import INT64_MAX, INT64_MIN


class _Ext(tuple[int, bytes]):
    """An extension value that did not decode (unknown type, wrong length, bad
    decimal): ``(code, data)``, reported with its place once the decoder
    meets it. Arrays decode to lists, so a tuple is always one of these."""

    __slots__ = ()


def _decode_ext(code: int, data: bytes) -> _Ext:
    return tuple.__new__(_Ext, (code, data))


def _parse_decimal(data: bytes) -> Decimal | None:
    """The decimal ``data`` spells in canonical form, or None."""
    try:
        text = data.decode("ascii")
        value = Decimal(text)
    except (UnicodeDecodeError, InvalidOperation, ValueError):
        return None
    # Decimal() also accepts " 1_000 " and "inf"; the encoder only writes str().
    if str(value) != text or value.is_snan():
        return None
    return value


def _ext_decoder() -> Callable[[int, bytes], Any]:
    """An ``ext_hook`` for one changeset: ObjectIds, UUIDs and decimals come out
    of msgpack as values (an object named many times is built once), anything
    malformed as an :class:`_Ext` for the decoder to report. It never raises."""
    known: dict[bytes, Any] = {}

    def ext_hook(code: int, data: bytes) -> Any:
        if code == EXT_OBJECTID:
            if len(data) == 12:
                value = known.get(data)
                if value is None:
                    value = known[data] = ObjectId(data)
                return value
        elif code == EXT_UUID:
            if len(data) == 16:  # never the key of an ObjectId (12 bytes)
                value = known.get(data)
                if value is None:
                    value = known[data] = uuid.UUID(bytes=data)
                return value
        elif code == EXT_DECIMAL:
            decimal = _parse_decimal(data)
            if decimal is not None:
                return decimal
        return tuple.__new__(_Ext, (code, data))

    return ext_hook


# --------------------------------------------------------------------------- decoding


class _Decoder:
    """Validates the plain structure msgpack produced and builds instructions."""

    __slots__ = ("code", "keys", "position", "strings")

    def __init__(self, strings: list[str]) -> None:
        self.strings = strings
        # Decoded ObjectId/UUID keys: a changeset usually names an object many times.
        self.keys: dict[_Ext, Any] = {}
        # Where we are, for error messages only (formatted when an error happens).
        self.position = 0
        self.code: int | None = None

    def fail(self, message: str) -> RemoteProtocolError:
        where = f"instruction {self.position}"
        if self.code is not None:
            where += f" ({NAMES[self.code]})"
        return RemoteProtocolError(f"malformed changeset: {where}: {message}")

    def string(self, idx: object, what: str = "name") -> str:
        if type(idx) is not int:
            raise self.fail(f"{what} must be a string-table index, got {_describe(idx)}")
        if not 0 <= idx < len(self.strings):
            raise self.fail(
                f"{what}: string-table index {idx} out of range "
                f"(the table has {len(self.strings)} entries)"
            )
        return self.strings[idx]

    def class_name(self, idx: object) -> str:
        if type(idx) is int and 0 <= idx < len(self.strings):
            name = self.strings[idx]
            if name:
                return name
        name = self.string(idx, "class name")
        if not name:
            raise self.fail("class name is empty")
        return name

    def optional_string(self, idx: object, what: str) -> str | None:
        return None if idx is None else self.string(idx, what)

    def boolean(self, value: object, what: str) -> bool:
        if type(value) is not bool:
            raise self.fail(f"{what} must be a bool, got {_describe(value)}")
        return value

    def index(self, value: Any, what: str = "index") -> int:
        if type(value) is not int or not 0 <= value <= INT64_MAX:
            raise self.fail(f"{what} must be a non-negative 64-bit integer, got {_describe(value)}")
        return value

    def path(self, raw: object) -> Path:
        if type(raw) is not list or not raw:
            raise self.fail(f"path must be a non-empty array, got {_describe(raw)}")
        strings = self.strings
        n = len(strings)
        out: list[str | int] = []
        for element in raw:
            if type(element) is not int:
                raise self.fail(f"path element must be an integer, got {_describe(element)}")
            if element >= 0:
                if element >= n:
                    raise self.fail(
                        f"path: string-table index {element} out of range "
                        f"(the table has {n} entries)"
                    )
                out.append(strings[element])
            else:  # msgpack ints stop at -2**63, so the index fits in 64 bits
                out.append(-element - 1)
        if type(out[0]) is not str or not out[0]:
            raise self.fail("path must start with a property name")
        return tuple(out)

    def primary_key(self, raw: Any) -> Any:
        t = type(raw)
        if raw is None or t is str or t is ObjectId or t is uuid.UUID:
            return raw
        if t is int:
            if not INT64_MIN <= raw <= INT64_MAX:
                raise self.fail(f"primary key {raw} does not fit in 64 bits")
            return raw
        if t is Decimal:
            raise self.fail(f"a primary key cannot be of extension type {EXT_DECIMAL}")
        if t is msgpack.ExtType:  # from a caller of changeset_from_wire
            return self.primary_key(_decode_ext(raw.code, raw.data))
        if t is _Ext:
            key = self.keys.get(raw)
            if key is not None:
                return key
            code, data = raw
            if code == EXT_OBJECTID:
                if len(data) != 12:
                    raise self.fail(f"an ObjectId is 12 bytes, got {len(data)}")
                key = self.keys[raw] = ObjectId(data)
                return key
            if code == EXT_UUID:
                if len(data) != 16:
                    raise self.fail(f"a UUID is 16 bytes, got {len(data)}")
                key = self.keys[raw] = uuid.UUID(bytes=data)
                return key
            raise self.fail(f"a primary key cannot be of extension type {code}")
        raise self.fail(f"a primary key cannot be {_describe(raw)}")

    def value(self, raw: Any, allow_embedded: bool = True) -> Any:
        t = type(raw)
        if t is str or t is float or t is bool or raw is None or t is bytes:
            return raw
        if t is int:
            if not INT64_MIN <= raw <= INT64_MAX:
                raise self.fail(f"integer {raw} does not fit in 64 bits")
            return raw
        if t is ObjectId or t is uuid.UUID or t is Decimal:
            return raw  # decoded (and checked) by the ext hook
        if t is msgpack.ExtType:  # from a caller of changeset_from_wire
            return self.value(_decode_ext(raw.code, raw.data), allow_embedded)
        if t is _Ext:
            if raw[0] == EXT_DECIMAL:
                return self.decimal(raw[1])
            if raw[0] in (EXT_OBJECTID, EXT_UUID):
                return self.primary_key(raw)
            raise self.fail(f"unknown extension type {raw[0]}")
        if isinstance(raw, msgpack.Timestamp):
            return self.timestamp(raw)
        if t is list:
            assert isinstance(raw, list)
            if not raw or type(raw[0]) is not int:
                raise self.fail(f"tagged value needs an integer tag, got {_describe(raw)}")
            tag = raw[0]
            if tag == TAG_LINK:
                if len(raw) != 3:
                    raise self.fail(f"a link is [0, class, primary key], got {len(raw)} elements")
                return Link(self.class_name(raw[1]), self.primary_key(raw[2]))
            if tag == TAG_EMBEDDED:
                if len(raw) != 1:
                    raise self.fail("an embedded-object marker has no fields")
                if not allow_embedded:
                    raise self.fail("an embedded object is not allowed here")
                return EMBEDDED
            raise self.fail(f"unknown value tag {tag}")
        raise self.fail(f"not a value: {_describe(raw)}")

    def decimal(self, data: bytes) -> Decimal:
        try:
            text = data.decode("ascii")
            value = Decimal(text)
        except (UnicodeDecodeError, InvalidOperation, ValueError):
            raise self.fail(f"not a decimal: {data[:40]!r}") from None
        # Decimal() also accepts " 1_000 " and "inf"; the encoder only writes str().
        if str(value) != text:
            raise self.fail(f"decimal {text!r} is not in canonical form")
        if value.is_snan():
            raise self.fail("a signaling NaN decimal cannot be stored")
        return value

    def timestamp(self, ts: msgpack.Timestamp) -> datetime:
        nanos = ts.to_unix_nano()
        if nanos % 1000:
            raise self.fail("a date with sub-microsecond precision cannot be represented")
        try:
            return EPOCH + timedelta(microseconds=nanos // 1000)
        except OverflowError:
            raise self.fail(f"date out of range ({nanos // 10**9} s since 1970)") from None

    def instruction(self, raw: object) -> Instruction:
        if type(raw) is not list or not raw:
            raise self.fail(f"an instruction is a non-empty array, got {_describe(raw)}")
        assert isinstance(raw, list)
        code = raw[0]
        if type(code) is not int or code not in LENGTHS:
            raise self.fail(f"unknown instruction code {_describe(code)}")
        self.code = code
        if len(raw) != LENGTHS[code]:
            raise self.fail(f"expected {LENGTHS[code]} fields, got {len(raw)}")
        if code >= 2:
            cls = self.class_name(raw[1])
            pk = self.primary_key(raw[2])
            if code <= 3:
                return CreateObject(cls, pk) if code == 2 else EraseObject(cls, pk)
            path = self.path(raw[3])
            return _OBJECT_BUILDERS[code](self, cls, pk, path, raw)
        if code == 0:
            pk_name = self.optional_string(raw[2], "primary key name")
            pk_type = self.optional_string(raw[3], "primary key type")
            if (pk_name is None) != (pk_type is None):
                raise self.fail("primary key name and type must both be set or both be nil")
            embedded = self.boolean(raw[5], "embedded")
            if embedded and pk_name is not None:
                raise self.fail("an embedded class cannot have a primary key")
            return AddClass(
                self.class_name(raw[1]),
                pk_name,
                pk_type,
                self.boolean(raw[4], "primary_key_optional"),
                embedded,
            )
        name = self.string(raw[2], "property name")
        type_ = self.string(raw[3], "property type")
        if not name or not type_:
            raise self.fail("property name and type must not be empty")
        return AddProperty(
            self.class_name(raw[1]),
            name,
            type_,
            self.boolean(raw[4], "indexed"),
            self.optional_string(raw[5], "object_type"),
            self.optional_string(raw[6], "origin_property"),
        )


_Builder = Callable[[_Decoder, str, Any, Path, list[Any]], Instruction]


def _add_integer(d: _Decoder, cls: str, pk: Any, path: Path, raw: list[Any]) -> Instruction:
    delta = raw[4]
    if type(delta) is not int or not INT64_MIN <= delta <= INT64_MAX:
        raise d.fail(f"delta must be a 64-bit integer, got {_describe(delta)}")
    return AddInteger(cls, pk, path, delta)


_OBJECT_BUILDERS: Final[dict[int, _Builder]] = {
    4: lambda d, c, pk, p, r: SetValue(c, pk, p, d.value(r[4])),
    5: _add_integer,
    6: lambda d, c, pk, p, r: ListInsert(c, pk, p, d.index(r[4]), d.value(r[5])),
    7: lambda d, c, pk, p, r: ListSet(c, pk, p, d.index(r[4]), d.value(r[5])),
    8: lambda d, c, pk, p, r: ListErase(c, pk, p, d.index(r[4])),
    9: lambda d, c, pk, p, r: ListMove(
        c, pk, p, d.index(r[4], "from_index"), d.index(r[5], "to_index")
    ),
    10: lambda d, c, pk, p, r: Clear(c, pk, p),
    11: lambda d, c, pk, p, r: SetInsert(c, pk, p, d.value(r[4], False)),
    12: lambda d, c, pk, p, r: SetErase(c, pk, p, d.value(r[4], False)),
    13: lambda d, c, pk, p, r: DictSet(c, pk, p, d.string(r[4], "dictionary key"), d.value(r[5])),
    14: lambda d, c, pk, p, r: DictErase(c, pk, p, d.string(r[4], "dictionary key")),
}


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _header(raw: list[Any], n: int, what: str, maximum: int = UINT64_MAX) -> int:
    value = raw[n]
    if type(value) is not int or not 0 <= value <= maximum:
        raise RemoteProtocolError(
            f"malformed changeset: {what} must be a non-negative integer, got {_describe(value)}"
        )
    return value


def changeset_from_wire(raw: object) -> Changeset:
    """Validate and convert the plain structure msgpack decoded (strict).

    Extension values may be ``msgpack.ExtType`` (or what
    :func:`decode_changeset`'s ext hook makes of them)."""
    if type(raw) is not list:
        raise RemoteProtocolError(f"malformed changeset: expected an array, got {_describe(raw)}")
    assert isinstance(raw, list)
    if len(raw) != 7:
        raise RemoteProtocolError(f"malformed changeset: expected 7 fields, got {len(raw)}")
    if raw[0] != FORMAT_VERSION or type(raw[0]) is not int:
        raise RemoteProtocolError(
            f"malformed changeset: unknown format version {_describe(raw[0])} "
            f"(this side speaks {FORMAT_VERSION})"
        )
    _, origin, client_version, server_version, timestamp, strings, instructions = raw
    if not (
        type(origin) is int
        and type(client_version) is int
        and type(server_version) is int
        and type(timestamp) is int
        and 0 <= origin <= UINT64_MAX
        and 0 <= client_version <= UINT64_MAX
        and 0 <= server_version <= UINT64_MAX
        and 0 <= timestamp <= INT64_MAX
    ):  # the error of the first bad one
        _header(raw, 1, "origin_file_ident")
        _header(raw, 2, "client_version")
        _header(raw, 3, "last_integrated_server_version")
        _header(raw, 4, "timestamp_ms", INT64_MAX)
    if type(strings) is not list:
        raise RemoteProtocolError(
            f"malformed changeset: string table must be an array, got {_describe(strings)}"
        )
    if not _distinct_strings(strings):
        _check_string_table(strings)
    if type(instructions) is not list:
        raise RemoteProtocolError(
            f"malformed changeset: instructions must be an array, got {_describe(instructions)}"
        )
    out = _decode_instructions(instructions, strings)
    # One per uploaded changeset on the server: built as the instructions are.
    changeset = object.__new__(Changeset)
    set_origin, set_client_version, set_server_version, set_timestamp, set_instructions = (
        CHANGESET_SLOTS
    )
    set_origin(changeset, origin)
    set_client_version(changeset, client_version)
    set_server_version(changeset, server_version)
    set_timestamp(changeset, timestamp)
    set_instructions(changeset, tuple(out))
    return changeset


def _distinct_strings(strings: list[Any]) -> bool:
    for s in strings:
        if type(s) is not str:
            return False
    return len(set(strings)) == len(strings)


def _check_string_table(strings: list[Any]) -> None:
    """Raise the error for the first bad string-table entry."""
    seen: set[str] = set()
    for n, s in enumerate(strings):
        if type(s) is not str:
            raise RemoteProtocolError(
                f"malformed changeset: string-table entry {n} is {_describe(s)}, not a string"
            )
        if s in seen:
            raise RemoteProtocolError(
                f"malformed changeset: string-table entry {n} ({s!r}) is a duplicate"
            )
        seen.add(s)


# Wire length of each object instruction, by code (0 and 1: schema, not here).
_OBJECT_LENGTHS: Final = tuple(LENGTHS[code] if code >= 2 else -1 for code in range(15))
_UUID: Final = uuid.UUID
# Values that need no more checking once msgpack (and the ext hook) made them;
# ints need a range check, lists (links, EMBEDDED) and dates more.
_PLAIN_VALUES: Final = frozenset({str, float, bool, type(None), bytes, ObjectId, _UUID, Decimal})


_CREATE_SLOTS: Final = slot_setters(CreateObject, ("class_name", "primary_key"))
_SET_SLOTS: Final = slot_setters(SetValue, ("class_name", "primary_key", "path", "value"))


def _positioned(dec: _Decoder | None, strings: list[str], n: int, code: int | None) -> _Decoder:
    """The decoder (made now if need be) at instruction ``n`` (for its errors)."""
    if dec is None:
        dec = _Decoder(strings)
    dec.position, dec.code = n, code
    return dec


def _decode_instructions(instructions: list[Any], strings: list[str]) -> list[Instruction]:
    """The instructions of a changeset, checked.

    The loop decodes the common shapes inline (an object instruction whose
    fields have their usual types, a one-name path, a msgpack-native value)
    and hands anything else to :class:`_Decoder`, which checks everything in
    the same order, so an error is reported exactly as it always was."""
    # The checking decoder is made only when something takes the slow path.
    dec: _Decoder | None = None
    size = len(strings)
    lengths = _OBJECT_LENGTHS
    plain = _PLAIN_VALUES
    int64_max = INT64_MAX
    paths: dict[int, Path] = {}  # string index -> the one-name path
    new = object.__new__
    create_class, create_pk = _CREATE_SLOTS
    set_class, set_pk, set_path, set_value = _SET_SLOTS
    out: list[Instruction] = []
    append = out.append
    for n, raw in enumerate(instructions):
        if type(raw) is not list or len(raw) < 3:
            dec = _positioned(dec, strings, n, None)
            append(dec.instruction(raw))
            continue
        code, c, pk = raw[0], raw[1], raw[2]
        t = type(pk)
        if not (
            type(code) is int
            and 2 <= code <= 14
            and len(raw) == lengths[code]
            and type(c) is int
            and 0 <= c < size
            and (
                t is ObjectId
                or t is str
                or pk is None
                or (t is int and pk <= int64_max)  # msgpack ints are >= INT64_MIN
                or t is _UUID
            )
        ):
            dec = _positioned(dec, strings, n, None)
            append(dec.instruction(raw))
            continue
        cls = strings[c]
        if not cls:
            dec = _positioned(dec, strings, n, None)
            append(dec.instruction(raw))
            continue
        if code == 2:
            obj = new(CreateObject)
            create_class(obj, cls)
            create_pk(obj, pk)
            append(obj)
            continue
        if code == 3:
            append(EraseObject(cls, pk))
            continue
        p = raw[3]
        path: Path | None = None
        if type(p) is list and len(p) == 1:
            e = p[0]
            if type(e) is int:
                path = paths.get(e)
                if path is None and 0 <= e < size and strings[e]:
                    path = paths[e] = (strings[e],)
        if path is None:
            dec = _positioned(dec, strings, n, code)
            path = dec.path(p)
        if code == 4:
            v = raw[4]
            if not (type(v) in plain or (type(v) is int and v <= int64_max)):
                dec = _positioned(dec, strings, n, code)
                v = dec.value(v)
            value_set = new(SetValue)
            set_class(value_set, cls)
            set_pk(value_set, pk)
            set_path(value_set, path)
            set_value(value_set, v)
            append(value_set)
        elif code == 6 or code == 7:
            i, v = raw[4], raw[5]
            if not (type(i) is int and 0 <= i <= int64_max):
                dec = _positioned(dec, strings, n, code)
                i = dec.index(i)
            if not (type(v) in plain or (type(v) is int and v <= int64_max)):
                dec = _positioned(dec, strings, n, code)
                v = dec.value(v)
            append((ListInsert if code == 6 else ListSet)(cls, pk, path, i, v))
        elif code == 13:
            k, v = raw[4], raw[5]
            if type(k) is int and 0 <= k < size:
                key = strings[k]
            else:
                dec = _positioned(dec, strings, n, code)
                key = dec.string(k, "dictionary key")
            if not (type(v) in plain or (type(v) is int and v <= int64_max)):
                dec = _positioned(dec, strings, n, code)
                v = dec.value(v)
            append(DictSet(cls, pk, path, key, v))
        elif code == 5:
            dec = _positioned(dec, strings, n, code)
            append(_add_integer(dec, cls, pk, path, raw))
        elif code == 8:
            i = raw[4]
            if not (type(i) is int and 0 <= i <= int64_max):
                dec = _positioned(dec, strings, n, code)
                i = dec.index(i)
            append(ListErase(cls, pk, path, i))
        else:
            dec = _positioned(dec, strings, n, code)
            append(_OBJECT_BUILDERS[code](dec, cls, pk, path, raw))
    return out


def decode_changeset(data: bytes, *, remember: bool = True) -> Changeset:
    """Decode bytes written by :func:`encode_changeset`.

    ``remember=False``: the changeset will not be encoded again (the Studio's time
    travel only replays it), so its body is not kept for that (see body_cache).

    Raises :class:`RemoteProtocolError` (and nothing else) for malformed
    input: wrong types, unknown codes, out-of-range string-table indexes,
    trailing bytes, ...
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise RemoteProtocolError(f"a changeset is bytes, got {type(data).__name__}")
    try:
        raw = msgpack.unpackb(
            data, raw=False, strict_map_key=True, use_list=True, ext_hook=_ext_decoder()
        )
    except Exception as exc:  # msgpack documents that it may raise anything
        raise RemoteProtocolError(f"malformed changeset: not valid msgpack ({exc})") from None
    changeset = changeset_from_wire(raw)
    if remember:
        body_cache.remember(changeset.instructions, data)
    return changeset
