"""The application: greeting window, recent files, several realms, creating realms, the
demo, errors when opening, and ``--screenshot``."""

from __future__ import annotations

import errno
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from studio.core import FileFormatError
from studio.resources import read_text
from studio.ui import errors
from studio.ui.app import StudioWindows, run
from studio.ui.recent import RecentFiles, settings


@pytest.fixture
def windows(tmp_path: Path, qtbot: Any) -> Iterator[StudioWindows]:
    manager = StudioWindows(demo_path=tmp_path / "appdata" / "demo.realm")
    yield manager
    manager.close_all()


def test_settings_are_the_temporary_ones(temp_settings: Path) -> None:
    assert settings().fileName().startswith(str(temp_settings))


def test_greeting_window_lists_recent_files(windows: StudioWindows, demo_path: Path,
                                            tmp_path: Path, qtbot: Any) -> None:
    gone = tmp_path / "gone.realm"
    recent = RecentFiles()
    recent.add(gone)
    recent.add(demo_path)
    greeting = windows.show_greeting()
    assert greeting.objectName() == "greetingWindow"
    assert greeting.findChild(QWidget, "recentFiles") is greeting.recent_list
    items = [greeting.recent_list.item(i) for i in range(greeting.recent_list.count())]
    assert "demo.realm" in items[0].text() and "(missing)" not in items[0].text()
    assert "(missing)" in items[1].text()
    assert greeting.clear_missing_button.isEnabled()
    greeting.recent_list.setCurrentRow(1)
    greeting.recent_list.itemActivated.emit(items[1])  # a missing file: a message
    assert "no longer exists" in greeting.message_bar.text
    qtbot.keyClick(greeting.recent_list, Qt.Key.Key_Delete)
    assert RecentFiles().paths() == [str(demo_path.resolve())]
    greeting.recent_list.itemActivated.emit(greeting.recent_list.item(0))
    assert len(windows.browsers) == 1
    assert windows.browsers[0].objectName() == "realmBrowser"


def test_several_realms_open_at_once(windows: StudioWindows, demo_path: Path,
                                     people_path: Path) -> None:
    first, second = windows.open_paths([str(demo_path), str(people_path)])
    assert first is not second and len(windows.browsers) == 2
    assert windows.open_path(demo_path) is first  # already open: the same window
    assert RecentFiles().paths()[:2] == [str(people_path.resolve()), str(demo_path.resolve())]
    first.close()
    assert windows.browsers == [second]


def test_open_with_class_and_query(windows: StudioWindows, demo_path: Path) -> None:
    browser = windows.open_path(demo_path, class_name="Book", query="pages > 800")
    assert browser is not None
    assert browser.current_spec.class_name == "Book"
    assert browser.model.total_rows == len(browser.realm.objects("Book").filtered("pages > 800"))
    browser = windows.open_path(demo_path, class_name="Nope")
    assert "no class 'Nope'" in browser.message_bar.text


def test_create_empty_realm_then_add_a_class(windows: StudioWindows, tmp_path: Path) -> None:
    browser = windows.create_realm(tmp_path / "new.realm")
    assert browser is not None
    assert browser.class_list.names() == []
    assert "Add class" in browser.message_bar.text
    dialog = browser.show_add_class()
    dialog.name.setText("Note")
    dialog.try_accept()
    assert browser.class_list.names() == ["Note"]


def test_create_realm_from_schema_files(windows: StudioWindows, tmp_path: Path) -> None:
    demo_schema = tmp_path / "demo_schema.json"
    demo_schema.write_text(read_text("demo_schema.json"), encoding="utf-8")
    browser = windows.create_realm(tmp_path / "library.realm", demo_schema)
    assert browser is not None and "Book" in browser.class_list.names()
    plain = tmp_path / "schema.json"
    plain.write_text(json.dumps([{"name": "Dog", "properties": {"name": "string"}}]))
    browser = windows.create_realm(tmp_path / "dogs.realm", plain)
    assert browser is not None and browser.class_list.names() == ["Dog"]


