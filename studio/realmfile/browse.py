"""A genuine Realm Core file as a read-only, Realm-like view: what the Studio browses.

The browser and the export are written against a ``studio.core`` Realm.
:class:`CoreFileRealm` gives them the same read surface over a :class:`RealmFile` --
``schema``, ``objects(name)``, ``object_for_key``, listeners that never fire,
``filtered(query)`` by a scan (:mod:`studio.realmfile.query`) -- and refuses writes.

Objects are handed out as :class:`CoreObject` wrappers so that they carry what the table
and :mod:`studio.core.export_files` expect of an object (``object_schema``, ``_key``,
``obj[name]``, links that are objects of the same kind) and so that backlinks show as
computed ``linkingObjects`` columns named ``@links.Class.property`` (Realm Query
Language's spelling): the SDK-side names of linkingObjects properties are not stored in
the file.

Class names are the SDKs' (table ``class_Person`` is ``Person``). Internal tables
(``metadata``, ``pk``, sync tables) are listed too, as *system* classes the class list
hides behind its toggle; a file without any SDK class (written by Realm Core itself)
shows its tables as ordinary classes, as ``studio inspect`` and ``studio convert`` do.

No Qt here: the Qt-facing part is :mod:`studio.ui.corefile`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from studio.core.errors import QueryError
from studio.core.property_types import PROPERTY_TYPES
from studio.core.realm import sniff_file
from studio.core.schema import ObjectSchema, Property
from studio.realmfile.errors import RealmFileError
from studio.realmfile.objects import RealmObject
from studio.realmfile.query import compile_query
from studio.realmfile.reader import RealmFile, is_realm_core_file

BACKLINK_PREFIX = "@links."
QUERY_NOTE = ("Queries on a Realm Core file run in Python over its objects (one scan per "
              "query); query arguments, SUBQUERY, arithmetic and geospatial queries need "
              "an editable copy (Convert to editable copy…).")
READ_ONLY_NOTE = ("A Realm Core file is read-only in the Studio: use \"Convert to editable "
                  "copy…\" to change its objects.")

# What reading a property takes: the reader's value as it is (scalars), the value with
# its objects wrapped (links, mixed, collections), or a backlink list (origin, property).
_PLAIN = 0
_WRAP = 1


def is_core_file(path: str | os.PathLike[str]) -> bool:
    """True for a genuine Realm Core file, encrypted and unsupported formats included
    (opening those then says why they cannot be shown)."""
    kind = sniff_file(Path(path))
    if kind == "realm-core":
        return True
    # Encrypted realms carry no readable signature; the reader recognises their page layout.
    return kind == "other" and Path(path).is_file() and is_realm_core_file(path)


def format_label(version: int) -> str:
    """What the browser's banner says about the file."""
    return f"Realm Core file, format {version}, read-only"


class _Token:
    def remove(self) -> None:
        pass


