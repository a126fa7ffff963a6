"""The window icon and Help > About (versions of Python, Qt, PySide6 and SQLite)."""

from __future__ import annotations

import platform
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import PySide6
import pytest
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from studio import resources
from studio.ui.about import AboutDialog, version_report
from studio.ui.app import StudioWindows, ensure_application
from studio.ui.icon import application_icon
from studio.version import package_version


@pytest.fixture
def windows(tmp_path: Path, qtbot: Any) -> Iterator[StudioWindows]:
    manager = StudioWindows(demo_path=tmp_path / "appdata" / "demo.realm")
    yield manager
    manager.close_all()


def _distinct_colours(image: QImage) -> int:
    step = max(1, image.width() // 32)
    return len({image.pixel(x, y) for x in range(0, image.width(), step)
                for y in range(0, image.height(), step)})


def test_the_application_icon_holds_every_size_of_the_drawing(qtbot: Any) -> None:
    icon = application_icon()
    sizes = sorted(s.width() for s in icon.availableSizes())
    assert sizes == list(resources.ICON_SIZES)
    image = icon.pixmap(64, 64).toImage()
    assert (image.width(), image.height()) == (64, 64)
    assert _distinct_colours(image) >= 4  # a picture, not a blank square


def test_the_application_sets_the_icon_on_every_window(windows: StudioWindows, qtbot: Any
                                                        ) -> None:
    app = ensure_application()
    assert sorted(s.width() for s in app.windowIcon().availableSizes()) == list(
        resources.ICON_SIZES)
    greeting = windows.show_greeting()
    assert not greeting.windowIcon().isNull()
    assert greeting.windowIcon().cacheKey() == QApplication.windowIcon().cacheKey()


def test_the_about_dialog_shows_the_runtime_versions(qtbot: Any) -> None:
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    shown = {name: label.text() for name, label in dialog.labels.items()}
    assert shown["Studio"] == package_version()
    assert shown["Python"] == platform.python_version()
    assert shown["Qt"] == qVersion()
    assert shown["PySide6"] == PySide6.__version__
    assert shown["SQLite"] == sqlite3.sqlite_version
    assert dialog.findChild(type(dialog.labels["Qt"]), "version_SQLite") is not None
    dialog.copy_versions()
    copied = QGuiApplication.clipboard().text()
    assert f"SQLite: {sqlite3.sqlite_version}" in copied
    assert copied.splitlines()[0] == f"Studio: {package_version()}"
    assert list(version_report()) == ["Studio", "Python", "Qt", "PySide6", "SQLite",
                                      "Platform"]


def test_help_about_in_the_browser_opens_the_dialog(windows: StudioWindows, demo_path: Path,
                                                    qtbot: Any) -> None:
    browser = windows.open_path(demo_path)
    assert browser is not None
    help_menu = next(a.menu() for a in browser.menuBar().actions() if a.text() == "&Help")
    (about,) = [a for a in help_menu.actions() if a.objectName() == "aboutAction"]
    about.trigger()
    dialog = browser.findChild(AboutDialog, "aboutDialog")
    assert dialog is not None and dialog.isVisible()
    assert dialog.labels["PySide6"].text() == PySide6.__version__
    dialog.close()


def test_the_greeting_window_has_an_about_button(windows: StudioWindows, qtbot: Any) -> None:
    greeting = windows.show_greeting()
    qtbot.mouseClick(greeting.about_button, Qt.MouseButton.LeftButton)
    dialog = greeting.findChild(AboutDialog, "aboutDialog")
    assert dialog is not None and dialog.isVisible()
    dialog.close()
