"""Fixtures of the Studio's GUI tests: offscreen Qt, throwaway settings, demo realms."""

from __future__ import annotations

import os

# Before Qt is imported anywhere: the suite never needs a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

import studio.ui  # noqa: F401  (first: guards against a PySide6 6.12 refcount bug)
from studio.core import Realm
from studio.demo import build_demo_realm


@pytest.fixture(autouse=True)
def temp_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test gets its own QSettings directory: the real user settings are never read
    or written."""
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.SystemScope, str(folder))
    yield folder


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.realm"
    build_demo_realm(path)
    return path


@pytest.fixture
def demo_path(tmp_path: Path, demo_template: Path) -> Path:
    """A fresh copy of the demo realm for one test."""
    target = tmp_path / "demo.realm"
    shutil.copyfile(demo_template, target)
    return target


@pytest.fixture
def demo_realm(demo_path: Path) -> Iterator[Realm]:
    realm = Realm.open(demo_path)
    yield realm
    realm.close()


PEOPLE_SCHEMA = [
    {
        "name": "Person",
        "primaryKey": "id",
        "properties": {
            "id": "int",
            "name": {"type": "string", "indexed": True},
            "age": "int?",
            "height": "double?",
            "alive": "bool",
            "born": "date?",
            "photo": "data?",
            "oid": "objectId?",
            "uid": "uuid?",
            "money": "decimal128?",
            "anything": "mixed",
            "dog": "Dog?",
            "friends": "Person[]",
            "tags": "string<>",
            "scores": "int[]",
            "notes": "string{}",
            "owners": {"type": "linkingObjects", "objectType": "Dog", "property": "owner"},
        },
    },
    {
        "name": "Dog",
        "properties": {"name": "string", "owner": "Person?"},
    },
    {
        "name": "Address",
        "embedded": True,
        "properties": {"street": "string", "city": "string"},
    },
]


@pytest.fixture
def people_path(tmp_path: Path) -> Path:
    """A small realm with every property type: 50 people, a few dogs."""
    path = tmp_path / "people.realm"
    with Realm.open(path, schema=PEOPLE_SCHEMA) as realm, realm.write():
        people = [
            realm.create("Person", {"id": i, "name": f"person {i:02d}", "age": i % 7 or None,
                                    "alive": i % 2 == 0, "scores": [i, i + 1]})
            for i in range(50)
        ]
        people[1]["friends"].append(people[2])
        people[1]["friends"].append(people[3])
        people[1]["tags"].add("red")
        people[1]["notes"]["a"] = "first"
        for i in range(3):
            realm.create("Dog", {"name": f"dog {i}", "owner": people[i]})
    return path


@pytest.fixture
def people_realm(people_path: Path) -> Iterator[Realm]:
    realm = Realm.open(people_path)
    yield realm
    realm.close()


@pytest.fixture
def open_browser(qtbot: Any) -> Iterator[Callable[..., Any]]:
    """Open a RealmBrowser on a path; every browser is closed after the test."""
    from studio.ui.browser import RealmBrowser

    opened: list[RealmBrowser] = []

    def opener(path: Path, **kwargs: Any) -> RealmBrowser:
        browser = RealmBrowser.open(path, **kwargs)
        qtbot.addWidget(browser)
        browser.show()
        opened.append(browser)
        # Shortcuts (Ctrl+Z, Alt+Left...) only reach the active window.
        browser.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is browser)
        qtbot.waitUntil(lambda: browser.model.listening or browser.model.source is None)
        return browser

    yield opener
    for browser in opened:
        if not browser.realm.is_closed:
            browser.close()
