"""What the browser changes in a realm: cell edits, data cells, creating and deleting
objects, collection edits. Every change is an undoable command on the undo stack.

The base mixin of :class:`studio.ui.browser.RealmBrowser`'s actions
(:class:`studio.ui.browser_actions.BrowserActions` adds menus, files and schema):
kept apart so that the window's layout and navigation stay readable.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt

from studio.ui.commands import (
    CollectionCommand,
    CreateObjectCommand,
    DeleteObjectsCommand,
    SetValueCommand,
    restore_values,
    snapshot_value,
)
from studio.ui.create_panel import FieldSpec, default_value, fields_for_class
from studio.ui.formatting import edit_text, format_size, is_object, object_class, object_key
from studio.ui.sources import BacklinkSource, CollectionSource
from studio.ui.table_model import PropertyRole, ValueRole, cell_data

if TYPE_CHECKING:
    from PySide6.QtGui import QUndoStack
    from PySide6.QtWidgets import QMainWindow

    from studio.core import Realm
    from studio.ui.class_list import ClassList
    from studio.ui.commands import RealmCommand, Session
    from studio.ui.create_panel import CreatePanel
    from studio.ui.message_bar import MessageBar
    from studio.ui.navigation import ViewSpec
    from studio.ui.table_model import ObjectTableModel
    from studio.ui.table_view import ObjectTableView


if TYPE_CHECKING:
    # To mypy the mixin is the window it is mixed into, so it may parent dialogs and menus.
    _Window = QMainWindow
else:
    _Window = object


class BrowserEdits(_Window):
    """Editing actions of the browser window (needs the attributes declared below)."""

    if TYPE_CHECKING:
        realm: Realm
        read_only: bool
        session: Session
        undo_stack: QUndoStack
        model: ObjectTableModel
        table: ObjectTableView
        message_bar: MessageBar
        create_panel: CreatePanel
        create_dock: Any
        inspector_dock: Any
        class_list: ClassList
        current_spec: ViewSpec | None
        manager: Any

        def show_message(self, text: str, level: str = ..., timeout_ms: int | None = ...,
                         topic: str = ...) -> None: ...
        def report_error(self, exc: BaseException) -> None: ...
        def navigate(self, spec: ViewSpec) -> bool: ...
        def refresh_classes(self) -> None: ...
        def follow(self, index: QModelIndex) -> None: ...
        def schema_of(self, class_name: str) -> Any: ...

    # -- editing cells --------------------------------------------------------------------------

    def push(self, command: RealmCommand) -> bool:
        """Run an undoable command on this window's undo stack; False when it failed
        (the message bar says why)."""
        return self._push(command)

    def resolve_links(self, class_name: str, values: dict[str, Any]) -> dict[str, Any]:
        """Values typed in forms with links as primary keys, with the objects instead
        (raises ValueError naming a key no object has)."""
        return self._resolve_links(class_name, values)

    def _push(self, command: RealmCommand) -> bool:
        self.model.start_listening()  # the view must hear about its own change
        self.undo_stack.push(command)
        if command.failed:
            return False
        self.message_bar.clear("edit", "error")  # an earlier failed edit is history now
        return True

    def _refuse_read_only(self) -> bool:
        if self.read_only:
            self.show_message("This realm is open read-only: it cannot be changed.", "warning")
        return self.read_only

    def edit_cell(self, index: QModelIndex, value: Any) -> bool:
        """The model's edit handler: every cell edit becomes an undoable command."""
        if self._refuse_read_only():
            return False
        source = self.model.source
        column = self.model.column(index)
        row = self.model.row_object(index.row())
        if source is None or column is None or row is None:
            return False
        if column.kind == "property" and is_object(row):
            old = source.value(row, column)
            return self._push(SetValueCommand(self.session, object_class(row), object_key(row)
                                              or 0, column.name, old, value))
        if not isinstance(source, CollectionSource):
            return False
        owner = source.owner
        kind = source.prop.collection
        old_value, i, key = row.value, row.index, row.key
        if column.kind == "key":
            def forward(c: Any) -> None:
                c[value] = c[key]
                del c[key]

            def backward(c: Any) -> None:
                c[key] = c[value]
                del c[value]
        elif kind == "list":
            def forward(c: Any) -> None:
                c[i] = value

            def backward(c: Any) -> None:
                c[i] = old_value
        elif kind == "set":
            def forward(c: Any) -> None:
                c.discard(old_value)
                c.add(value)

            def backward(c: Any) -> None:
                c.discard(value)
                c.add(old_value)
        else:
            def forward(c: Any) -> None:
                c[key] = value

            def backward(c: Any) -> None:
                c[key] = old_value
        return self._push(CollectionCommand(
            self.session, f"Edit {source.title}", object_class(owner), object_key(owner) or 0,
            source.prop.name, forward, backward))

    def set_null(self, index: QModelIndex) -> bool:
        prop = cell_data(index, PropertyRole)
        if prop is None or not (prop.optional or prop.type in ("mixed", "object")):
            self.show_message("This property is required: it cannot be null.", "warning")
            return False
        return self.edit_cell(index, None)

    def save_data(self, index: QModelIndex, path: str) -> bool:
        value = cell_data(index, ValueRole)
        if not isinstance(value, bytes | bytearray | memoryview):
            self.show_message("This cell holds no data to save.", "warning")
            return False
        try:
            Path(path).write_bytes(bytes(value))
        except OSError as exc:
            self.report_error(exc)
            return False
        self.show_message(f"Saved {format_size(len(value))} to {path}.", "success", 4000)
        return True

    def load_data(self, index: QModelIndex, path: str) -> bool:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            self.report_error(exc)
            return False
        return self.edit_cell(index, data)

    # -- objects ----------------------------------------------------------------------------------

    def new_object(self) -> None:
        """Ctrl+N: a new object of the class on screen (or a new element of the list)."""
        if self._refuse_read_only():
            return
        source = self.model.source
        if isinstance(source, CollectionSource):
            self.add_element()
            return
        if isinstance(source, BacklinkSource):
            self.show_message("Backlinks are computed: set the link on the other object "
                              "instead.", "info")
            return
        spec = self.current_spec
        schema = self.schema_of(spec.class_name) if spec is not None else None
        if schema is None:
            return
        if schema.embedded:
            self.show_message(f"{schema.name} objects are embedded: they are created inside "
                              "their parent (open its list, or set its property).", "info")
            return
        classes = {s.name: s for s in self.realm.schema}
        self.create_dock.setWindowTitle(f"New {schema.name}")
        self.create_panel.open_form(f"New {schema.name}", fields_for_class(schema, classes),
                                    lambda values: self.create_object(schema.name, values))
        self.show_create_dock()

    def show_create_dock(self) -> None:
        """Show the create panel with room for its fields. Docked above the inspector it
        would get half the side or less (a single field showed at 1200x760): it takes
        three quarters of the height while it is open."""
        self.create_dock.show()
        other = self.inspector_dock
        if other is None or not other.isVisible() or other.isFloating() \
                or self.create_dock.isFloating() \
                or self.dockWidgetArea(other) != self.dockWidgetArea(self.create_dock):
            return
        height = self.create_dock.height() + other.height()
        self.resizeDocks([self.create_dock, other], [height * 3 // 4, height - height * 3 // 4],
                         Qt.Orientation.Vertical)

    def _resolve_links(self, class_name: str, values: dict[str, Any]) -> dict[str, Any]:
        """Fields typed as a target's primary key become the target object (also the
        elements of a list, set or dictionary of links, and inside embedded objects)."""
        schema = self.schema_of(class_name)
        out = dict(values)
        for name, value in values.items():
            prop = schema.get(name) if schema is not None else None
            if prop is None or prop.type != "object" or value is None:
                continue
            target = self.schema_of(prop.object_type or "")
            if target is not None and target.embedded:
                if isinstance(value, dict) and prop.collection is None:
                    out[name] = self._resolve_links(target.name, value)
                continue
            if prop.collection == "dictionary" and isinstance(value, dict):
                out[name] = {k: self._link_target(name, prop.object_type or "", v)
                             for k, v in value.items()}
            elif prop.collection is not None and isinstance(value, list):
                out[name] = [self._link_target(name, prop.object_type or "", v) for v in value]
            else:
                out[name] = self._link_target(name, prop.object_type or "", value)
        return out

    def _link_target(self, field: str, class_name: str, key: Any) -> Any:
        if key is None:
            return None
        target = self.realm.object_for_primary_key(class_name, key)
        if target is None:
            raise ValueError(f"{field}: no {class_name} has the primary key {key!r}")
        return target

    def primary_key_choices(self, class_name: str, limit: int = 2000
                            ) -> list[tuple[str, str]]:
        """The objects a link field suggests as it is typed (the first ``limit``): each
        one's primary key, and a label with its first two string values, so that a
        name finds the object whose key nobody remembers."""
        schema = self.schema_of(class_name)
        if schema is None or schema.primary_key is None:
            return []
        strings = [p.name for p in schema.properties if p.type == "string"
                   and p.collection is None and p.name != schema.primary_key][:2]
        choices: list[tuple[str, str]] = []
        for obj in self.realm.objects(class_name):
            key = edit_text(obj[schema.primary_key])
            words = [str(obj[name]) for name in strings if obj[name]]
            choices.append((key, " — ".join([key, *words])))
            if len(choices) >= limit:
                break
        return choices

    def create_object(self, class_name: str, values: dict[str, Any]) -> bool:
        try:
            resolved = self._resolve_links(class_name, values)
        except ValueError as exc:
            self.create_panel.show_error(str(exc))
            return False
        command = CreateObjectCommand(self.session, class_name, resolved)
        if not self._push(command):
            self.create_panel.show_error(self.message_bar.text or "the object was not created")
            return False
        if command.key is not None:
            row = self.model.find_row(command.key)
            if row >= 0:
                self.table.go_to_row(row, 0)
        # Ctrl+Enter left the keyboard in the form: Delete, arrows... belong to the table.
        self.table.setFocus()
        self.show_message(f"Created a {class_name}.", "success", 3000, topic="change")
        return True

    def delete_selected(self) -> None:
        """Delete (after one confirmation) the selected objects, or remove the selected
        elements of a collection."""
        if self._refuse_read_only():
            return
        rows = self.table.selected_rows()
        source = self.model.source
        if not rows or source is None:
            self.show_message("Select the rows to delete first.", "info", 3000)
            return
        if isinstance(source, CollectionSource):
            count = len(rows)
            self.message_bar.ask(
                f"Remove {count} item{'s' if count != 1 else ''} from {source.title}?",
                "Remove", lambda: self.remove_elements(rows))
            return
        objects = [self.model.row_object(r) for r in rows]
        objects = [o for o in objects if is_object(o)]
        if not objects:
            return
        class_name = object_class(objects[0])
        keys = [object_key(o) or 0 for o in objects]
        noun = class_name if len(keys) == 1 else f"{class_name} objects"
        self.message_bar.ask(f"Delete {len(keys)} {noun}? (Undo with Ctrl+Z)", "Delete",
                             lambda: self.delete_objects(class_name, keys))

    def delete_objects(self, class_name: str, keys: list[int]) -> bool:
        ok = self._push(DeleteObjectsCommand(self.session, class_name, keys))
        if ok:
            self.show_message(f"Deleted {len(keys)} {class_name}"
                              f"{'' if len(keys) == 1 else ' objects'}.", "success", 3000,
                              topic="change")
        return ok

    # -- collections ------------------------------------------------------------------------------

    def _collection_command(self, text: str, forward: Any, backward: Any) -> bool:
        source = self.model.source
        assert isinstance(source, CollectionSource)
        owner = source.owner
        return self._push(CollectionCommand(self.session, text, object_class(owner),
                                            object_key(owner) or 0, source.prop.name,
                                            forward, backward))

    def add_element(self, value: Any = ..., key: str | None = None) -> bool:
        """Add an element to the collection on screen: a default value (then edited in
        place), an embedded object, or (asked for) the primary key of an object to link."""
        source = self.model.source
        if not isinstance(source, CollectionSource) or self._refuse_read_only():
            return False
        element = source.element
        target = (
            self.schema_of(element.object_type)
            if element.type == "object" and element.object_type is not None
            else None
        )
        if value is ... and target is not None and not target.embedded:
            if target.primary_key is None:
                self.show_message(f"{target.name} has no primary key: add it from its class "
                                  "view instead.", "info")
                return False
            pk = target.get_property(target.primary_key)
            fields = [FieldSpec("primaryKey", pk.type, False, None, target.name,
                                f"primary key of the {target.name} to add")]
            if source.prop.collection == "dictionary":
                fields.insert(0, FieldSpec("key", "string", False, self._free_key(source)))

            def submit(values: dict[str, Any]) -> bool:
                found = self.realm.object_for_primary_key(target.name, values["primaryKey"])
                if found is None:
                    self.create_panel.show_error(f"no {target.name} has that primary key")
                    return False
                return self.add_element(found, values.get("key"))

            self.create_panel.open_form(f"Add to {source.title}", fields, submit, "Add")
            self.create_dock.setWindowTitle(f"Add to {source.title}")
            self.show_create_dock()
            return True
        if value is ...:
            if target is not None:  # embedded: a new object with default values
                value = {p.name: default_value(p.type) for p in target.properties
                         if not p.optional and p.collection is None and p.type != "object"}
            else:
                value = None if element.optional or element.type == "mixed" else default_value(
                    element.type)
        kind = source.prop.collection
        if kind == "dictionary":
            key = key or self._free_key(source)
            def forward(c: Any) -> None:
                c[key] = restore_values(self.realm, value)

            def backward(c: Any) -> None:
                del c[key]
        elif kind == "set":
            if value in source.collection():
                self.show_message(f"{edit_text(value)!r} is in the set already.", "info", 3000)
                return False

            def forward(c: Any) -> None:
                c.add(value)

            def backward(c: Any) -> None:
                c.discard(value)
        else:
            def forward(c: Any) -> None:
                c.append(restore_values(self.realm, value))

            def backward(c: Any) -> None:
                del c[len(c) - 1]
        ok = self._collection_command(f"Add to {source.title}", forward, backward)
        if ok:
            self.model.expose_all()
            last = self.model.total_rows - 1
            row = last if kind == "list" else self._row_of(value, key)
            self.table.go_to_row(row, 0)
            if kind == "dictionary" and not isinstance(value, dict) and not is_object(value):
                self.table.go_to_row(row, 1)
        return ok

    def _row_of(self, value: Any, key: str | None) -> int:
        for r in range(self.model.total_rows):
            row = self.model.row_object(r)
            if key is not None and getattr(row, "key", None) == key:
                return r
            if key is None and getattr(row, "value", ...) == value:
                return r
        return self.model.total_rows - 1

    @staticmethod
    def _free_key(source: CollectionSource) -> str:
        existing = set(source.collection().keys())
        n = 1
        while f"key{n}" in existing:
            n += 1
        return f"key{n}"

    def remove_elements(self, rows: list[int]) -> bool:
        source = self.model.source
        if not isinstance(source, CollectionSource):
            return False
        items = [self.model.row_object(r) for r in sorted(rows)]
        kind = source.prop.collection
        if kind == "list":
            saved = [(r, snapshot_value(it if source.object_rows else it.value))
                     for r, it in zip(sorted(rows), items, strict=True)]

            def forward(c: Any) -> None:
                for r, _v in reversed(saved):
                    del c[r]

            def backward(c: Any) -> None:
                for r, v in saved:
                    c.insert(r, restore_values(self.realm, v))
        elif kind == "set":
            values = [it if source.object_rows else it.value for it in items]

            def forward(c: Any) -> None:
                for v in values:
                    c.discard(v)

            def backward(c: Any) -> None:
                for v in values:
                    c.add(v)
        else:
            pairs = [(it.key, snapshot_value(it.value)) for it in items]

            def forward(c: Any) -> None:
                for k, _v in pairs:
                    del c[k]

            def backward(c: Any) -> None:
                for k, v in pairs:
                    c[k] = restore_values(self.realm, v)
        return self._collection_command(f"Remove from {source.title}", forward, backward)

    def move_current(self, delta: int) -> bool:
        """Move the current item of the list on screen up (-1) or down (1)."""
        row = self.table.currentIndex().row()
        if row < 0:
            self.show_message("Select the item to move first.", "info", 3000)
            return False
        return self.move_element(row, delta)

    def move_element(self, row: int, delta: int) -> bool:
        source = self.model.source
        if not isinstance(source, CollectionSource) or not source.is_list:
            return False
        target = row + delta
        if not 0 <= target < self.model.total_rows:
            return False
        ok = self._collection_command(
            f"Move in {source.title}", lambda c: c.move(row, target), lambda c: c.move(target, row)
        )
        if ok:
            self.table.go_to_row(target)
        return ok