def test_create_realm_refuses_to_overwrite_and_reports_bad_schema(
        windows: StudioWindows, demo_path: Path, tmp_path: Path) -> None:
    greeting = windows.show_greeting()
    assert windows.create_realm(demo_path) is None
    assert "exists already" in greeting.message_bar.text
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "X", "properties": {"y": "Nope"}}]))
    assert windows.create_realm(tmp_path / "x.realm", bad) is None
    assert "Nope" in greeting.message_bar.text
    assert not (tmp_path / "x.realm").exists()


def test_open_demo(windows: StudioWindows) -> None:
    browser = windows.open_demo()
    assert browser is not None
    assert browser.class_list.count_text("Book") == "150"
    assert windows.demo_path is not None and windows.demo_path.exists()
    assert windows.open_demo() is browser


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"hello, this is not a database at all", "not a realm file"),
        (b"\x00" * 16 + b"T-DB" + b"\x00" * 100, "Realm Core file"),
    ],
)
def test_open_errors_are_messages(windows: StudioWindows, tmp_path: Path, content: bytes,
                                  expected: str) -> None:
    greeting = windows.show_greeting()
    path = tmp_path / "x.realm"
    path.write_bytes(content)
    assert windows.open_path(path) is None
    assert expected in greeting.message_bar.text
    assert greeting.message_bar.level == "error"
    assert windows.open_path(tmp_path / "missing.realm") is None
    assert "does not exist" in greeting.message_bar.text


def test_error_descriptions_say_what_to_do() -> None:
    assert "disk is full" in errors.describe(OSError(errno.ENOSPC, "No space left on device"))
    assert "disk is full" in errors.describe(sqlite3.OperationalError("database or disk is full"))
    assert "locked" in errors.describe(sqlite3.OperationalError("database is locked"))
    assert "read-only" in errors.describe(PermissionError(13, "Permission denied"), "/x")
    assert "Choose a realm file" in errors.describe(FileFormatError("x is not a realm file."))


def test_screenshot_of_the_browser(demo_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "browser.png"
    assert run([str(demo_path)], class_name="Book", screenshot=out) == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
    # not a blank picture: many different colours
    colours = {image.pixel(x, y) for x in range(0, 1280, 37) for y in range(0, 800, 29)}
    assert len(colours) > 5


def test_screenshot_of_the_greeting_window(tmp_path: Path) -> None:
    out = tmp_path / "greeting.png"
    assert run([], screenshot=out) == 0
    assert QImage(str(out)).width() == 1280


def test_screenshot_of_a_bad_file_fails(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.realm"
    bad.write_text("nope")
    assert run([str(bad)], screenshot=tmp_path / "x.png") == 1
    assert "not a realm file" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_screenshot_from_the_command_line(demo_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.png"
    result = subprocess.run(
        [sys.executable, "-m", "studio.ui", str(demo_path), "--class", "Loan", "--query",
         "renewals > 1", "--screenshot", str(out)],
        capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    assert result.returncode == 0, result.stderr
    assert QImage(str(out)).height() == 800


def test_event_loop_runs_through_qasync(demo_path: Path, tmp_path: Path) -> None:
    """``run`` without --screenshot: windows on qasync's loop until the app quits."""
    script = f"""
import asyncio, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from studio.ui.app import ensure_application, run
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, {str(tmp_path)!r})
app = ensure_application()
seen = []

async def look():
    await asyncio.sleep(0.2)  # asyncio works inside the Qt loop
    seen.extend(w.objectName() for w in QApplication.topLevelWidgets() if w.isVisible())
    app.quit()

QTimer.singleShot(100, lambda: asyncio.ensure_future(look()))
code = run([{str(demo_path)!r}])
print(code, sorted(set(seen)))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 ['realmBrowser']"