class CoreFileRealm:
    """A read-only, Realm-like view of a Realm Core file (see the module docstring)."""

    read_only = True
    is_in_transaction = False

    def __init__(self, rf: RealmFile) -> None:
        self.file = rf
        self.path = str(rf.path)
        self.format_version = rf.format_version
        user = rf.class_names()
        taken = set(user)
        if user:
            # Internal tables whose name a user class also has cannot be addressed by
            # name (the class wins): leave them out.
            internal = [n for n in rf.class_names(include_internal=True) if n not in taken]
            self.system_names: frozenset[str] = frozenset(internal)
            self._names = [n for n in rf.class_names(include_internal=True)
                           if n in taken or n in self.system_names]
        else:
            self.system_names = frozenset()
            self._names = rf.class_names(include_internal=True)
        self._schemas: dict[str, ObjectSchema] = {}
        self._plans: dict[str, dict[str, Any]] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> CoreFileRealm:
        """Open ``path`` read-only; raises :class:`RealmFileError` (and its kinds:
        encrypted, unsupported format, corrupt) with the reader's message."""
        rf = RealmFile.open(path)
        try:
            if rf.format_version == 0 and not rf.class_names(include_internal=True):
                raise RealmFileError(
                    "this Realm Core file was created but never written to: it has no "
                    "classes to show yet", path=str(path))
            return cls(rf)
        except BaseException:
            rf.close()
            raise

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self.file.closed

    def close(self) -> None:
        self.file.close()

    def refresh(self) -> bool:
        """Nothing to refresh: the file is read as the snapshot it was when opened."""
        return False

    def add_listener(self, _callback: Callable[..., Any]) -> _Token:
        return _Token()  # a snapshot never changes

    def write(self) -> Any:
        raise RealmFileError(READ_ONLY_NOTE)

    # -- schema -------------------------------------------------------------------------------

    @property
    def class_names(self) -> list[str]:
        """Every class the browser can show (system classes included)."""
        return list(self._names)

    @property
    def schema(self) -> list[ObjectSchema]:
        """Every class, with backlinks as ``@links.Class.property`` linkingObjects."""
        return [self.object_schema(n) for n in self._names]

    @property
    def plain_schema(self) -> list[ObjectSchema]:
        """The classes as stored (no computed backlink columns, no system classes)."""
        return [self.file.object_schema(n) for n in self._names if n not in self.system_names]

    def object_schema(self, name: str) -> ObjectSchema:
        schema = self._schemas.get(name)
        if schema is None:
            base = self.file.object_schema(name)
            backlinks = [
                Property(f"{BACKLINK_PREFIX}{origin}.{prop}", "linkingObjects",
                         object_type=origin, origin_property=prop)
                for origin, prop in self.file.incoming_links(name)
                if origin in self._names
            ]
            schema = ObjectSchema(base.name, (*base.properties, *backlinks),
                                  primary_key=base.primary_key, embedded=base.embedded)
            self._schemas[name] = schema
        return schema

    def _plan(self, name: str) -> dict[str, Any]:
        plan = self._plans.get(name)
        if plan is None:
            plan = {}
            for prop in self.object_schema(name).properties:
                if prop.is_backlink:
                    plan[prop.name] = (prop.object_type, prop.origin_property)
                elif prop.collection is None and prop.type in PROPERTY_TYPES:
                    plan[prop.name] = _PLAIN
                else:
                    plan[prop.name] = _WRAP
            self._plans[name] = plan
        return plan

    def count(self, name: str) -> int:
        return self.file.count(name)

    # -- objects ------------------------------------------------------------------------------

    def objects(self, name: str) -> CoreResults:
        return CoreResults(self, name)

    def index_of_key(self, name: str, key: int) -> int | None:
        """Position of the object with this object key in ``objects(name)``, or None.

        The reader has no public key lookup, so this asks its cluster tree (a bisect
        over the clusters, not a scan); damage surfaces as a RealmFileError."""
        tree = self.file._table(name).tree
        try:
            found = tree.find(key)
        except RealmFileError:
            raise
        except Exception as exc:  # damaged key arrays: say so, never an IndexError
            raise RealmFileError(f"cannot look up object key {key} of {name}: {exc}",
                                 path=self.path) from exc
        if found is None:
            return None
        leaf, row = found
        return int(leaf.start) + row

    def object_for_key(self, name: str, key: int) -> CoreObject | None:
        index = self.index_of_key(name, key)
        return None if index is None else self.objects(name)[index]

    def object_for_primary_key(self, name: str, pk: Any) -> CoreObject | None:
        found = self.file.object_for_primary_key(name, pk)
        return None if found is None else CoreObject(self, found)

    def wrap(self, value: Any) -> Any:
        """A value read from the file with its objects wrapped (also inside collections
        and mixed values)."""
        if isinstance(value, RealmObject):
            return CoreObject(self, value)
        if isinstance(value, list):
            return [self.wrap(v) for v in value]
        if isinstance(value, dict):
            return {k: self.wrap(v) for k, v in value.items()}
        return value


