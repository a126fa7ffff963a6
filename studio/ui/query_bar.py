"""The query bar: Realm Query Language applied as you type, errors shown where they are.

The text is applied after a short pause in typing (debounced), or at once on Enter.
A bad query keeps the last good result on screen and shows the error under the
bar with the offending position underlined, in the bar itself and in the message.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QInputMethodEvent, QKeyEvent, QTextCharFormat
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

DEBOUNCE_MS = 250


class QueryLineEdit(QLineEdit):
    """The line edit people type queries into (object name ``queryBar``)."""

    queryChanged = Signal(str)  # after the debounce pause
    querySubmitted = Signal(str)  # Enter: apply now

    def __init__(self, parent: QWidget | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.setObjectName("queryBar")
        self.setClearButtonEnabled(True)
        self.setPlaceholderText("Filter with a query, e.g.  age > 30 AND name BEGINSWITH[c] 'a'"
                                "   (Ctrl+F)")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._emit_changed)
        self.textEdited.connect(lambda _text: self._timer.start())
        self.returnPressed.connect(self._submit)
        self.error_position: int | None = None

    def _emit_changed(self) -> None:
        self.queryChanged.emit(self.text().strip())

    def _submit(self) -> None:
        self._timer.stop()
        self.querySubmitted.emit(self.text().strip())

    def submit(self) -> None:
        """Apply the text now, as Enter does."""
        self._submit()

    def set_query(self, text: str) -> None:
        """Show a query without applying it (navigation restored it)."""
        self._timer.stop()
        if text != self.text():
            self.setText(text)
        self.clear_error()

    @property
    def pending(self) -> bool:
        return self._timer.isActive()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            self._submit()
            return
        super().keyPressEvent(event)

    def underline(self, start: int, length: int) -> None:
        """Underline part of the text in red (input-method formatting: the text itself is
        not changed, so typing goes on as usual)."""
        fmt = QTextCharFormat()
        fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        fmt.setUnderlineColor(QColor("#d32f2f"))
        fmt.setForeground(QColor("#d32f2f"))
        attrs = [QInputMethodEvent.Attribute(
            QInputMethodEvent.AttributeType.TextFormat, start - self.cursorPosition(), length, fmt
        )]
        QCoreApplication.sendEvent(self, QInputMethodEvent("", attrs))

    def show_error(self, position: int) -> None:
        self.error_position = position
        text = self.text()
        start = max(0, min(position, len(text)))
        length = max(1, len(text) - start) if start < len(text) else 0
        self.underline(start, length)
        self.setProperty("invalid", True)
        self.setStyleSheet("QLineEdit { border: 1px solid #d32f2f; }")

    def clear_error(self) -> None:
        if self.error_position is None:
            return
        self.error_position = None
        self.underline(0, 0)
        self.setProperty("invalid", False)
        self.setStyleSheet("")


class QueryBar(QWidget):
    """The query line edit and, under it, the error of the last query (if any)."""

    def __init__(self, parent: QWidget | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        self.edit = QueryLineEdit(self, debounce_ms)
        self._row.addWidget(self.edit, 1)
        layout.addLayout(self._row)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("queryError")
        self.error_label.setTextFormat(Qt.TextFormat.RichText)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("QLabel { color: #d32f2f; }")
        self.error_label.hide()
        layout.addWidget(self.error_label)
        self.setFocusProxy(self.edit)

    def add_tool(self, widget: QWidget) -> None:
        """A widget after the line edit (the history button)."""
        self._row.addWidget(widget)

    def show_error(self, message: str, position: int) -> None:
        query = self.edit.text()
        pos = max(0, min(position, len(query)))
        before = html.escape(query[:pos])
        bad = html.escape(query[pos:pos + 1] or " ")
        after = html.escape(query[pos + 1:])
        self.error_label.setText(
            f"<code>{before}<span style='text-decoration: underline; background:#ffcdd2;"
            f" color:#b71c1c'>{bad}</span>{after}</code><br>"
            f"{html.escape(message)} (position {pos})"
        )
        self.error_label.show()
        self.edit.show_error(pos)

    def clear_error(self) -> None:
        self.error_label.hide()
        self.error_label.clear()
        self.edit.clear_error()

    @property
    def error_text(self) -> str:
        return "" if self.error_label.isHidden() else self.error_label.text()

    def setEnabled(self, enabled: bool) -> None:
        super().setEnabled(enabled)
        self.edit.setPlaceholderText(
            "Filter with a query, e.g.  age > 30 AND name BEGINSWITH[c] 'a'   (Ctrl+F)"
            if enabled else "Queries apply to classes; this view is a collection"
        )
