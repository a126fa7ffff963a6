"""The browser's status bar: the realm's path and size, the view's count, the selection."""

from __future__ import annotations

import os

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from studio.ui.formatting import format_size
from studio.ui.wording import plural


class BrowserStatus(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("browserStatus")
        self.path_label = QLabel(self)
        self.path_label.setObjectName("statusPath")
        self.size_label = QLabel(self)
        self.size_label.setObjectName("statusSize")
        self.count_label = QLabel(self)
        self.count_label.setObjectName("statusCount")
        self.selection_label = QLabel(self)
        self.selection_label.setObjectName("statusSelection")
        self.mode_label = QLabel(self)
        self.mode_label.setObjectName("statusMode")
        self.addWidget(self.path_label, 1)
        for label in (self.selection_label, self.count_label, self.size_label, self.mode_label):
            self.addPermanentWidget(label)
        self.mode_label.hide()

    def set_path(self, path: str) -> None:
        self.path_label.setText(path)
        self.path_label.setToolTip(path)
        self.update_size(path)

    def update_size(self, path: str) -> None:
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.stat(path + suffix).st_size
            except OSError:
                pass
        self.size_label.setText(format_size(total))

    def set_count(self, shown: int, of_class: int | None, noun: str) -> None:
        if of_class is not None and of_class != shown:
            self.count_label.setText(f"{shown:,} of {plural(of_class, noun.removesuffix('s'))}")
        else:
            self.count_label.setText(plural(shown, noun.removesuffix("s")))

    def set_selection(self, rows: int) -> None:
        self.selection_label.setText(f"{rows:,} selected" if rows else "")

    def set_read_only(self, read_only: bool, why: str = "") -> None:
        self.mode_label.setVisible(read_only)
        self.mode_label.setText("READ-ONLY")
        self.mode_label.setToolTip(why or "This realm is open read-only: editing is disabled.")
        self.mode_label.setStyleSheet(
            "QLabel { color: #b26a00; font-weight: bold; padding: 0 6px; }"
        )
