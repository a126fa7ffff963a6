"""What a write transaction changed, and the change objects listeners receive."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from studio.core.compact_json import compact_json


@dataclass(slots=True)
class ClassChanges:
    """Object keys of one class inserted, deleted and modified (with property names)."""

    inserted: set[int] = field(default_factory=set)
    deleted: set[int] = field(default_factory=set)
    modified: dict[int, set[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.inserted) + len(self.deleted) + len(self.modified)

    def to_json(self) -> dict[str, Any]:
        return {
            "i": _ranges(self.inserted),
            "d": _ranges(self.deleted),
            "m": {str(k): sorted(v) for k, v in self.modified.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClassChanges:
        return cls(
            _unranges(data.get("i", [])),
            _unranges(data.get("d", [])),
            {int(k): set(v) for k, v in data.get("m", {}).items()},
        )


def _ranges(keys: Iterable[int]) -> list[list[int]]:
    """Compress keys into [start, stop) runs; bulk inserts are consecutive keys."""
    out: list[list[int]] = []
    for key in sorted(keys):
        if out and out[-1][1] == key:
            out[-1][1] = key + 1
        else:
            out.append([key, key + 1])
    return out


def _unranges(runs: list[list[int]]) -> set[int]:
    keys: set[int] = set()
    for start, stop in runs:
        keys.update(range(start, stop))
    return keys


class TransactionChanges:
    """Everything one commit (or several merged commits) changed, per class."""

    __slots__ = ("classes", "full_reset", "schema_changed")

    def __init__(self) -> None:
        self.classes: dict[str, ClassChanges] = {}
        # True when changes were lost (the change log was trimmed): every result must re-check.
        self.full_reset = False
        self.schema_changed = False

    def _for(self, class_name: str) -> ClassChanges:
        changes = self.classes.get(class_name)
        if changes is None:
            changes = self.classes[class_name] = ClassChanges()
        return changes

    def insert(self, class_name: str, key: int) -> None:
        self._for(class_name).inserted.add(key)

    def insert_many(self, class_name: str, keys: Iterable[int]) -> None:
        self._for(class_name).inserted.update(keys)

    def delete(self, class_name: str, key: int) -> None:
        changes = self._for(class_name)
        if key in changes.inserted:
            changes.inserted.discard(key)
        else:
            changes.deleted.add(key)
        changes.modified.pop(key, None)

    def modify(self, class_name: str, key: int, prop: str) -> None:
        changes = self._for(class_name)
        if key in changes.inserted:
            return
        props = changes.modified.get(key)
        if props is None:
            changes.modified[key] = {prop}
        else:
            props.add(prop)

    def merge(self, other: TransactionChanges) -> None:
        """Fold a later transaction's changes into these."""
        self.full_reset |= other.full_reset
        self.schema_changed |= other.schema_changed
        for name, theirs in other.classes.items():
            for key in theirs.inserted:
                self.insert(name, key)
            for key, props in theirs.modified.items():
                for prop in props:
                    self.modify(name, key, prop)
            for key in theirs.deleted:
                self.delete(name, key)

    def __bool__(self) -> bool:
        return self.full_reset or self.schema_changed or any(self.classes.values())

    def to_json(self) -> str:
        return compact_json({name: c.to_json() for name, c in self.classes.items() if c})

    @classmethod
    def from_json(cls, text: str) -> TransactionChanges:
        changes = cls()
        for name, data in json.loads(text).items():
            changes.classes[name] = ClassChanges.from_json(data)
        return changes


@dataclass(frozen=True, slots=True)
class CollectionChanges:
    """Realm's collection change shape.

    ``deletions`` and ``modifications`` are indices in the old results;
    ``insertions`` and ``new_modifications`` indices in the new results.
    """

    deletions: tuple[int, ...] = ()
    insertions: tuple[int, ...] = ()
    modifications: tuple[int, ...] = ()
    new_modifications: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.deletions or self.insertions or self.modifications)


@dataclass(frozen=True, slots=True)
class ObjectChange:
    """What happened to one object: deleted, or which properties changed."""

    deleted: bool = False
    changed_properties: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RealmChanges:
    """Given to realm listeners: the classes a commit touched."""

    changed_classes: tuple[str, ...] = ()
    schema_changed: bool = False
    local: bool = True
