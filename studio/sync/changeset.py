"""The wire encoding of a :class:`~studio.core.instructions.Changeset` (msgpack).

Layout (one msgpack array)::

    [1, origin_file_ident, client_version, last_integrated_server_version,
     timestamp_ms, [string, ...], [instruction, ...]]

* ``1`` is the format version.
* Class names, property names, property types and dictionary keys are interned
  in the per-changeset string table and referred to by index: a changeset that
  sets ``Person.name`` on a thousand objects names ``Person`` and ``name`` once.
* Each instruction is an array ``[code, ...fields]``, see ``_CODES`` below.
* A path is an array of ints: ``n >= 0`` is string-table entry ``n`` (a
  property name or a dictionary key), ``n < 0`` is list index ``-n - 1``. So
  ``("items", 2, "name")`` is ``[s_items, -3, s_name]``.
* Values are msgpack natives (nil, bool, int64, float64, str, bin; msgpack keeps
  bool and int apart), msgpack's standard timestamp extension (-1) for dates,
  ext 1 = ObjectId (12 bytes), ext 2 = UUID (16 bytes), ext 3 = Decimal (its
  canonical ASCII ``str()``), and tagged arrays ``[0, class, pk]`` for a
  :class:`~studio.core.instructions.Link` and ``[1]`` for ``EMBEDDED``.

:func:`decode_changeset` is strict: malformed input (a wrong type anywhere,
an unknown code, tag or extension, an out-of-range or duplicate string-table
entry, a non-canonical decimal, trailing bytes) raises
:class:`~studio.sync.errors.RemoteProtocolError` naming the instruction and
field. (Unused string-table entries are tolerated.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgpack

from studio.core.instructions import (
    EMBEDDED,
    AddClass,
    AddInteger,
    AddProperty,
    Changeset,
    Clear,
    CreateObject,
    DictErase,
    DictSet,
    EmbeddedObject,
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
from studio.core.instructions import Set as SetValue
from studio.core.objectid import ObjectId
from studio.sync.errors import ChangesetError, RemoteProtocolError
from studio.sync.values import INT64_MAX, INT64_MIN

FORMAT_VERSION: Final = 1

EXT_OBJECTID: Final = 1
EXT_UUID: Final = 2
EXT_DECIMAL: Final = 3
TAG_LINK: Final = 0
TAG_EMBEDDED: Final = 1

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_UINT64_MAX: Final = 2**64 - 1


def _ext(code: int, data: bytes) -> msgpack.ExtType:
    # ExtType's own constructor re-checks its arguments in Python; ours are right.
    return tuple.__new__(msgpack.ExtType, (code, data))


class _Ext(tuple[int, bytes]):
    """An extension value as decoded: ``(code, data)``. Lighter than
    msgpack.ExtType, and arrays decode to lists, so a tuple is always one of these."""

    __slots__ = ()


def _decode_ext(code: int, data: bytes) -> _Ext:
    return tuple.__new__(_Ext, (code, data))


# Instruction type codes. Append only: a code on the wire never changes meaning.
_CODES: Final[dict[type, int]] = {
    AddClass: 0,
    AddProperty: 1,
    CreateObject: 2,
    EraseObject: 3,
    SetValue: 4,
    AddInteger: 5,
    ListInsert: 6,
    ListSet: 7,
    ListErase: 8,
    ListMove: 9,
    Clear: 10,
    SetInsert: 11,
    SetErase: 12,
    DictSet: 13,
    DictErase: 14,
}
_NAMES: Final = {code: cls.__name__ for cls, code in _CODES.items()}
# Array length of each instruction on the wire, including the code.
_LENGTHS: Final = {
    0: 6,
    1: 7,
    2: 3,
    3: 3,
    4: 5,
    5: 5,
    6: 6,
    7: 6,
    8: 5,
    9: 6,
    10: 4,
    11: 5,
    12: 5,
    13: 6,
    14: 5,
}


# --------------------------------------------------------------------------- encoding


class _Encoder:
    """Builds the plain msgpack-ready structure of one changeset."""

    __slots__ = ("current", "index", "position", "strings")

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.index: dict[str, int] = {}
        # Where we are, for error messages only (formatted when an error happens).
        self.position = 0
        self.current: object = None

    def fail(self, message: str) -> ChangesetError:
        where = f"instruction {self.position} ({type(self.current).__name__})"
        return ChangesetError(f"cannot encode changeset: {where}: {message}")

    def string(self, name: object, what: str = "name") -> int:
        if type(name) is not str:
            raise self.fail(f"{what} must be a string, got {type(name).__name__}")
        idx = self.index.get(name)
        if idx is None:
            idx = self.index[name] = len(self.strings)
            self.strings.append(name)
        return idx

    def class_name(self, name: object) -> int:
        if type(name) is str:
            idx = self.index.get(name)
            if idx is not None:
                return idx
        if not name or type(name) is not str:
            raise self.fail(f"class name must be a non-empty string, got {name!r}")
        return self.string(name)

    def optional_string(self, name: object, what: str) -> int | None:
        return None if name is None else self.string(name, what)

    def path(self, path: Any) -> list[int]:
        if type(path) is not tuple or not path:
            raise self.fail(f"path must be a non-empty tuple, got {path!r}")
        if type(path[0]) is not str or not path[0]:
            raise self.fail(f"path must start with a property name, got {path!r}")
        out: list[int] = []
        for element in path:
            t = type(element)
            if t is str:
                out.append(self.string(element))
            elif t is int and 0 <= element <= INT64_MAX:
                out.append(-1 - element)
            else:
                raise self.fail(f"path element {element!r} is neither a name nor a list index")
        return out

    def index_value(self, index: Any, what: str = "index") -> int:
        if type(index) is not int or not 0 <= index <= INT64_MAX:
            raise self.fail(f"{what} must be a non-negative integer, got {index!r}")
        return index

    def primary_key(self, pk: Any) -> Any:
        t = type(pk)
        if pk is None or t is str:
            return pk
        if t is int:
            if not INT64_MIN <= pk <= INT64_MAX:
                raise self.fail(f"primary key {pk} does not fit in 64 bits")
            return pk
        if t is ObjectId:
            return _ext(EXT_OBJECTID, pk.binary)
        if t is uuid.UUID:
            return _ext(EXT_UUID, pk.bytes)
        raise self.fail(f"a primary key cannot be of type {t.__name__}")

    def value(self, value: Any, allow_embedded: bool = True) -> Any:
        t = type(value)
        if t is str or t is float or t is bool or value is None or t is bytes:
            return value
        if t is int:
            if not INT64_MIN <= value <= INT64_MAX:
                raise self.fail(f"integer {value} does not fit in 64 bits")
            return value
        if t is ObjectId or t is uuid.UUID:
            return self.primary_key(value)
        if t is Decimal:
            assert isinstance(value, Decimal)
            if value.is_snan():
                raise self.fail("a signaling NaN decimal cannot be stored")
            return _ext(EXT_DECIMAL, str(value).encode("ascii"))
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise self.fail(f"date {value!r} must be timezone-aware (UTC)")
            # Exact integer arithmetic: datetime.timestamp() goes through a float.
            delta = value - _EPOCH
            micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
            return msgpack.Timestamp.from_unix_nano(micros * 1000)
        if t is Link:
            assert isinstance(value, Link)
            pk = self.primary_key(value.primary_key)
            return [TAG_LINK, self.class_name(value.class_name), pk]
        if t is EmbeddedObject:
            if not allow_embedded:
                raise self.fail("an embedded object is not allowed here")
            return [TAG_EMBEDDED]
        raise self.fail(f"values of type {t.__name__} cannot be synced")

    def boolean(self, value: object, what: str) -> bool:
        if type(value) is not bool:
            raise self.fail(f"{what} must be a bool, got {value!r}")
        return value

    def instruction(self, ins: Instruction) -> list[Any]:
        t = type(ins)
        code = _CODES.get(t)
        if code is None:
            raise self.fail(f"not an instruction: {ins!r}")
        if code >= 2:
            i: Any = ins
            head = [code, self.class_name(i.class_name), self.primary_key(i.primary_key)]
            if code <= 3:
                return head
            head.append(self.path(i.path))
            if code == 4 or code == 11 or code == 12:  # Set, SetInsert, SetErase
                head.append(self.value(i.value, code == 4))
            elif code == 5:
                if type(i.delta) is not int:
                    raise self.fail(f"AddInteger delta must be an int, got {i.delta!r}")
                head.append(self.value(i.delta))
            elif code == 6 or code == 7:
                head.append(self.index_value(i.index))
                head.append(self.value(i.value))
            elif code == 8:
                head.append(self.index_value(i.index))
            elif code == 9:
                head.append(self.index_value(i.from_index, "from_index"))
                head.append(self.index_value(i.to_index, "to_index"))
            elif code == 13:
                head.append(self.string(i.key, "dictionary key"))
                head.append(self.value(i.value))
            elif code == 14:
                head.append(self.string(i.key, "dictionary key"))
            return head
        if isinstance(ins, AddClass):
            if (ins.primary_key is None) != (ins.primary_key_type is None):
                raise self.fail("primary_key and primary_key_type must both be set or both None")
            if ins.embedded and ins.primary_key is not None:
                raise self.fail("an embedded class cannot have a primary key")
            return [
                0,
                self.class_name(ins.class_name),
                self.optional_string(ins.primary_key, "primary key name"),
                self.optional_string(ins.primary_key_type, "primary key type"),
                self.boolean(ins.primary_key_optional, "primary_key_optional"),
                self.boolean(ins.embedded, "embedded"),
            ]
        assert isinstance(ins, AddProperty)
        if not ins.name or type(ins.name) is not str:
            raise self.fail(f"property name must be a non-empty string, got {ins.name!r}")
        if not ins.type or type(ins.type) is not str:
            raise self.fail(f"property type must be a non-empty string, got {ins.type!r}")
        return [
            1,
            self.class_name(ins.class_name),
            self.string(ins.name),
            self.string(ins.type),
            self.boolean(ins.indexed, "indexed"),
            self.optional_string(ins.object_type, "object_type"),
            self.optional_string(ins.origin_property, "origin_property"),
        ]


def _header_int(value: object, what: str, maximum: int = _UINT64_MAX) -> int:
    if type(value) is not int or not 0 <= value <= maximum:
        raise ChangesetError(f"cannot encode changeset: {what} must be a non-negative int")
    return value


def changeset_to_wire(changeset: Changeset) -> list[Any]:
    """The msgpack-ready structure of ``changeset`` (see the module docstring)."""
    enc = _Encoder()
    instructions = []
    for n, ins in enumerate(changeset.instructions):
        enc.position, enc.current = n, ins
        instructions.append(enc.instruction(ins))
    return [
        FORMAT_VERSION,
        _header_int(changeset.origin_file_ident, "origin_file_ident"),
        _header_int(changeset.client_version, "client_version"),
        _header_int(changeset.last_integrated_server_version, "last_integrated_server_version"),
        _header_int(changeset.timestamp_ms, "timestamp_ms", INT64_MAX),
        enc.strings,
        instructions,
    ]


def encode_changeset(changeset: Changeset) -> bytes:
    """Encode ``changeset``; raises :class:`ChangesetError` for values or
    instructions that cannot be synced (naive datetimes, 65-bit ints, ...)."""
    return msgpack.packb(changeset_to_wire(changeset), use_bin_type=True)


def validate_changeset(changeset: Changeset) -> None:
    """Raise :class:`ChangesetError` unless ``changeset`` can be encoded."""
    changeset_to_wire(changeset)


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
            where += f" ({_NAMES[self.code]})"
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
        if raw is None or t is str:
            return raw
        if t is int:
            if not INT64_MIN <= raw <= INT64_MAX:
                raise self.fail(f"primary key {raw} does not fit in 64 bits")
            return raw
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
            return _EPOCH + timedelta(microseconds=nanos // 1000)
        except OverflowError:
            raise self.fail(f"date out of range ({nanos // 10**9} s since 1970)") from None

    def instruction(self, raw: object) -> Instruction:
        if type(raw) is not list or not raw:
            raise self.fail(f"an instruction is a non-empty array, got {_describe(raw)}")
        assert isinstance(raw, list)
        code = raw[0]
        if type(code) is not int or code not in _LENGTHS:
            raise self.fail(f"unknown instruction code {_describe(code)}")
        self.code = code
        if len(raw) != _LENGTHS[code]:
            raise self.fail(f"expected {_LENGTHS[code]} fields, got {len(raw)}")
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


def _header(raw: list[Any], n: int, what: str, maximum: int = _UINT64_MAX) -> int:
    value = raw[n]
    if type(value) is not int or not 0 <= value <= maximum:
        raise RemoteProtocolError(
            f"malformed changeset: {what} must be a non-negative integer, got {_describe(value)}"
        )
    return value


def changeset_from_wire(raw: object) -> Changeset:
    """Validate and convert the plain structure msgpack decoded (strict)."""
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
    origin = _header(raw, 1, "origin_file_ident")
    client_version = _header(raw, 2, "client_version")
    server_version = _header(raw, 3, "last_integrated_server_version")
    timestamp = _header(raw, 4, "timestamp_ms", INT64_MAX)
    strings, instructions = raw[5], raw[6]
    if type(strings) is not list:
        raise RemoteProtocolError(
            f"malformed changeset: string table must be an array, got {_describe(strings)}"
        )
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
    if type(instructions) is not list:
        raise RemoteProtocolError(
            f"malformed changeset: instructions must be an array, got {_describe(instructions)}"
        )
    dec = _Decoder(strings)
    out = []
    for n, ins in enumerate(instructions):
        dec.position, dec.code = n, None
        out.append(dec.instruction(ins))
    return Changeset(origin, client_version, server_version, timestamp, tuple(out))


def decode_changeset(data: bytes) -> Changeset:
    """Decode bytes written by :func:`encode_changeset`.

    Raises :class:`RemoteProtocolError` (and nothing else) for malformed
    input: wrong types, unknown codes, out-of-range string-table indexes,
    trailing bytes, ...
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise RemoteProtocolError(f"a changeset is bytes, got {type(data).__name__}")
    try:
        raw = msgpack.unpackb(
            data, raw=False, strict_map_key=True, use_list=True, ext_hook=_decode_ext
        )
    except Exception as exc:  # msgpack documents that it may raise anything
        raise RemoteProtocolError(f"malformed changeset: not valid msgpack ({exc})") from None
    return changeset_from_wire(raw)
