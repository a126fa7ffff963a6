"""Window shortcuts that a text field must not swallow.

A QLineEdit claims some Ctrl+letter keys for itself before the window's actions see
them: on X11 Qt binds the emacs keys (Ctrl+E: end of line, Ctrl+K, Ctrl+U ...), so
Ctrl+E (export) did nothing while the query bar had the focus. The guard hands every
key bound to one of the window's enabled actions back to the window, except the keys
that edit the field's own text (undo, redo, copy, paste ...).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QWidget

# What a text field keeps: its own undo and redo, clipboard and selection keys.
TEXT_KEYS = frozenset({"Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+Y", "Ctrl+C", "Ctrl+V", "Ctrl+X",
                       "Ctrl+A"})


class ShortcutGuard(QObject):
    """Installed on text fields of ``window``: its action shortcuts win over the field."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window

    def guard(self, *fields: QWidget) -> None:
        for field in fields:
            field.installEventFilter(self)

    def window_keys(self) -> set[str]:
        keys: set[str] = set()
        for action in self._window.actions():
            if action.isEnabled():
                keys.update(s.toString() for s in action.shortcuts())
        return keys - TEXT_KEYS

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            pressed = QKeySequence(event.keyCombination()).toString()
            if pressed and pressed in self.window_keys():
                event.ignore()  # not the field's: the window's shortcut fires
                return True
        return super().eventFilter(watched, event)
