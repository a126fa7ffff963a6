"""What the browser does besides editing: the cell menu, copying to the clipboard,
export and CSV import, model export, opening files, schema additions.

A mixin of :class:`studio.ui.browser.RealmBrowser` on top of
:class:`~studio.ui.browser_edits.BrowserEdits` (the undoable edits it offers in its
menus). Schema changes go through the realm, not the undo stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPoint
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMenu

from studio.core.csv_import import CsvImportError, import_csv
from studio.ui import errors
from studio.ui.browser_edits import BrowserEdits
from studio.ui.codegen import EXTENSIONS, LANGUAGES, generate
from studio.ui.delegates import is_followable
from studio.ui.dialogs import AddClassDialog, AddPropertyDialog
from studio.ui.formatting import edit_text, is_object
from studio.ui.sources import CollectionSource, ResultsSource
from studio.ui.table_model import KindRole, PropertyRole, ValueRole, cell_data
from studio.ui.transfer import Cancelled, Progress, copy_text, export_view
from studio.ui.wording import plural

if TYPE_CHECKING:
    from PySide6.QtWidgets import QDialog


class BrowserActions(BrowserEdits):
    """Menus, clipboard, files and schema actions of the browser window."""

    _dialog: QDialog | None = None  # the open schema dialog, kept from garbage collection

    # -- menu, clipboard ---------------------------------------------------------------------------

    def show_cell_menu(self, index: QModelIndex, global_pos: QPoint | None = None) -> QMenu:
        menu = QMenu(self)
        menu.setObjectName("cellMenu")
        source = self.model.source
        column = self.model.column(index)
        editable = index.isValid() and self.model.is_editable(index)
        writable = source is not None and column is not None and source.can_edit(column)
        kind = cell_data(index, KindRole) if index.isValid() else None
        if index.isValid() and is_followable(index):
            menu.addAction("Open" if kind in ("collection", "backlinks") else "Follow link",
                           lambda: self.follow(index))
        if editable and kind not in ("bool",):
            menu.addAction("Edit", lambda: self.table.edit(index))
        prop = cell_data(index, PropertyRole) if index.isValid() else None
        nullable = prop is not None and (prop.optional or prop.type in ("mixed", "object"))
        if writable and nullable and kind not in ("collection", "backlinks"):
            menu.addAction("Set to null", lambda: self.set_null(index))
        if kind == "data":
            menu.addAction("Save data to file…", lambda: self._save_data_dialog(index))
            if writable:
                menu.addAction("Load data from file…", lambda: self._load_data_dialog(index))
        if index.isValid():
            menu.addAction("Copy value", lambda: self.copy_value(index))
        menu.addSeparator()
        menu.addAction("Copy rows as JSON", lambda: self.copy_rows("json"))
        menu.addAction("Copy rows as CSV", lambda: self.copy_rows("csv"))
        if not self.read_only:
            menu.addSeparator()
            if isinstance(source, CollectionSource):
                menu.addAction("Add item", self.add_element)
                menu.addAction("Remove selected items", self.delete_selected)
                if source.is_list and index.isValid():
                    menu.addAction("Move up", lambda: self.move_element(index.row(), -1))
                    menu.addAction("Move down", lambda: self.move_element(index.row(), 1))
            elif isinstance(source, ResultsSource):
                menu.addAction("New object", self.new_object)
                menu.addAction("Delete selected objects", self.delete_selected)
        if global_pos is None:
            rect = self.table.visualRect(index)
            global_pos = self.table.viewport().mapToGlobal(rect.bottomLeft())
        menu.popup(global_pos)
        return menu

    def _save_data_dialog(self, index: QModelIndex) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save data", "data.bin")
        if path:
            self.save_data(index, path)

    def _load_data_dialog(self, index: QModelIndex) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load data")
        if path:
            self.load_data(index, path)

    def copy_value(self, index: QModelIndex) -> None:
        value = cell_data(index, ValueRole)
        shown = is_object(value) or (
            hasattr(value, "__len__") and not isinstance(value, str | bytes)
        )  # links and collections copy as shown; values as they are typed in
        text = cell_data(index) if shown else edit_text(value)
        QGuiApplication.clipboard().setText(str(text))

    def copy_rows(self, fmt: str) -> str:
        source = self.model.source
        rows = [self.model.row_object(r) for r in self.table.selected_rows()]
        rows = [r for r in rows if r is not None]
        if source is None or not rows:
            self.show_message("Select rows to copy first.", "info", 3000)
            return ""
        try:
            text = copy_text(source, rows, fmt)
        except Exception as exc:
            self.report_error(exc)
            return ""
        QGuiApplication.clipboard().setText(text)
        self.show_message(f"Copied {len(rows)} row{'s' if len(rows) != 1 else ''} as "
                          f"{fmt.upper()}.", "success", 3000)
        return text

    # -- files ------------------------------------------------------------------------------

    def export_dialog(self, fmt: str) -> None:
        source = self.model.source
        if source is None:
            return
        name = source.title.replace(".", "_")
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export as {fmt.upper()}", f"{name}.{fmt}",
            f"{fmt.upper()} files (*.{fmt})")
        if path:
            self.export_to(path, fmt)

    def export_to(self, path: str, fmt: str, cancel_after: int | None = None) -> int | None:
        """Export the view (class, query result or collection); None when cancelled."""
        source = self.model.source
        if source is None:
            return None
        progress = Progress(self, f"Exporting {source.title}…", self.model.total_rows)
        progress.cancel_after = cancel_after
        try:
            count = export_view(source, path, fmt, progress)
        except Cancelled:
            self.show_message("Export cancelled; no file was written.", "info", 4000)
            return None
        except Exception as exc:
            self.report_error(exc)
            return None
        finally:
            progress.close()
        self.show_message(f"Exported {plural(count, 'row')} to {path}.", "success", 5000)
        return count

    def import_dialog(self) -> None:
        if self._refuse_read_only():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import CSV", "",
                                              "CSV files (*.csv);;All files (*)")
        if path:
            spec = self.current_spec
            self.import_csv_file(path, spec.class_name if spec is not None and
                                 spec.kind == "class" else None)

    def import_csv_file(self, path: str, class_name: str | None = None,
                        cancel_after: int | None = None) -> int | None:
        """Import a CSV file into ``class_name`` (a new class named after the file when
        None). Returns the rows imported; None on error or cancel (rows of batches done
        before a cancel stay)."""
        if self._refuse_read_only():
            return None
        name = class_name or Path(path).stem
        try:
            size = Path(path).stat().st_size
        except OSError as exc:
            self.report_error(exc)
            return None
        progress = Progress(self, f"Importing {Path(path).name} into {name}…", size)
        progress.cancel_after = cancel_after
        done = 0

        def tick(rows: int, read: int, total: int) -> None:
            nonlocal done
            done = rows
            progress.update(read, total)

        try:
            result = import_csv(self.realm, name, path, progress=tick)
        except Cancelled:
            self.show_message(f"Import cancelled: {plural(done, 'row')} "
                              f"{'was' if done == 1 else 'were'} imported before.", "info")
            return None
        except CsvImportError as exc:
            self.show_message(f"Import failed: {exc}", "error")
            return None
        except Exception as exc:
            self.report_error(exc)
            return None
        finally:
            progress.close()
            self.refresh_classes()
        self.show_message(f"Imported {plural(result.rows, 'row')} into {name}.", "success", 5000)
        from studio.ui.navigation import ViewSpec

        self.navigate(ViewSpec("class", name))
        return result.rows

    def export_models_dialog(self, language: str) -> None:
        ext = EXTENSIONS[language]
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export models as {LANGUAGES[language]}", f"models.{ext}")
        if path:
            self.export_models(path, language)

    def export_models(self, path: str, language: str) -> bool:
        try:
            Path(path).write_text(generate(self.realm.schema, language), encoding="utf-8")
        except Exception as exc:
            self.report_error(exc)
            return False
        self.show_message(f"Wrote {LANGUAGES[language]} models to {path}.", "success", 4000)
        return True

    def open_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open realm files", "",
                                                "Realm files (*.realm);;All files (*)")
        if not paths:
            return
        if self.manager is not None:
            self.manager.open_paths(paths)
        else:
            self.show_message("Opening other files needs the Studio application.", "info")

    # -- schema ------------------------------------------------------------------------------------

    def show_add_class(self) -> AddClassDialog | None:
        if self._refuse_read_only():
            return None
        dialog = AddClassDialog(self, self.add_class)
        self._dialog = dialog
        dialog.show()
        return dialog

    def add_class(self, spec: dict[str, Any]) -> str | None:
        """Add a class (Realm's JSON form); returns an error text, or None when added."""
        if self.schema_of(spec.get("name", "")) is not None:
            return f"a class named {spec.get('name')!r} exists already"
        problem = self._update_schema(spec)
        if problem is None:
            from studio.ui.navigation import ViewSpec

            self.navigate(ViewSpec("class", spec["name"]))
        return problem

    def show_add_property(self) -> AddPropertyDialog | None:
        if self._refuse_read_only():
            return None
        source = self.model.source
        schema = source.object_schema if source is not None else None
        if schema is None:
            self.show_message("Show a class first: properties are added to the class on "
                              "screen.", "info")
            return None
        dialog = AddPropertyDialog(self, schema, self.realm.schema, self.add_property)
        self._dialog = dialog
        dialog.show()
        return dialog

    def add_property(self, class_spec: dict[str, Any]) -> str | None:
        """Replace a class by the same class with one more property (additive)."""
        return self._update_schema(class_spec)

    def _update_schema(self, class_spec: dict[str, Any]) -> str | None:
        # The other classes go along unchanged: update_schema checks links against the
        # classes it is given, so a link to an existing class needs that class listed.
        others = [s for s in self.realm.schema if s.name != class_spec.get("name")]
        try:
            with self.realm.write():
                self.realm.update_schema([*others, class_spec])
        except Exception as exc:
            return errors.describe(exc, self.realm.path)
        self.refresh_classes()
        return None
