"""The core's own encoding of recorded instructions (replaying them: ``replay.py``).

The history table stores each transaction's instructions as JSON with tagged
values (``{"$d": micros}`` for dates, ``{"$o": hex}`` for ObjectIds, ...). The
wire format for sync is msgpack and lives in ``studio.sync.changeset``; this
one only has to be stable inside a file.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import operator
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from studio.core.compact_json import compact_json
from studio.core.errors import RealmError
from studio.core.values import date_from_storage, date_to_storage
from studio.primitives import instructions as ins
from studio.primitives.objectid import ObjectId

_BY_NAME: dict[str, type] = {cls.__name__: cls for cls in ins.INSTRUCTION_TYPES}
_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in ins.INSTRUCTION_TYPES
}
_PATH_INDEX: dict[type, int] = {
    cls: names.index("path") for cls, names in _FIELDS.items() if "path" in names
}
_PLAIN = frozenset((str, int, float, bool, type(None)))


def encode_value(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is tuple:  # a path, mostly
        return [v if type(v) in _PLAIN else encode_value(v) for v in value]
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {"$d": date_to_storage(value)}
    if isinstance(value, ObjectId):
        return {"$o": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$u": str(value)}
    if isinstance(value, Decimal):
        return {"$n": str(value)}
    if isinstance(value, ins.Link):
        return {"$l": [value.class_name, encode_value(value.primary_key)]}
    if isinstance(value, ins.EmbeddedObject):
        return {"$e": 1}
    if isinstance(value, tuple | list):
        return [encode_value(v) for v in value]
    raise TypeError(f"cannot record a value of type {type(value).__name__}")


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        ((tag, body),) = value.items()
        if tag == "$b":
            return base64.b64decode(body)
        if tag == "$d":
            return date_from_storage(body)
        if tag == "$o":
            return ObjectId(body)
        if tag == "$u":
            return uuid.UUID(body)
        if tag == "$n":
            return Decimal(body)
        if tag == "$l":
            return ins.Link(body[0], decode_value(body[1]))
        if tag == "$e":
            return ins.EMBEDDED
        raise RealmError(f"unknown value tag {tag!r} in the history")
    return value


# Per instruction type: its name and all its fields at once (a commit encodes its
# instructions on the way to disk, so this runs for every recorded write).
_GETTERS: dict[type, tuple[str, Any]] = {
    cls: (cls.__name__, operator.attrgetter(*names) if len(names) > 1 else None)
    for cls, names in _FIELDS.items()
}


def encode_instructions(instructions: Iterable[ins.Instruction]) -> str:
    out = []
    plain = _PLAIN
    for instruction in instructions:
        cls = type(instruction)
        name, getter = _GETTERS[cls]
        if getter is None:
            fields: Any = tuple(getattr(instruction, f) for f in _FIELDS[cls])
        else:
            fields = getter(instruction)
        out.append([name, *[v if type(v) in plain else encode_value(v) for v in fields]])
    return compact_json(out)


def decode_instructions(text: str) -> list[ins.Instruction]:
    out: list[ins.Instruction] = []
    for name, *fields in json.loads(text):
        cls = _BY_NAME[name]
        values = [v if type(v) in _PLAIN else decode_value(v) for v in fields]
        i = _PATH_INDEX.get(cls)
        if i is not None:
            values[i] = tuple(values[i])
        out.append(cls(*values))
    return out
