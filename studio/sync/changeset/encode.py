"""The changeset encoder: a changeset to its msgpack wire form.

:class:`_Encoder` checks and interns everything, :func:`_encode_instructions`
is its fast path, and the public functions (re-exported by
:mod:`studio.sync.changeset`, which describes the format) build on them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import msgpack

from studio.primitives.instructions import (
    AddClass,
    AddProperty,
    Changeset,
    EmbeddedObject,
    Instruction,
    Link,
)
from studio.primitives.objectid import ObjectId
from studio.sync.changeset import body_cache
from studio.sync.changeset.format import (
    CODES,
    EPOCH,
    EXT_DECIMAL,
    EXT_OBJECTID,
    EXT_UUID,
    FORMAT_VERSION,
    TAG_EMBEDDED,
    TAG_LINK,
    UINT64_MAX,
    pack_uint,
)
from studio.sync.errors import ChangesetError
from studio.sync.values import INT64_MAX, INT64_MIN


def _ext(code: int, data: bytes) -> msgpack.ExtType:
    # ExtType's own constructor re-checks its arguments in Python; ours are right.
    return tuple.__new__(msgpack.ExtType, (code, data))


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
        if type(name) is str and name:
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
            delta = value - EPOCH
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
        code = CODES.get(t)
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


def _header_int(value: object, what: str, maximum: int = UINT64_MAX) -> int:
    if type(value) is not int or not 0 <= value <= maximum:
        raise ChangesetError(f"cannot encode changeset: {what} must be a non-negative int")
    return value


def changeset_to_wire(changeset: Changeset) -> list[Any]:
    """The msgpack-ready structure of ``changeset`` (see the module docstring)."""
    enc = _Encoder()
    instructions = _encode_instructions(enc, changeset.instructions)
    return [
        FORMAT_VERSION,
        _header_int(changeset.origin_file_ident, "origin_file_ident"),
        _header_int(changeset.client_version, "client_version"),
        _header_int(changeset.last_integrated_server_version, "last_integrated_server_version"),
        _header_int(changeset.timestamp_ms, "timestamp_ms", INT64_MAX),
        enc.strings,
        instructions,
    ]


# Values msgpack writes as they are (ints need a range check).
_NATIVE_VALUES: Final = frozenset({str, float, bool, type(None), bytes})


def _encode_instructions(enc: _Encoder, instructions: Sequence[Instruction]) -> list[list[Any]]:
    """The wire form of ``instructions``.

    The loop encodes the common shapes inline (an object instruction with an
    int, string or ObjectId key, a one-name path, a msgpack-native value) and
    hands anything else to :class:`_Encoder`, which checks everything in the
    same order: strings are interned, and errors reported, exactly as they
    always were."""
    strings, index = enc.strings, enc.index
    codes = CODES
    native = _NATIVE_VALUES
    int64_min, int64_max = INT64_MIN, INT64_MAX
    ext_type = msgpack.ExtType
    new_tuple = tuple.__new__
    names: dict[str, int] = {}  # property name -> its string-table index
    out: list[list[Any]] = []
    append = out.append
    for n, ins in enumerate(instructions):
        code = codes.get(type(ins))
        i: Any = ins
        if code is None or code < 2:
            enc.position, enc.current = n, ins
            append(enc.instruction(ins))
            continue
        cls, pk = i.class_name, i.primary_key
        t = type(pk)
        if t is ObjectId:
            pk = new_tuple(ext_type, (EXT_OBJECTID, pk.binary))
        elif not (t is str or pk is None or (t is int and int64_min <= pk <= int64_max)):
            cls = None  # anything else: the checked path
        if type(cls) is not str or not cls:
            enc.position, enc.current = n, ins
            append(enc.instruction(ins))
            continue
        c = index.get(cls)
        if c is None:
            c = index[cls] = len(strings)
            strings.append(cls)
        if code <= 3:
            append([code, c, pk])
            continue
        path = i.path
        wire_path: list[int] | None = None
        if type(path) is tuple and len(path) == 1:
            name = path[0]
            if type(name) is str and name:
                s = names.get(name)
                if s is None:
                    s = index.get(name)
                    if s is None:
                        s = index[name] = len(strings)
                        strings.append(name)
                    names[name] = s
                wire_path = [s]
        if wire_path is None:
            enc.position, enc.current = n, ins
            wire_path = enc.path(path)
        row = [code, c, pk, wire_path]
        if code == 4 or code == 11 or code == 12:  # Set, SetInsert, SetErase
            v = i.value
            t = type(v)
            if not (t in native or (t is int and int64_min <= v <= int64_max)):
                enc.position, enc.current = n, ins
                v = enc.value(v, code == 4)
            row.append(v)
        elif code == 6 or code == 7 or code == 13:  # ListInsert, ListSet, DictSet
            if code == 13:
                k = i.key
                if type(k) is not str:
                    enc.position, enc.current = n, ins
                    append(enc.instruction(ins))  # raises
                    continue
                x = index.get(k)
                if x is None:
                    x = index[k] = len(strings)
                    strings.append(k)
            else:
                x = i.index
                if not (type(x) is int and 0 <= x <= int64_max):
                    enc.position, enc.current = n, ins
                    append(enc.instruction(ins))  # raises
                    continue
            v = i.value
            t = type(v)
            if not (t in native or (t is int and int64_min <= v <= int64_max)):
                enc.position, enc.current = n, ins
                v = enc.value(v)
            row.append(x)
            row.append(v)
        elif code == 5 or code == 8:  # AddInteger, ListErase
            x = i.delta if code == 5 else i.index
            if type(x) is int and (int64_min if code == 5 else 0) <= x <= int64_max:
                row.append(x)
            else:
                enc.position, enc.current = n, ins
                row = enc.instruction(ins)  # raises
        elif code != 10:  # ListMove, DictErase
            enc.position, enc.current = n, ins
            row = enc.instruction(ins)
        append(row)
    return out


# An encoded changeset starts with these: a fixarray of seven, the format version.
_SEVEN_AND_FORMAT: Final = bytes((body_cache.ARRAY_OF_SEVEN, FORMAT_VERSION))


def encode_changeset(changeset: Changeset) -> bytes:
    """Encode ``changeset``; raises :class:`ChangesetError` for values or
    instructions that cannot be synced (naive datetimes, 65-bit ints, ...).

    A changeset whose instructions were decoded from bytes recently reuses
    the body of those bytes (see :mod:`studio.sync.changeset.body_cache`): equal
    when decoded, not necessarily equal bytes. Compare changesets with
    :func:`canonical_encoding`."""
    body = body_cache.body_of(changeset.instructions)
    if body is None:
        return msgpack.packb(changeset_to_wire(changeset), use_bin_type=True)
    origin, client_version = changeset.origin_file_ident, changeset.client_version
    server_version, timestamp = changeset.last_integrated_server_version, changeset.timestamp_ms
    if (
        type(origin) is int
        and type(client_version) is int
        and type(server_version) is int
        and type(timestamp) is int
        and 0 <= origin <= UINT64_MAX
        and 0 <= client_version <= UINT64_MAX
        and 0 <= server_version <= UINT64_MAX
        and 0 <= timestamp <= INT64_MAX
    ):  # the server's store-and-forward path: spliced without msgpack
        return b"".join((
            _SEVEN_AND_FORMAT,
            pack_uint(origin),
            pack_uint(client_version),
            pack_uint(server_version),
            pack_uint(timestamp),
            body,
        ))  # fmt: skip
    header = msgpack.packb([
        FORMAT_VERSION,
        _header_int(changeset.origin_file_ident, "origin_file_ident"),
        _header_int(changeset.client_version, "client_version"),
        _header_int(changeset.last_integrated_server_version, "last_integrated_server_version"),
        _header_int(changeset.timestamp_ms, "timestamp_ms", INT64_MAX),
    ])  # fmt: skip
    # A five-element fixarray header becomes the seven-element one.
    return bytes((body_cache.ARRAY_OF_SEVEN,)) + header[1:] + body


def canonical_encoding(changeset: Changeset) -> bytes:
    """What this encoder writes for ``changeset``, always: equal changesets
    give equal bytes (whatever encoder produced the bytes they came from)."""
    return msgpack.packb(changeset_to_wire(changeset), use_bin_type=True)


def validate_changeset(changeset: Changeset) -> None:
    """Raise :class:`ChangesetError` unless ``changeset`` can be encoded."""
    changeset_to_wire(changeset)
