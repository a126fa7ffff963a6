"""A synced realm as it was at a past server version, built from the server's history.

The server keeps every realm's history (``GET /admin/realms/history?raw=1`` gives the
changesets' wire bytes). The state at version V is the changesets up to V applied, in
order, to an empty realm (after a history compaction the first stored row is the
snapshot of everything up to the compaction floor: versions below it are that
snapshot). :class:`StateBuilder` does that in one worker thread (a ``studio.core``
realm belongs to the thread that opened it):

- a *work* realm holds the state at :attr:`StateBuilder.work_version`; asking for a
  later version applies only the changesets in between (in batches of one write
  transaction); from empty, the history is first folded in memory into the state it
  builds (the server's compaction squash), which is written in one transaction with
  the objects' plain fields in bulk, so each object is one row insert and each field
  is written once;
- changesets are decoded as they arrive (:meth:`StateBuilder.add`, while the window
  fetches the next page), the ones not built yet kept decoded;
- each version shown is kept as a file of its own (the last :data:`VIEWS_KEPT`), which
  the Studio opens read-only; asking for an earlier version starts from the nearest
  kept state at or below it (or from empty);
- while applying the changeset of version V, the values it overwrites are read first,
  so :attr:`PastState.changes` says what V changed, object by object, old -> new.

No Qt and no network here: the window fetches the changesets (``fetch`` in
:mod:`studio.ui.server.time_travel`) and hands them over as ``{version: bytes}``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core import Realm, RealmError
from studio.core.describe import describe
from studio.core.synced import apply_remote
from studio.primitives import instructions as ins
from studio.sync.changeset import decode_changeset
from studio.sync.errors import CompactionError
from studio.sync.squash import SquashedState
from studio.ui.formatting import scalar_text
from studio.ui.wording import plural

VIEWS_KEPT = 8
BATCH = 5000  # changesets replayed per write transaction
VALUE_CHARS = 80  # an old or new value longer than this is cut (with "…")


@dataclass(frozen=True, slots=True)
class Change:
    """One instruction of a changeset, about one object (``key`` empty for schema)."""

    class_name: str
    key: str
    what: str  # the instruction as the History tab writes it
    old: str  # the value before ("" when none or not known)
    new: str  # the value after ("" when none)
    primary_key: Any = None  # of the object (to show it)
    prop: str = ""  # the property (path) it writes, "" for create/erase/schema


@dataclass(frozen=True, slots=True)
class ObjectChange:
    """What one changeset did to one object (or, ``key`` empty, to one class's schema):
    ``kind`` is "created", "deleted", "created and deleted", "changed" or "schema";
    ``properties`` are (property, old, new), one per property written (its value
    before the changeset and after its last write)."""

    class_name: str
    key: str
    kind: str
    properties: tuple[tuple[str, str, str], ...]
    primary_key: Any = None


def by_object(changes: tuple[Change, ...]) -> tuple[ObjectChange, ...]:
    """The instructions of a changeset grouped by the object they are about, in the
    order the objects first appear (a new object with five fields is one entry)."""
    order: list[tuple[str, str]] = []
    created: set[tuple[str, str]] = set()
    erased: set[tuple[str, str]] = set()
    props: dict[tuple[str, str], dict[str, list[str]]] = {}
    primary_keys: dict[tuple[str, str], Any] = {}
    for change in changes:
        ident = (change.class_name, change.key)
        if ident not in props:
            order.append(ident)
            props[ident] = {}
            primary_keys[ident] = change.primary_key
        if not change.key:  # schema: one line per class or property added
            props[ident][change.what] = ["", "added"]
        elif change.new == "created":
            created.add(ident)
        elif change.new == "erased":
            erased.add(ident)
        elif change.prop:
            seen = props[ident].get(change.prop)
            if seen is None:
                props[ident][change.prop] = [change.old, change.new]
            else:  # written again: keep the first old value, take the last new one
                seen[1] = change.new
    grouped = []
    for ident in order:
        if not ident[1]:
            kind = "schema"
        elif ident in created:
            kind = "created and deleted" if ident in erased else "created"
        else:
            kind = "deleted" if ident in erased else "changed"
        properties = tuple((name, old, new) for name, (old, new) in props[ident].items())
        grouped.append(ObjectChange(ident[0], ident[1], kind, properties,
                                    primary_keys[ident]))
    return tuple(grouped)


@dataclass(frozen=True, slots=True)
class PastState:
    """The realm as of ``version``, in a file of its own (open it read-only)."""

    version: int
    path: Path
    changes: tuple[Change, ...]


def shown(value: Any) -> str:
    """A value as the changes list shows it: objects by class and key as the tables
    show keys ("Message 6b177bfe…", not ``Message[ObjectId('…')]``), text quoted and
    cut."""
    if isinstance(value, ins.Link):
        text = f"{value.class_name} {scalar_text(value.primary_key)}"
    elif value is ins.EMBEDDED:
        text = "(embedded object)"
    elif isinstance(value, str):
        text = repr(value)
    elif value is None:
        text = "null"
    else:
        object_schema = getattr(value, "object_schema", None)
        if object_schema is not None and object_schema.primary_key:
            text = f"{object_schema.name} {scalar_text(value[object_schema.primary_key])}"
        elif hasattr(value, "__len__") and not isinstance(value, bytes | dict):
            text = plural(len(value), "item")
        else:
            text = scalar_text(value)  # true/false, dates and numbers as the tables
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS - 1] + "…"


def _object(realm: Realm, class_name: str, primary_key: Any) -> Any:
    """The object, or None (also when its class does not exist yet: the changeset that
    adds a class creates its first objects)."""
    try:
        return realm.object_for_primary_key(class_name, primary_key)
    except RealmError:
        return None


def _read_path(realm: Realm, instruction: Any) -> tuple[bool, Any]:
    """The value at an instruction's object and path before it runs: (found, value)."""
    obj: Any = _object(realm, instruction.class_name, instruction.primary_key)
    if obj is None:
        return False, None
    try:
        for step in instruction.path:
            obj = obj[step]
        if isinstance(instruction, ins.ListSet):
            obj = obj[instruction.index]
        elif isinstance(instruction, ins.DictSet | ins.DictErase):
            obj = obj.get(instruction.key) if hasattr(obj, "get") else None
    except (KeyError, IndexError, TypeError, ValueError):
        return False, None
    return True, obj


def _change(realm: Realm, instruction: ins.Instruction) -> Change:
    what = describe(instruction)
    cls = getattr(instruction, "class_name", "")
    if isinstance(instruction, ins.AddClass | ins.AddProperty):
        return Change(cls, "", what, "", "")
    primary_key = getattr(instruction, "primary_key", None)
    key = repr(primary_key)
    old, new = "", ""
    if isinstance(instruction, ins.CreateObject):
        new = "created"
    elif isinstance(instruction, ins.EraseObject):
        old = "existed" if _object(realm, cls, instruction.primary_key) is not None else ""
        new = "erased"
    elif isinstance(instruction, ins.Set | ins.AddInteger | ins.ListSet | ins.DictSet
                    | ins.DictErase | ins.Clear):
        found, before = _read_path(realm, instruction)
        old = shown(before) if found else ""
        if isinstance(instruction, ins.AddInteger):
            new = shown(before + instruction.delta) if found and isinstance(before, int) \
                else f"+{instruction.delta}"
        elif isinstance(instruction, ins.DictErase | ins.Clear):
            new = "(removed)" if isinstance(instruction, ins.DictErase) else "(empty)"
        else:
            new = shown(instruction.value)
    elif isinstance(instruction, ins.ListInsert | ins.SetInsert):
        new = shown(instruction.value)
    elif isinstance(instruction, ins.SetErase):
        old = shown(instruction.value)
    return Change(cls, key, what, old, new, primary_key, _prop_of(instruction))


def _prop_of(instruction: Any) -> str:
    """The property (path) an instruction writes: ``tags``, ``address.city``,
    ``tags[2]``, ``scores['x']``."""
    path = getattr(instruction, "path", None)
    if not path:
        return ""
    text = str(path[0]) + "".join(f"[{step!r}]" if not isinstance(step, str) else f".{step}"
                                  for step in path[1:])
    if isinstance(instruction, ins.ListSet):
        text += f"[{instruction.index}]"
    elif isinstance(instruction, ins.DictSet | ins.DictErase):
        text += f"[{instruction.key!r}]"
    return text


class StateBuilder:
    """States of one realm at server versions (see the module docstring). Use it from
    one thread only; :meth:`close` removes its files."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else Path(
            tempfile.mkdtemp(prefix="studio-past-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.work_path = self.folder / "work.realm"
        self.work_version = 0
        self._work: Realm | None = None
        self.views: OrderedDict[int, PastState] = OrderedDict()
        self.encoded: dict[int, bytes] = {}  # every changeset fetched, as stored
        self.decoded: dict[int, ins.Changeset] = {}  # decoded ahead, not built yet
        self.applied = 0  # changesets applied since created (the benchmark's figure)

    def add(self, changesets: Mapping[int, bytes]) -> None:
        """Keep fetched changesets and decode those not built yet now (the window
        hands each page over as it arrives, so decoding overlaps the next fetch)."""
        self.encoded.update(changesets)
        for version, data in changesets.items():
            if version > self.work_version:
                self.decoded[version] = decode_changeset(data, remember=False)

    def _changeset(self, version: int) -> ins.Changeset:
        decoded = self.decoded.pop(version, None)
        return decoded if decoded is not None else decode_changeset(
            self.encoded[version], remember=False)

    def build(self, version: int, changesets: Mapping[int, bytes] | None = None) -> PastState:
        """The state at ``version``. The builder must hold (:meth:`add`, or
        ``changesets``) the stored rows from the start (or from a kept state below
        ``version``) up to ``version``."""
        if changesets:
            self.encoded.update(changesets)
        kept = self.views.get(version)
        if kept is not None:
            self.views.move_to_end(version)
            return kept
        if version < self.work_version:
            self._restart_below(version)
        realm = self._open_work()
        changes: tuple[Change, ...] = ()
        todo = sorted(v for v in self.encoded if self.work_version < v <= version)
        last = todo[-1] if todo and todo[-1] == version else None
        before = todo[:-1] if last is not None else todo
        decoded = [self._changeset(v) for v in before]
        if decoded and self.work_version == 0 and self._write_folded(realm, decoded):
            self.work_version = before[-1]
            decoded = []
        # The versions before the one asked for in one transaction per batch (a commit
        # per changeset would cost more than the replay), the last one on its own: what
        # it overwrites is read first.
        for start in range(0, len(decoded), BATCH):
            instructions: list[ins.Instruction] = []
            for changeset in decoded[start:start + BATCH]:  # in order: one replay of
                instructions.extend(changeset.instructions)  # their instructions is the same
            apply_remote(realm, instructions)
            self.applied += len(decoded[start:start + BATCH])
            self.work_version = before[min(start + BATCH, len(before)) - 1]
        if last is not None:
            changeset = self._changeset(last)
            changes = tuple(_change(realm, i) for i in changeset.instructions)
            apply_remote(realm, changeset.instructions)
            self.applied += 1
        self.work_version = version
        view = self.folder / f"as-of-{version}.realm"
        realm.refresh()
        _copy_realm(realm, view)
        state = PastState(version, view, changes)
        self.views[version] = state
        while len(self.views) > VIEWS_KEPT:
            _old, dropped = self.views.popitem(last=False)
            dropped.path.unlink(missing_ok=True)
        return state

    def _write_folded(self, realm: Realm, decoded: list[ins.Changeset]) -> bool:
        """From empty: fold the changesets into the state they build (the server's
        compaction squash, in memory) and write that state in one transaction, the
        objects' plain fields in bulk (``create_many``): a field set a thousand times
        is written once, and an object is one row insert. False (nothing written) if
        they do not fold or the state does not write: then they are replayed one by
        one, which tolerates what the fold refuses as the store does."""
        try:
            schema, rows, rest = SquashedState().fold(decoded).rows()
        except CompactionError:
            return False
        try:
            with realm.write(record=False):
                apply_remote(realm, schema)  # joins this transaction
                for class_name, objects in rows.items():
                    realm.create_many(class_name, objects)
                apply_remote(realm, rest)
        except (RealmError, ValueError, TypeError):
            return False  # rolled back: the realm is still empty
        self.applied += len(decoded)
        return True

    def _restart_below(self, version: int) -> None:
        """Go back: start again from the nearest kept state at or below ``version``."""
        self._close_work()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.work_path}{suffix}").unlink(missing_ok=True)
        below = [v for v in self.views if v <= version]
        if below:
            shutil.copyfile(self.views[max(below)].path, self.work_path)
            self.work_version = max(below)
        else:
            self.work_version = 0

    def _open_work(self) -> Realm:
        if self._work is None:
            self._work = Realm.open(self.work_path)
        return self._work

    def _close_work(self) -> None:
        if self._work is not None:
            self._work.close()
            self._work = None

    def close(self) -> None:
        self._close_work()
        shutil.rmtree(self.folder, ignore_errors=True)


def _copy_realm(realm: Realm, destination: Path) -> None:
    from studio.core.synced import write_backup

    destination.unlink(missing_ok=True)
    write_backup(realm, str(destination))
