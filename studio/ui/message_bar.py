"""Non-modal messages at the top of a window: errors, notices and one-click questions.

Nothing here blocks: a message says what happened and what to do, optionally with
buttons (e.g. "Delete 3 objects?  [Delete] [Cancel]"), and the window stays usable.

A message may carry a *topic* (what caused it, e.g. ``"edit"``): :meth:`MessageBar.clear`
takes it away when its cause is gone (a later edit succeeded, the delete was undone), so
no message outlives what it is about.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QWidget,
)

_COLOURS = {
    "info": ("#e3f2fd", "#0d47a1", "#90caf9"),
    "success": ("#e8f5e9", "#1b5e20", "#a5d6a7"),
    "warning": ("#fff8e1", "#6d4c00", "#ffe082"),
    "error": ("#ffebee", "#b71c1c", "#ef9a9a"),
    "question": ("#fff8e1", "#6d4c00", "#ffe082"),
}


class MessageBar(QFrame):
    """One message at a time; a newer message replaces the older one."""

    shown = Signal(str, str)  # level, text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        self.busy_bar = QProgressBar(self)  # an indeterminate "working" bar
        self.busy_bar.setObjectName("busyBar")
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.hide()
        layout.addWidget(self.busy_bar)
        self._buttons: list[QPushButton] = []
        self._button_row = QHBoxLayout()
        layout.addLayout(self._button_row)
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Dismiss (Esc)")
        close.setAutoRaise(True)
        close.clicked.connect(self.dismiss)
        layout.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.level = ""
        self.topic = ""
        self._return_focus: QWidget | None = None
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text() if not self.isHidden() else ""

    def show_message(
        self,
        text: str,
        level: str = "info",
        actions: list[tuple[str, Callable[[], object]]] | None = None,
        timeout_ms: int | None = None,
        topic: str = "",
        busy: bool = False,
    ) -> None:
        for button in self._buttons:
            button.deleteLater()
        self._buttons = []
        background, foreground, border = _COLOURS.get(level, _COLOURS["info"])
        self.setStyleSheet(
            f"#messageBar {{ background: {background}; border: 1px solid {border};"
            f" border-radius: 4px; }} #messageBar QLabel {{ color: {foreground}; }}"
        )
        self.level = level
        self.topic = topic
        self.label.setText(text)
        self.busy_bar.setVisible(busy)
        for label, callback in actions or []:
            button = QPushButton(label, self)
            button.clicked.connect(lambda _=False, cb=callback: self._run(cb))
            self._button_row.addWidget(button)
            self._buttons.append(button)
        self.show()
        if self._buttons:
            self._return_focus = QApplication.focusWidget()
            self._buttons[0].setDefault(True)
            self._buttons[0].setFocus()
        self._timer.stop()
        if timeout_ms:
            self._timer.start(timeout_ms)
        self.shown.emit(level, text)

    def _run(self, callback: Callable[[], object]) -> None:
        self.dismiss()
        if self._return_focus is not None:
            self._return_focus.setFocus()  # back where the keyboard user was
        self._return_focus = None
        callback()

    def ask(self, text: str, confirm: str, on_confirm: Callable[[], object],
            cancel: str = "Cancel") -> None:
        """A question with a default (first) button, answered without a modal dialog."""
        self.show_message(text, "question", [(confirm, on_confirm), (cancel, lambda: None)])

    def buttons(self) -> list[QPushButton]:
        return list(self._buttons)

    def click(self, label: str) -> None:
        """Press a button by its label (keyboard users press Enter on the default one)."""
        for button in self._buttons:
            if button.text() == label:
                button.click()
                return
        raise KeyError(label)

    def clear(self, topic: str, level: str | None = None) -> None:
        """Dismiss the message on screen if it is about ``topic`` (and of ``level``, when
        given): its cause is gone."""
        if self.isHidden() or not topic or self.topic != topic:
            return
        if level is None or self.level == level:
            self.dismiss()

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()
