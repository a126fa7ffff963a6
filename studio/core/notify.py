"""Listener registries and delivery after each commit or refresh."""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from studio.core.changes import ObjectChange, RealmChanges, TransactionChanges

if TYPE_CHECKING:
    from studio.core.objects import RealmObject
    from studio.core.realm import Realm
    from studio.core.results import Results

log = logging.getLogger(__name__)


class NotificationToken:
    """Returned by ``add_listener``; ``remove()`` stops the notifications."""

    __slots__ = ("_remove", "removed")

    def __init__(self, remove: Callable[[], None]) -> None:
        self._remove = remove
        self.removed = False

    def remove(self) -> None:
        if not self.removed:
            self.removed = True
            self._remove()

    def __enter__(self) -> NotificationToken:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _accepts_two(callback: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class Notifier:
    """Holds the listeners of one Realm instance and calls them after a commit."""

    def __init__(self, realm: Realm) -> None:
        self._realm = weakref.ref(realm)
        self._realm_listeners: list[tuple[Callable[..., None], bool]] = []
        self._results: list[Results] = []
        self._objects: dict[tuple[str, int], list[tuple[RealmObject, Callable[..., None]]]] = {}

    # -- registration -------------------------------------------------------------------------

    def add_realm_listener(self, callback: Callable[..., None]) -> NotificationToken:
        entry = (callback, _accepts_two(callback))
        self._realm_listeners.append(entry)
        return NotificationToken(lambda: _discard(self._realm_listeners, entry))

    def watch_results(self, results: Results) -> None:
        if not any(r is results for r in self._results):
            self._results.append(results)

    def unwatch_results(self, results: Results) -> None:
        self._results = [r for r in self._results if r is not results]

    def add_object_listener(
        self, obj: RealmObject, callback: Callable[[RealmObject, ObjectChange], None]
    ) -> NotificationToken:
        obj._load_row()
        key = (obj._info.name, obj._key)
        entry = (obj, callback)
        self._objects.setdefault(key, []).append(entry)

        def remove() -> None:
            entries = self._objects.get(key, [])
            _discard(entries, entry)
            if not entries:
                self._objects.pop(key, None)

        return NotificationToken(remove)

    @property
    def has_listeners(self) -> bool:
        return bool(self._realm_listeners or self._results or self._objects)

    # -- delivery -----------------------------------------------------------------------------

    def deliver(self, changes: TransactionChanges, local: bool) -> None:
        """Compute and send notifications; runs after the commit, outside any transaction."""
        realm = self._realm()
        if realm is None:
            return
        for results in list(self._results):
            results._deliver(changes)
        for (class_name, key), entries in list(self._objects.items()):
            change = _object_change(changes, class_name, key)
            if change is None:
                continue
            for obj, callback in list(entries):
                _call(callback, obj, change)
        summary = RealmChanges(
            tuple(sorted(name for name, c in changes.classes.items() if c)),
            changes.schema_changed,
            local,
        )
        for callback, two in list(self._realm_listeners):
            if two:
                _call(callback, realm, summary)
            else:
                _call(callback, realm)


def _object_change(changes: TransactionChanges, class_name: str, key: int) -> ObjectChange | None:
    class_changes = changes.classes.get(class_name)
    if class_changes is None:
        return None
    if key in class_changes.deleted:
        return ObjectChange(deleted=True)
    props = class_changes.modified.get(key)
    if props:
        return ObjectChange(changed_properties=tuple(sorted(props)))
    return None


def _call(callback: Callable[..., None], *args: Any) -> None:
    # A failing listener must not stop the others nor undo a commit that already happened.
    try:
        callback(*args)
    except Exception:
        log.exception("a realm listener raised")


def _discard(entries: list[Any], entry: Any) -> None:
    for i, existing in enumerate(entries):
        if existing is entry:
            del entries[i]
            return
