"""Help > About: the Studio's version and those of what it runs on.

Bug reports need the versions of Python, Qt, PySide6 and SQLite (SQLite is what every
realm file is stored in); the dialog shows them with a button to copy them as text.
"""

from __future__ import annotations

import platform
import sqlite3

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from studio.ui.icon import application_icon
from studio.version import package_version


def version_report() -> dict[str, str]:
    """Name -> version of the Studio and of the runtime under it, in display order."""
    return {
        "Studio": package_version(),
        "Python": platform.python_version(),
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "SQLite": sqlite3.sqlite_version,
        "Platform": f"{platform.system()} {platform.machine()}",
    }


def version_text() -> str:
    return "\n".join(f"{name}: {version}" for name, version in version_report().items())


class AboutDialog(QDialog):
    """Object name ``aboutDialog``; each version label is named ``version_<Name>``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About Studio")
        layout = QVBoxLayout(self)
        header = QLabel(self)
        header.setPixmap(application_icon().pixmap(64, 64))
        header.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(header)
        blurb = QLabel("Studio: browse and edit realm files, and watch an object server "
                       "live.", self)
        blurb.setWordWrap(True)
        layout.addWidget(blurb)
        form = QFormLayout()
        self.labels: dict[str, QLabel] = {}
        for name, version in version_report().items():
            label = QLabel(version, self)
            label.setObjectName(f"version_{name}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.labels[name] = label
            form.addRow(f"{name}:", label)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = buttons.addButton("Copy versions", QDialogButtonBox.ButtonRole.ActionRole)
        copy.setObjectName("copyVersionsButton")
        copy.clicked.connect(self.copy_versions)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def copy_versions(self) -> None:
        QGuiApplication.clipboard().setText(version_text())


def show_about(parent: QWidget | None = None) -> AboutDialog:
    dialog = AboutDialog(parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one per opening, not kept
    dialog.open()
    return dialog


__all__ = ["AboutDialog", "show_about", "version_report", "version_text"]
