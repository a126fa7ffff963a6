"""Recovering unsynced local changes onto a fresh copy of a realm (client reset).

The local changesets the server never acknowledged are replayed, in order, on
the realm after it has adopted the server's state, inside a recording write
transaction: what they still mean becomes new local changes that upload as
usual. The rules are Realm's ("recover unsynced changes"):

* an object created locally is created (or left as it is when it exists);
* a local delete is applied (nothing happens when the object is gone already);
* a change to an object (or embedded object) that no longer exists is not
  recovered: the server's delete wins;
* a change to a field is applied, so the local value wins over the server's;
* a link to an object that no longer exists is not recovered;
* lists: an insert lands at its local index, or at the end when the list is
  shorter now. A set, erase or move of an element that was not inserted by
  the recovery itself cannot be placed (the server's list may have shifted),
  so the whole list is instead copied from the local state as it was before
  the reset ("last recovery wins"); a clear makes later operations safe again.

Whatever is not recovered is listed in the report (never silently lost): the
instruction, the client version of its changeset and the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.core.objects import RealmObject
from studio.core.realm import Realm
from studio.core.replay import apply_instructions
from studio.core.schema import ObjectSchema
from studio.core.synced import record_instructions
from studio.primitives import instructions as ins
from studio.primitives.instructions import Changeset, Instruction
from studio.sync.client.state_copy import Ref, comparable, plain_value, writable_list
from studio.sync.values import value_key


@dataclass(frozen=True, slots=True)
class UnrecoveredChange:
    """A local instruction that the recovery could not apply, and why."""

    client_version: int
    instruction: Instruction
    reason: str

    def __str__(self) -> str:
        return f"client version {self.client_version}: {self.instruction} ({self.reason})"


@dataclass(slots=True)
class RecoveryReport:
    """What a recovery did: instructions ``recovered`` as they were, lists copied
    whole from the local state (``copied_lists``, as ``Class[pk].path``), and
    what could not be recovered (``unrecovered``)."""

    recovered: int = 0
    copied_lists: list[str] = field(default_factory=list)
    unrecovered: list[UnrecoveredChange] = field(default_factory=list)


class _ListTracker:
    """Which elements of one list the recovery inserted itself: local index ->
    index in the recovered list. Only those can be set, erased or moved."""

    def __init__(self) -> None:
        self.known: list[list[int]] = []  # [local, remote] pairs
        self.needs_copy = False

    def insert(self, local: int, size: int) -> int | None:
        if self.needs_copy:
            return None
        remote = min(local, size)
        for pair in self.known:
            if pair[0] >= local:
                pair[0] += 1
                pair[1] += 1
        self.known.append([local, remote])
        return remote

    def find(self, local: int) -> list[int] | None:
        if self.needs_copy:
            return None
        for pair in self.known:
            if pair[0] == local:
                return pair
        self.copy()
        return None

    def erase(self, local: int) -> int | None:
        pair = self.find(local)
        if pair is None:
            return None
        self.known.remove(pair)
        for other in self.known:
            if other[0] > local:
                other[0] -= 1
                other[1] -= 1
        return pair[1]

    def move(self, local_from: int, local_to: int) -> tuple[int, int] | None:
        moved, target = self.find(local_from), self.find(local_to)
        if moved is None or target is None:
            return None
        remote_from, remote_to = moved[1], target[1]
        for pair in self.known:
            if pair is not moved:
                pair[0] = _moved_index(pair[0], local_from, local_to)
                pair[1] = _moved_index(pair[1], remote_from, remote_to)
        moved[0], moved[1] = local_to, remote_to
        return remote_from, remote_to

    def clear(self) -> None:
        # Whatever follows a clear works on elements the recovery inserted.
        self.known.clear()
        self.needs_copy = False

    def copy(self) -> None:
        self.needs_copy = True
        self.known.clear()


def _moved_index(index: int, source: int, destination: int) -> int:
    if source < destination and source < index <= destination:
        return index - 1
    if destination < source and destination <= index < source:
        return index + 1
    return index


_ListKey = tuple[str, Any, tuple[ins.PathElement, ...]]
_PathInstruction = (
    ins.Set | ins.AddInteger | ins.ListInsert | ins.ListSet | ins.ListErase | ins.ListMove
    | ins.Clear | ins.SetInsert | ins.SetErase | ins.DictSet | ins.DictErase
)


class _Recovery:
    def __init__(self, target: Realm, before: Realm) -> None:
        self.target = target
        self.before = before
        self.report = RecoveryReport()
        self.lists: dict[Any, tuple[_ListKey, _ListTracker]] = {}

    # ------------------------------------------------------------------ lists

    def tracker(self, class_name: str, pk: Any, path: Sequence[ins.PathElement]) -> _ListTracker:
        key = (class_name, value_key(pk), tuple(path))
        found = self.lists.get(key)
        if found is None:
            found = self.lists[key] = ((class_name, pk, tuple(path)), _ListTracker())
        return found[1]

    def copy_outer_list(self, instruction: _PathInstruction) -> None:
        """The path passes a list element: the outermost such list is copied whole."""
        path = instruction.path
        first = next(n for n, step in enumerate(path) if isinstance(step, int))
        self.tracker(instruction.class_name, instruction.primary_key, path[:first]).copy()

    def finish_lists(self) -> None:
        for (class_name, pk, path), tracker in self.lists.values():
            if not tracker.needs_copy:
                continue
            mine = self.target.object_for_primary_key(class_name, pk)
            theirs = self.before.object_for_primary_key(class_name, pk)
            if mine is None or theirs is None:
                continue  # the owner is gone here or was deleted locally later
            holder, source_holder = _walk(mine, path[:-1]), _walk(theirs, path[:-1])
            last = path[-1]
            if holder is None or source_holder is None or not isinstance(last, str):
                continue
            wanted = plain_value(source_holder[last])
            name = f"{class_name}[{pk!r}].{'.'.join(str(p) for p in path)}"
            self.report.copied_lists.append(name)
            if comparable(wanted) == comparable(plain_value(holder[last])):
                continue
            missing: list[Ref] = []
            holder[last] = writable_list(self.target, wanted, missing)
            for ref in missing:
                self.report.unrecovered.append(
                    UnrecoveredChange(
                        0,
                        ins.ListInsert(class_name, pk, path, 0, ins.Link(ref.class_name,
                                                                          ref.primary_key)),
                        f"{name} was copied from the local state without its link to {ref}, "
                        "which no longer exists",
                    )
                )

    # ------------------------------------------------------------------ instructions

    def skip(self, client_version: int, instruction: Instruction, reason: str) -> None:
        self.report.unrecovered.append(UnrecoveredChange(client_version, instruction, reason))

    def apply(self, instruction: Instruction) -> None:
        apply_instructions(self.target, [instruction])
        self.report.recovered += 1

    def missing_link(self, value: Any) -> Ref | None:
        if isinstance(value, ins.Link) and (
            self.target.object_for_primary_key(value.class_name, value.primary_key) is None
        ):
            return Ref(value.class_name, value.primary_key)
        return None

    def recover(self, client_version: int, instruction: Instruction) -> None:
        if isinstance(instruction, ins.AddClass | ins.AddProperty):
            return  # the realm has its local schema; record_missing_schema uploads it
        obj = self.target.object_for_primary_key(instruction.class_name, instruction.primary_key)
        if isinstance(instruction, ins.CreateObject | ins.EraseObject):
            if (obj is None) == isinstance(instruction, ins.CreateObject):
                self.apply(instruction)
            return
        if obj is None:
            self.skip(client_version, instruction, "the object was deleted on the server")
            return
        path = instruction.path
        if any(isinstance(step, int) for step in path[:-1]):
            self.copy_outer_list(instruction)
            return
        holder = _walk(obj, path[:-1])
        if holder is None:
            reason = "the embedded object it changes no longer exists"
            self.skip(client_version, instruction, reason)
            return
        ref = self.missing_link(getattr(instruction, "value", None))
        if isinstance(path[-1], int):  # Set or AddInteger of a list element
            tracker = self.tracker(instruction.class_name, instruction.primary_key, path[:-1])
            if ref is not None:
                tracker.copy()
                return
            pair = tracker.find(path[-1])
            if pair is not None:
                self.apply(_with_path(instruction, (*path[:-1], pair[1])))
            return
        if isinstance(instruction, ins.ListInsert | ins.ListSet | ins.ListErase | ins.ListMove):
            self.recover_list(instruction, holder, ref)
            return
        if isinstance(instruction, ins.Clear):
            self.tracker(instruction.class_name, instruction.primary_key, path).clear()
        if ref is not None:
            self.skip(client_version, instruction, f"it links to {ref}, which no longer exists")
            return
        self.apply(instruction)

    def recover_list(
        self,
        instruction: ins.ListInsert | ins.ListSet | ins.ListErase | ins.ListMove,
        holder: Any,
        ref: Ref | None,
    ) -> None:
        path = instruction.path
        tracker = self.tracker(instruction.class_name, instruction.primary_key, path)
        if ref is not None:
            tracker.copy()
            return
        last = path[-1]
        current = holder[last] if isinstance(holder, RealmObject) and isinstance(last, str) \
            else None
        size = len(current) if current is not None else 0
        if isinstance(instruction, ins.ListInsert):
            index = tracker.insert(instruction.index, size)
            if index is not None:
                self.apply(_replace(instruction, index=index))
        elif isinstance(instruction, ins.ListSet):
            pair = tracker.find(instruction.index)
            if pair is not None:
                self.apply(_replace(instruction, index=pair[1]))
        elif isinstance(instruction, ins.ListErase):
            index = tracker.erase(instruction.index)
            if index is not None:
                self.apply(_replace(instruction, index=index))
        elif isinstance(instruction, ins.ListMove):
            moved = tracker.move(instruction.from_index, instruction.to_index)
            if moved is not None:
                self.apply(_replace(instruction, from_index=moved[0], to_index=moved[1]))


def _replace(instruction: Instruction, **changes: Any) -> Instruction:
    return dataclasses.replace(instruction, **changes)


def _with_path(instruction: Instruction, path: tuple[ins.PathElement, ...]) -> Instruction:
    return _replace(instruction, path=path)


def _walk(obj: Any, steps: Sequence[ins.PathElement]) -> Any:
    current = obj
    for step in steps:
        if current is None:
            return None
        try:
            current = current[step]
        except (IndexError, KeyError):
            return None
    return current


def recover_changes(
    target: Realm, changesets: Sequence[Changeset], before: Realm
) -> RecoveryReport:
    """Replay ``changesets`` (the unacknowledged local ones, oldest first) on
    ``target`` inside its open recording write transaction, by the rules above.
    ``before`` shows the local state as it was before the reset (lists that
    cannot be recovered operation by operation are copied from it).

    Raises what applying raises (e.g. a schema that cannot be reconciled); the
    caller's transaction then rolls back and nothing is changed."""
    recovery = _Recovery(target, before)
    for changeset in changesets:
        for instruction in changeset.instructions:
            recovery.recover(changeset.client_version, instruction)
    recovery.finish_lists()
    return recovery.report


def record_missing_schema(target: Realm, server: Sequence[ObjectSchema]) -> int:
    """Record AddClass/AddProperty for every class and property ``target`` has and
    the server's copy (``server``) lacks, so that the server learns the local
    schema again; returns how many instructions that took."""
    theirs = {c.name: c for c in server}
    out: list[Instruction] = []
    for cls in target.schema:
        known = theirs.get(cls.name)
        if known is None:
            pk = cls.get(cls.primary_key) if cls.primary_key else None
            out.append(
                ins.AddClass(
                    cls.name,
                    cls.primary_key,
                    pk.type if pk else None,
                    pk.optional if pk else False,
                    cls.embedded,
                )
            )
        for prop in cls.properties:
            if prop.is_primary_key or (known is not None and known.get(prop.name) is not None):
                continue
            out.append(
                ins.AddProperty(
                    cls.name,
                    prop.name,
                    prop.type_string,
                    prop.indexed,
                    prop.object_type,
                    prop.origin_property,
                )
            )
    if out:
        record_instructions(target, out)
    return len(out)
