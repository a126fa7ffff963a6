"""The browser's sidebar: the realm's classes with live object counts.

Embedded classes are marked (their objects live inside their parents); system
classes (names starting with ``__``, as Realm's own are, and the internal tables of a
Realm Core file) are hidden unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

NameRole = Qt.ItemDataRole.UserRole + 10


def is_system_class(name: str) -> bool:
    return name.startswith("__")


class ClassList(QTreeWidget):
    """Class names and counts; choosing one (click, arrows, Enter) emits ``classChosen``."""

    classChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("classList")
        self.setColumnCount(2)
        self.setHeaderLabels(["Class", "Objects"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAllColumnsShowFocus(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self._show_system = False
        self._quiet = False
        self._embedded: set[str] = set()
        self._system: frozenset[str] = frozenset()  # system classes named by the caller
        self.currentItemChanged.connect(self._current_changed)
        self.itemActivated.connect(lambda item, _col: self._emit(item))

    def set_classes(self, classes: Iterable[tuple[str, bool]], counts: dict[str, int],
                    system: Iterable[str] = ()) -> None:
        """``classes``: (name, embedded) pairs in schema order; ``system``: names to treat
        as system classes besides those starting with ``__``."""
        current = self.current_class()
        self._system = frozenset(system)
        self._quiet = True
        try:
            self.clear()
            for name, embedded in classes:
                item = QTreeWidgetItem([name, ""])
                item.setData(0, NameRole, name)
                item.setTextAlignment(
                    1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
                if embedded:
                    self._embedded.add(name)
                    font = QFont(self.font())
                    font.setItalic(True)
                    item.setFont(0, font)
                    item.setText(0, f"{name} (embedded)")
                    item.setToolTip(0, f"{name}: embedded objects (they live inside their parent"
                                       " objects)")
                else:
                    item.setToolTip(0, name)
                self.addTopLevelItem(item)
                # (an item's hidden flag only holds once it is in the tree)
                item.setHidden(self.is_system(name) and not self._show_system)
                self.set_count(name, counts.get(name, 0))
            if current:
                self.select_class(current)
        finally:
            self._quiet = False

    def _item(self, name: str) -> QTreeWidgetItem | None:
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item is not None and item.data(0, NameRole) == name:
                return item
        return None

    def set_count(self, name: str, count: int) -> None:
        item = self._item(name)
        if item is not None:
            item.setText(1, f"{count:,}")

    def count_text(self, name: str) -> str:
        item = self._item(name)
        return item.text(1) if item is not None else ""

    def names(self, visible_only: bool = True) -> list[str]:
        out = []
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item is not None and (not visible_only or not item.isHidden()):
                out.append(str(item.data(0, NameRole)))
        return out

    def is_embedded(self, name: str) -> bool:
        return name in self._embedded

    def is_system(self, name: str) -> bool:
        return is_system_class(name) or name in self._system

    def set_show_system(self, show: bool) -> None:
        self._show_system = show
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item is not None:
                item.setHidden(self.is_system(str(item.data(0, NameRole))) and not show)

    def current_class(self) -> str | None:
        item = self.currentItem()
        return str(item.data(0, NameRole)) if item is not None else None

    def select_class(self, name: str | None) -> None:
        """Highlight a class without emitting ``classChosen`` (navigation did it)."""
        self._quiet = True
        try:
            item = self._item(name) if name else None
            if item is None:
                self.clearSelection()
                # Qt takes None (no current item); PySide6's stubs omit it.
                self.setCurrentItem(None)  # type: ignore[call-overload]
            else:
                self.setCurrentItem(item)
        finally:
            self._quiet = False

    def _current_changed(self, current: QTreeWidgetItem | None,
                         _previous: QTreeWidgetItem | None) -> None:
        if not self._quiet and current is not None:
            self._emit(current)

    def _emit(self, item: QTreeWidgetItem) -> None:
        self.classChosen.emit(str(item.data(0, NameRole)))
