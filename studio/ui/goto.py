"""Go to a row (Ctrl+G, ``goToDialog``): by the row number the table shows, or by the
primary key of an object, typed as the key's type. The row is scrolled to and
selected; what cannot be found is said in the dialog, which stays open to correct it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from studio.ui import formatting as fmt
from studio.ui.table_model import ObjectTableModel

if TYPE_CHECKING:
    from studio.ui.browser import RealmBrowser

ROW, PRIMARY_KEY = "row", "primaryKey"


class GoToError(ValueError):
    """What the user typed leads nowhere; the text says why and what to type instead."""


def row_for_number(model: ObjectTableModel, text: str) -> int:
    """The row whose number (as the table's row header shows it) is ``text``."""
    total = model.total_rows
    if total == 0:
        raise GoToError("This view has no rows.")
    span = f"0 to {total - 1:,}"
    try:
        row = int(text.strip().replace(",", "").replace("_", ""))
    except ValueError:
        raise GoToError(f"Type a row number ({span}).") from None
    if not 0 <= row < total:
        raise GoToError(f"There is no row {row:,}: this view has {total:,} "
                        f"row{'s' if total != 1 else ''} ({span}).")
    return row


def primary_key_property(model: ObjectTableModel) -> Any:
    """The primary key property of the view's objects, or None (no objects, no key)."""
    source = model.source
    schema = source.object_schema if source is not None else None
    if schema is None or schema.primary_key is None:
        return None
    return schema.get_property(schema.primary_key)


def row_for_primary_key(realm: Any, model: ObjectTableModel, text: str) -> int:
    """The row of the object whose primary key is ``text`` (read as the key's type)."""
    pk = primary_key_property(model)
    source = model.source
    if pk is None or source is None or source.object_schema is None:
        raise GoToError("The rows of this view have no primary key: go to a row number.")
    class_name = source.object_schema.name
    try:
        value = fmt.parse_value(pk.type, text.strip() if pk.type != "string" else text,
                                pk.optional)
    except ValueError as exc:
        raise GoToError(f"{text!r} is not a valid {pk.type} (the type of {pk.name}): "
                        f"{exc}") from None
    obj = realm.object_for_primary_key(class_name, value)
    if obj is None:
        raise GoToError(f"No {class_name} has the {pk.name} {fmt.scalar_text(value)}.")
    key = fmt.object_key(obj)
    row = model.find_row(key) if key is not None else -1
    if row < 0:
        raise GoToError(f"The {class_name} {fmt.scalar_text(value)} is not in this view "
                        "(the query hides it): clear the query to go to it.")
    return row


class GoToDialog(QDialog):
    """Asks for a row number or a primary key; :meth:`go` moves the table there."""

    def __init__(self, browser: RealmBrowser) -> None:
        super().__init__(browser)
        self.browser = browser
        self.setObjectName("goToDialog")
        self.setWindowTitle("Go to")
        layout = QVBoxLayout(self)
        self.mode = QComboBox(self)
        self.mode.setObjectName("goToMode")
        layout.addWidget(self.mode)
        self.input = QLineEdit(self)
        self.input.setObjectName("goToInput")
        layout.addWidget(self.input)
        self.error = QLabel(self)
        self.error.setObjectName("goToError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("QLabel { color: #d32f2f; }")
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Go")
        ok.setObjectName("goToButton")
        buttons.accepted.connect(self.go)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.mode.currentIndexChanged.connect(lambda _i: self._mode_changed())
        self.input.textEdited.connect(lambda _t: self.error.hide())

    def prepare(self) -> None:
        """Offer what the view on screen allows (its primary key, if it has one)."""
        model = self.browser.model
        pk = primary_key_property(model)
        previous = self.mode.currentData()
        self.mode.blockSignals(True)
        self.mode.clear()
        self.mode.addItem(f"Row number (0 to {max(model.total_rows - 1, 0):,})", ROW)
        if pk is not None:
            self.mode.addItem(f"Primary key ({pk.name}: {fmt.type_label(pk)})", PRIMARY_KEY)
        index = self.mode.findData(previous)
        self.mode.setCurrentIndex(index if index >= 0 else self.mode.count() - 1)
        self.mode.blockSignals(False)
        self._mode_changed()
        self.error.hide()
        self.input.selectAll()
        self.input.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _mode_changed(self) -> None:
        self.error.hide()
        self.input.setPlaceholderText("a row number" if self.mode.currentData() == ROW
                                      else "the primary key")

    def set_mode(self, mode: str) -> None:
        index = self.mode.findData(mode)
        if index < 0:
            raise ValueError(f"this view cannot go to a {mode}")
        self.mode.setCurrentIndex(index)

    def go(self) -> bool:
        """Go to what is typed: True (and the dialog closes) when the row was found."""
        model = self.browser.model
        try:
            if self.mode.currentData() == PRIMARY_KEY:
                row = row_for_primary_key(self.browser.realm, model, self.input.text())
            else:
                row = row_for_number(model, self.input.text())
        except GoToError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return False
        self.browser.table.go_to_row(row)
        self.accept()
        self.browser.table.setFocus()
        return True


def install_goto(browser: RealmBrowser) -> QAction:
    """The Ctrl+G action of a browser window; its dialog is ``browser.goto_dialog``."""
    dialog = GoToDialog(browser)
    browser.goto_dialog = dialog

    def show() -> None:
        dialog.prepare()
        dialog.open()

    action = QAction("Go to row or key…", browser)
    action.setObjectName("goToAction")
    action.setShortcut(QKeySequence("Ctrl+G"))
    action.setToolTip("Go to a row number or a primary key (Ctrl+G)")
    action.triggered.connect(lambda _c=False: show())
    browser.addAction(action)
    return action
