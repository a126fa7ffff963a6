"""The Studio's settings (QSettings) and its list of recently opened realm files.

Settings are always an INI file in the user's scope, so tests can point
``QSettings.setPath`` at a temporary folder and never touch the real ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "Studio"
APPLICATION = "Studio"
RECENT_KEY = "recentFiles"
MAX_RECENT = 15


def settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


@dataclass(frozen=True, slots=True)
class RecentFile:
    path: str
    exists: bool

    @property
    def name(self) -> str:
        return Path(self.path).name


class RecentFiles:
    """Most recent first; opening a file again moves it to the top.

    Several Studio processes share the list: every change re-reads the file first and
    changes only its own entry, so one process's save never drops another's files.
    """

    def __init__(self, store: QSettings | None = None, limit: int = MAX_RECENT) -> None:
        self._store = store or settings()
        self.limit = limit

    def paths(self) -> list[str]:
        self._store.sync()  # what other processes saved since this one last looked
        value = self._store.value(RECENT_KEY, [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list
            value = [value]
        if not isinstance(value, Iterable):  # None when nothing (or an empty list) is stored
            return []
        return [str(p) for p in value if p]

    def entries(self) -> list[RecentFile]:
        return [RecentFile(p, os.path.isfile(p)) for p in self.paths()]

    def add(self, path: str | os.PathLike[str]) -> None:
        full = str(Path(path).resolve())
        paths = [full] + [p for p in self.paths() if p != full]
        self._store.setValue(RECENT_KEY, paths[: self.limit])
        self._store.sync()

    def remove(self, path: str) -> None:
        self._store.setValue(RECENT_KEY, [p for p in self.paths() if p != path])
        self._store.sync()

    def remove_missing(self) -> int:
        entries = self.entries()
        self._store.setValue(RECENT_KEY, [e.path for e in entries if e.exists])
        self._store.sync()
        return sum(1 for e in entries if not e.exists)

    def clear(self) -> None:
        self._store.remove(RECENT_KEY)
        self._store.sync()
