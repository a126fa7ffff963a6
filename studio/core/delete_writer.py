"""Deleting objects in a write transaction: their embedded children, the links to them,
and what sync records of it (a part of :class:`~studio.core.writer.Writer`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from studio.core.classinfo import mixed_link_text
from studio.core.collection_writer import CollectionWriter
from studio.core.errors import ValueTypeError
from studio.core.objects import RealmObject
from studio.core.storage import KEY, column, tag_column
from studio.core.values import MixedTag
from studio.primitives import instructions as ins

if TYPE_CHECKING:
    import sqlite3

    from studio.core.changes import TransactionChanges
    from studio.core.classinfo import ClassInfo
    from studio.core.collection_writer import Address
    from studio.core.schema import Property
    from studio.core.store import Store


class DeleteWriter(CollectionWriter):
    """Mixed into Writer; the attributes below are the Writer's."""

    __slots__ = ()

    if TYPE_CHECKING:
        store: Store
        instructions: list[ins.Instruction] | None
        changes: TransactionChanges

        @property
        def _conn(self) -> sqlite3.Connection: ...
        def _bump(self) -> None: ...
        def _emit(self, instruction: ins.Instruction) -> None: ...
        def _touch(self, info: ClassInfo, key: int, prop_name: str) -> None: ...
        _known_keys: dict[str, set[Any] | None]

        def address(self, info: ClassInfo, key: int) -> Address: ...
        def _check_same_realm(self, obj: RealmObject) -> None: ...
        def _parent_of(
            self, info: ClassInfo, key: int
        ) -> tuple[ClassInfo, int, Property, ins.PathElement | None] | None: ...

    def delete(self, target: Any) -> None:
        if isinstance(target, RealmObject):
            self._check_same_realm(target)
            target._load_row()
            self._delete(target._info, target._key, record=True)
            return
        if isinstance(target, str | bytes | Mapping) or not isinstance(target, Iterable):
            raise ValueTypeError(
                f"delete() takes an object, a Results or a list of objects, "
                f"got {type(target).__name__}"
            )
        objects = list(target)
        for obj in objects:
            if not isinstance(obj, RealmObject):
                raise ValueTypeError(f"delete() can only delete objects, got {obj!r}")
        for obj in objects:
            if obj.is_valid:
                self._delete(obj._info, obj._key, record=True)

    def _delete(self, info: ClassInfo, key: int, record: bool) -> None:
        if record and self.instructions is not None:
            self._record_erase(info, key)
        if info.name in self._known_keys:
            self._known_keys[info.name] = None  # a primary key may be free again
        conn = self._conn
        # Embedded children die with their parent.
        row = conn.execute(info.select_one_sql, (key,)).fetchone()
        if row is None:
            return
        for col in info.columns.values():
            target = self._embedded_target(col.prop)
            if target is not None and row[col.index] is not None:
                self._delete(target, row[col.index], record=False)
        for prop in info.collections.values():
            table = info.collection_table(prop)
            target = self._embedded_target(prop)
            if target is not None:
                for (child,) in conn.execute(
                    f"SELECT value FROM {table} WHERE owner = ?", (key,)
                ).fetchall():
                    if child is not None:
                        self._delete(target, child, record=False)
            conn.execute(f"DELETE FROM {table} WHERE owner = ?", (key,))
        if not info.embedded or record:
            # Cascaded embedded children are unlinked by their parent's own update or delete.
            self._unlink(info, key)
        conn.execute(f"DELETE FROM {info.table} WHERE {KEY} = ?", (key,))
        self._bump()
        self.changes.delete(info.name, key)
        self.store.class_changed(info.name)

    def _record_erase(self, info: ClassInfo, key: int) -> None:
        if not info.embedded:
            self._record_list_removals(info, key)
            top, pk, _ = self.address(info, key)
            self._emit(ins.EraseObject(top, pk))
            return
        top, pk, path = self.address(info, key)
        last = path[-1]
        if isinstance(last, int):
            self._emit(ins.ListErase(top, pk, path[:-1], last))
        elif len(path) >= 2 and self._is_dict_path(info, key):
            self._emit(ins.DictErase(top, pk, path[:-1], str(last)))
        else:
            self._emit(ins.Set(top, pk, path, None))

    def _record_list_removals(self, info: ClassInfo, key: int) -> None:
        """Record the list entries an erase removes, highest index first: other devices'
        concurrent edits of those lists are transformed against explicit ListErases (to-one
        links, set members and dictionary values follow from the erase itself)."""
        for link in info.incoming:
            if link.prop.collection != "list":
                continue
            src = self.store.info(link.class_name)
            rows = self._conn.execute(
                f"SELECT owner, pos FROM {src.collection_table(link.prop)} WHERE value = ? "
                "ORDER BY owner, pos DESC",
                (key,),
            ).fetchall()
            for owner, pos in rows:
                top, pk, path = self.address(src, owner)
                self._emit(ins.ListErase(top, pk, (*path, link.prop.name), pos))

    def _is_dict_path(self, info: ClassInfo, key: int) -> bool:
        parent = self._parent_of(info, key)
        return parent is not None and parent[2].collection == "dictionary"

    def _unlink(self, info: ClassInfo, key: int) -> None:
        """Remove every link to a deleted object: to-one links become null, list and set
        entries go away, dictionary values become null (as in Realm)."""
        conn = self._conn
        store = self.store
        for link in info.incoming:
            src = store.info(link.class_name)
            prop = link.prop
            if prop.collection is None:
                col = column(prop.name)
                owners = conn.execute(
                    f"SELECT {KEY} FROM {src.table} WHERE {col} = ?", (key,)
                ).fetchall()
                if owners:
                    conn.execute(f"UPDATE {src.table} SET {col} = NULL WHERE {col} = ?", (key,))
            else:
                table = src.collection_table(prop)
                if prop.collection == "list":
                    owners = conn.execute(
                        f"SELECT owner, pos FROM {table} WHERE value = ? ORDER BY pos DESC", (key,)
                    ).fetchall()
                    for owner, pos in owners:
                        self._remove_list_row(src, owner, prop, pos, delete_embedded=False)
                elif prop.collection == "set":
                    owners = conn.execute(
                        f"SELECT owner FROM {table} WHERE value = ?", (key,)
                    ).fetchall()
                    conn.execute(f"DELETE FROM {table} WHERE value = ?", (key,))
                else:
                    owners = conn.execute(
                        f"SELECT owner FROM {table} WHERE value = ?", (key,)
                    ).fetchall()
                    conn.execute(f"UPDATE {table} SET value = NULL WHERE value = ?", (key,))
            for owner in owners:
                self._touch(src, owner[0], prop.name)
        text = mixed_link_text(info.name, key)
        for link in info.incoming_mixed:
            src = store.info(link.class_name)
            prop = link.prop
            if prop.collection is None:
                col, tag = column(prop.name), tag_column(prop.name)
                where = f"{tag} = {int(MixedTag.LINK)} AND {col} = ?"
                owners_list = conn.execute(
                    f"SELECT {KEY} FROM {src.table} WHERE {where}", (text,)
                ).fetchall()
                conn.execute(f"UPDATE {src.table} SET {col} = NULL, {tag} = 0 WHERE {where}",
                             (text,))
            else:
                table = src.collection_table(prop)
                where = f'"value@type" = {int(MixedTag.LINK)} AND value = ?'
                owners_list = conn.execute(
                    f"SELECT owner FROM {table} WHERE {where}", (text,)
                ).fetchall()
                if prop.collection == "set":
                    conn.execute(f"DELETE FROM {table} WHERE {where}", (text,))
                else:
                    conn.execute(
                        f'UPDATE {table} SET value = NULL, "value@type" = 0 WHERE {where}', (text,)
                    )
            for owner in owners_list:
                self._touch(src, owner[0], prop.name)