class CoreObject:
    """One object of the file as the browser sees it (read-only)."""

    __slots__ = ("_obj", "_realm")

    def __init__(self, realm: CoreFileRealm, obj: RealmObject) -> None:
        self._realm = realm
        self._obj = obj

    @property
    def _key(self) -> int:
        return self._obj.key

    @property
    def object_schema(self) -> ObjectSchema:
        return self._realm.object_schema(self._obj.class_name)

    @property
    def is_valid(self) -> bool:
        return not self._realm.is_closed

    def __getitem__(self, name: str) -> Any:
        how = self._realm._plan(self._obj.class_name).get(name, _PLAIN)
        if how == _PLAIN:
            return self._obj[name]
        if how == _WRAP:
            return self._realm.wrap(self._obj[name])
        origin, prop = how
        return [CoreObject(self._realm, o) for o in self._obj.linking_objects(origin, prop)]

    def __setitem__(self, name: str, value: Any) -> None:
        raise RealmFileError(READ_ONLY_NOTE)

    def to_dict(self) -> dict[str, Any]:
        return self._obj.to_dict()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CoreObject) and other._obj == self._obj

    def __hash__(self) -> int:
        return hash(self._obj)

    def __repr__(self) -> str:
        return repr(self._obj)


class CoreResults(Sequence[CoreObject]):
    """All objects of one class, in the file's order (lazy, like the reader's Results)."""

    def __init__(self, realm: CoreFileRealm, name: str) -> None:
        self.realm = realm
        self.name = name
        self._results = realm.file.objects(name)

    @property
    def object_schema(self) -> ObjectSchema:
        return self.realm.object_schema(self.name)

    def __len__(self) -> int:
        return len(self._results)

    @overload
    def __getitem__(self, index: int) -> CoreObject: ...

    @overload
    def __getitem__(self, index: slice) -> list[CoreObject]: ...

    def __getitem__(self, index: int | slice) -> CoreObject | list[CoreObject]:
        if isinstance(index, slice):
            return [CoreObject(self.realm, o) for o in self._results[index]]
        return CoreObject(self.realm, self._results[index])

    def __iter__(self) -> Iterator[CoreObject]:
        realm = self.realm
        for obj in self._results:
            yield CoreObject(realm, obj)

    def filtered(self, query: str, *args: Any) -> CoreSelection:
        """The objects matching ``query`` (evaluated now, by a scan: see
        :mod:`studio.realmfile.query`); query arguments are not supported."""
        if args:
            raise QueryError("query arguments are not supported on a Realm Core file", 0,
                             query)
        compiled = compile_query(query, self.name, self.realm.object_schema)
        return CoreSelection(self.realm, self.name, compiled.run(self), query=query)


class CoreSelection(Sequence[CoreObject]):
    """Some objects of one class, by their positions in the class (a query's answer, a
    sorted order), read from the file as they are shown."""

    def __init__(self, realm: CoreFileRealm, name: str, positions: Sequence[int],
                 query: str = "") -> None:
        self.realm = realm
        self.name = name
        self.positions = list(positions)
        self.query = query
        self._all = CoreResults(realm, name)
        self._rows: dict[int, int] | None = None

    @property
    def object_schema(self) -> ObjectSchema:
        return self.realm.object_schema(self.name)

    def __len__(self) -> int:
        return len(self.positions)

    @overload
    def __getitem__(self, index: int) -> CoreObject: ...

    @overload
    def __getitem__(self, index: slice) -> list[CoreObject]: ...

    def __getitem__(self, index: int | slice) -> CoreObject | list[CoreObject]:
        if isinstance(index, slice):
            return [self._all[p] for p in self.positions[index]]
        return self._all[self.positions[index]]

    def __iter__(self) -> Iterator[CoreObject]:
        for position in self.positions:
            yield self._all[position]

    def row_of_position(self, position: int) -> int | None:
        """Where the class's object at ``position`` is in this selection, if it is."""
        if self._rows is None:
            self._rows = {p: row for row, p in enumerate(self.positions)}
        return self._rows.get(position)
