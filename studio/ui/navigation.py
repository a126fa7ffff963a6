"""Where the browser is, and where it has been: view specs and back/forward history.

Every navigation (choosing a class, following a link, opening a collection or the
backlinks of an object, applying a query) pushes a :class:`ViewSpec`. Back and
forward restore a spec with the row and scroll position it was left at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QObject, Signal

ViewKind = Literal["class", "collection", "backlinks"]


@dataclass(frozen=True, slots=True)
class ViewSpec:
    """What the table shows. ``class``: objects of ``class_name`` matching ``query``;
    ``collection``/``backlinks``: property ``prop`` of the object ``owner_key`` of
    ``class_name``. ``focus_key`` selects that object once shown (a followed link)."""

    kind: ViewKind
    class_name: str
    query: str = ""
    sort: tuple[str, bool] | None = None
    owner_key: int | None = None
    prop: str | None = None
    focus_key: int | None = None

    def describe(self) -> str:
        if self.kind == "class":
            text = self.class_name
            if self.query:
                text += f" where {self.query}"
            return text
        return f"{self.class_name} #{self.owner_key} > {self.prop}"


@dataclass(slots=True)
class HistoryEntry:
    spec: ViewSpec
    row: int = -1
    column: int = 0
    scroll: int = 0
    # Set while a query is being typed: later keystrokes replace this entry instead of
    # pushing one entry per keystroke.
    typing: bool = False


class History(QObject):
    """A back/forward list of views (like a web browser's)."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None, limit: int = 200) -> None:
        super().__init__(parent)
        self._entries: list[HistoryEntry] = []
        self._index = -1
        self._limit = limit

    @property
    def current(self) -> HistoryEntry | None:
        return self._entries[self._index] if self._index >= 0 else None

    def push(self, spec: ViewSpec, typing: bool = False) -> HistoryEntry:
        """A new view: forward history is dropped, as in a web browser."""
        del self._entries[self._index + 1:]
        entry = HistoryEntry(spec, typing=typing)
        self._entries.append(entry)
        if len(self._entries) > self._limit:
            del self._entries[0]
        self._index = len(self._entries) - 1
        self.changed.emit()
        return entry

    def replace_current(self, spec: ViewSpec) -> None:
        entry = self.current
        if entry is None:
            self.push(spec)
            return
        entry.spec = spec
        self.changed.emit()

    def can_go_back(self) -> bool:
        return self._index > 0

    def can_go_forward(self) -> bool:
        return self._index < len(self._entries) - 1

    def back(self) -> HistoryEntry | None:
        if not self.can_go_back():
            return None
        self._index -= 1
        self.changed.emit()
        return self._entries[self._index]

    def forward(self) -> HistoryEntry | None:
        if not self.can_go_forward():
            return None
        self._index += 1
        self.changed.emit()
        return self._entries[self._index]

    def specs(self) -> list[ViewSpec]:
        return [e.spec for e in self._entries]

    @property
    def index(self) -> int:
        return self._index
