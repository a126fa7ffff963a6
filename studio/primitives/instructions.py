"""The instructions a write transaction is recorded as, for sync.

Objects are addressed by ``(class_name, primary_key)``; a ``path`` starts with a
property name of that object and goes on through embedded objects, with list
indices and dictionary keys where it passes through a collection, e.g.
``("address", "street")`` or ``("items", 2, "name")``.

Values inside instructions are plain Python values of the core's types, a
:class:`Link` to another top-level object, or :data:`EMBEDDED` for "a new
embedded object goes here" (its fields follow as ``Set`` instructions).
The wire encoding lives in ``studio.sync.changeset``; the core's own history
encoding is in ``studio.core.history``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

PrimaryKey: TypeAlias = Any  # int | str | ObjectId | uuid.UUID | None
PathElement: TypeAlias = str | int
Path: TypeAlias = tuple[PathElement, ...]


@dataclass(frozen=True, slots=True)
class Link:
    """A reference to a top-level object by class and primary key."""

    class_name: str
    primary_key: PrimaryKey


@dataclass(frozen=True, slots=True)
class EmbeddedObject:
    """Marks the place where a new, empty embedded object is created."""


EMBEDDED = EmbeddedObject()


@dataclass(frozen=True, slots=True)
class AddClass:
    class_name: str
    primary_key: str | None
    primary_key_type: str | None
    primary_key_optional: bool
    embedded: bool


@dataclass(frozen=True, slots=True)
class AddProperty:
    """``type`` is Realm's short type form, e.g. ``int?``, ``Person[]``, ``string<>``."""

    class_name: str
    name: str
    type: str
    indexed: bool = False
    object_type: str | None = None
    origin_property: str | None = None


@dataclass(frozen=True, slots=True)
class CreateObject:
    class_name: str
    primary_key: PrimaryKey


@dataclass(frozen=True, slots=True)
class EraseObject:
    class_name: str
    primary_key: PrimaryKey


@dataclass(frozen=True, slots=True)
class Set:
    class_name: str
    primary_key: PrimaryKey
    path: Path
    value: Any


@dataclass(frozen=True, slots=True)
class AddInteger:
    class_name: str
    primary_key: PrimaryKey
    path: Path
    delta: int


@dataclass(frozen=True, slots=True)
class ListInsert:
    class_name: str
    primary_key: PrimaryKey
    path: Path
    index: int
    value: Any


@dataclass(frozen=True, slots=True)
class ListSet:
    class_name: str
    primary_key: PrimaryKey
    path: Path
    index: int
    value: Any


@dataclass(frozen=True, slots=True)
class ListErase:
    class_name: str
    primary_key: PrimaryKey
    path: Path
    index: int


@dataclass(frozen=True, slots=True)
class ListMove:
    class_name: str
    primary_key: PrimaryKey
    path: Path
    from_index: int
    to_index: int


@dataclass(frozen=True, slots=True)
class Clear:
    """Empties the list, set or dictionary at ``path``."""

    class_name: str
    primary_key: PrimaryKey
    path: Path


@dataclass(frozen=True, slots=True)
class SetInsert:
    class_name: str
    primary_key: PrimaryKey
    path: Path
    value: Any


@dataclass(frozen=True, slots=True)
class SetErase:
    class_name: str
    primary_key: PrimaryKey
    path: Path
    value: Any


@dataclass(frozen=True, slots=True)
class DictSet:
    class_name: str
    primary_key: PrimaryKey
    path: Path
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class DictErase:
    class_name: str
    primary_key: PrimaryKey
    path: Path
    key: str


Instruction: TypeAlias = (
    AddClass
    | AddProperty
    | CreateObject
    | EraseObject
    | Set
    | AddInteger
    | ListInsert
    | ListSet
    | ListErase
    | ListMove
    | Clear
    | SetInsert
    | SetErase
    | DictSet
    | DictErase
)

INSTRUCTION_TYPES: tuple[type, ...] = (
    AddClass,
    AddProperty,
    CreateObject,
    EraseObject,
    Set,
    AddInteger,
    ListInsert,
    ListSet,
    ListErase,
    ListMove,
    Clear,
    SetInsert,
    SetErase,
    DictSet,
    DictErase,
)

OBJECT_INSTRUCTIONS: tuple[type, ...] = INSTRUCTION_TYPES[2:]
"""Instructions that address one object (everything but the schema instructions)."""


@dataclass(frozen=True, slots=True)
class Changeset:
    """One write transaction as recorded for sync."""

    origin_file_ident: int
    client_version: int
    last_integrated_server_version: int
    timestamp_ms: int
    instructions: tuple[Instruction, ...]
