"""Undoable edits of a realm made in one browser window (QUndoStack commands).

Commands address objects by class name and object key, never by row, so they stay
right while rows move under live updates. Each command runs in its own write
transaction; one that fails (the file became read-only, the disk is full, another
process deleted the object) reports why and leaves the stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from studio.ui import incoming_links
from studio.ui.formatting import is_object, object_key


@dataclass(frozen=True, slots=True)
class Ref:
    """A link to an object, kept by class name and key (what a snapshot stores)."""

    class_name: str
    key: int


class Session:
    """Writes to one realm and reports failures instead of raising them into Qt."""

    def __init__(self, realm: Any, report: Callable[[BaseException], None]) -> None:
        self.realm = realm
        self.report = report

    def write(self, change: Callable[[], Any]) -> bool:
        try:
            with self.realm.write():
                change()
        except Exception as exc:
            self.report(exc)
            return False
        return True

    def object(self, class_name: str, key: int) -> Any:
        obj = self.realm.object_for_key(class_name, key)
        if obj is None:
            raise LookupError(
                f"the {class_name} object was deleted meanwhile (by another program?)"
            )
        return obj


class RealmCommand(QUndoCommand):
    """A command whose redo/undo are write transactions; a failing one goes obsolete."""

    # Subclasses define apply() and revert(), each run inside a write transaction.
    # (Qt's metaclass rules out abc here, so the check is made when a subclass is defined.)
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [name for name in ("apply", "revert") if not callable(getattr(cls, name, None))]
        if missing:
            raise TypeError(f"{cls.__name__} must define {' and '.join(missing)}()")

    if TYPE_CHECKING:  # declared for mypy only: runtime defaults would defeat the check above

        def apply(self) -> None: ...

        def revert(self) -> None: ...

    def __init__(self, session: Session, text: str) -> None:
        super().__init__(text)
        self.session = session
        self.failed = False

    def redo(self) -> None:
        if not self.session.write(self.apply):
            self.failed = True
            self.setObsolete(True)

    def undo(self) -> None:
        if not self.session.write(self.revert):
            self.failed = True
            self.setObsolete(True)


class SetValueCommand(RealmCommand):
    """One property of one object gets a new value."""

    def __init__(self, session: Session, class_name: str, key: int, prop: str,
                 old: Any, new: Any) -> None:
        super().__init__(session, f"Edit {class_name}.{prop}")
        self.class_name, self.key, self.prop = class_name, key, prop
        self.old, self.new = old, new

    def apply(self) -> None:
        self.session.object(self.class_name, self.key)[self.prop] = self.new

    def revert(self) -> None:
        self.session.object(self.class_name, self.key)[self.prop] = self.old


class CollectionCommand(RealmCommand):
    """An edit of a list, set or dictionary property: ``forward(coll)`` and ``backward(coll)``
    change the live collection of object ``key``."""

    def __init__(self, session: Session, text: str, class_name: str, key: int, prop: str,
                 forward: Callable[[Any], None], backward: Callable[[Any], None]) -> None:
        super().__init__(session, text)
        self.class_name, self.key, self.prop = class_name, key, prop
        self.forward, self.backward = forward, backward

    def _collection(self) -> Any:
        return self.session.object(self.class_name, self.key)[self.prop]

    def apply(self) -> None:
        self.forward(self._collection())

    def revert(self) -> None:
        self.backward(self._collection())


class CreateObjectCommand(RealmCommand):
    """A new object; undo deletes it, redo creates it again with the same values."""

    def __init__(self, session: Session, class_name: str, values: dict[str, Any]) -> None:
        super().__init__(session, f"Create {class_name}")
        self.class_name = class_name
        self.values = values
        self.key: int | None = None

    def apply(self) -> None:
        obj = self.session.realm.create(self.class_name, restore_values(self.session.realm,
                                                                        self.values))
        self.key = obj._key

    def revert(self) -> None:
        if self.key is not None:
            self.session.realm.delete(self.session.object(self.class_name, self.key))


class DeleteObjectsCommand(RealmCommand):
    """Objects deleted together; undo recreates them from snapshots of their values
    and puts back the links other objects had to them (recorded before the delete:
    Realm keeps no record of the links a delete nulls)."""

    def __init__(self, session: Session, class_name: str, keys: list[int]) -> None:
        count = len(keys)
        super().__init__(session, f"Delete {count} {class_name}" + ("" if count == 1 else "s"))
        self.class_name = class_name
        self.keys = list(keys)
        self.snapshots: list[dict[str, Any]] = []
        self.incoming: list[incoming_links.IncomingLink] = []

    def apply(self) -> None:
        objects = [self.session.object(self.class_name, k) for k in self.keys]
        self.snapshots = [snapshot_object(obj) for obj in objects]
        self.incoming = incoming_links.find(self.session.realm, self.class_name, objects)
        for obj in objects:
            self.session.realm.delete(obj)

    def revert(self) -> None:
        realm = self.session.realm
        old_keys = self.keys
        self.keys = [
            realm.create(self.class_name, restore_values(realm, snapshot))._key
            for snapshot in self.snapshots
        ]
        new_keys = dict(zip(old_keys, self.keys, strict=True))
        incoming_links.restore(realm, self.incoming, new_keys, self.class_name)


def snapshot_value(value: Any) -> Any:
    """A value that outlives its object: links become :class:`Ref`, embedded objects
    nested dicts, collections plain lists and dicts."""
    if is_object(value):
        schema = value.object_schema
        if schema.embedded:
            return snapshot_object(value)
        key = object_key(value)
        return Ref(schema.name, key if key is not None else -1)
    if hasattr(value, "property_schema"):  # a live list, set or dictionary
        if value.property_schema.collection == "dictionary":
            return {k: snapshot_value(v) for k, v in value.items()}
        return [snapshot_value(v) for v in value]
    return value


def snapshot_object(obj: Any) -> dict[str, Any]:
    schema = obj.object_schema
    return {
        prop.name: snapshot_value(obj[prop.name])
        for prop in schema.properties
        if not prop.is_backlink
    }


def restore_values(realm: Any, values: Any) -> Any:
    """The inverse of :func:`snapshot_value`: refs become live objects again (or null,
    when the target is gone)."""
    if isinstance(values, Ref):
        return realm.object_for_key(values.class_name, values.key)
    if isinstance(values, dict):
        return {k: restore_values(realm, v) for k, v in values.items()}
    if isinstance(values, list):
        restored = [restore_values(realm, v) for v in values]
        return [v for v in restored if v is not None or not any(
            isinstance(x, Ref) for x in values)]
    return values
