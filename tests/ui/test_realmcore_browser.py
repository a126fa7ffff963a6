"""Genuine Realm Core files in the Studio: the normal browser, read-only, with a banner
naming the format and "Convert to editable copy…" (a worker thread, then a new window)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from studio.realmfile.browse import QUERY_NOTE, CoreFileRealm
from studio.ui.app import StudioWindows, run
from studio.ui.browser import RealmBrowser
from studio.ui.corefile_browser import RealmCoreBrowser, default_destination
from studio.ui.navigation import ViewSpec
from studio.ui.recent import RecentFiles
from studio.ui.sources import BacklinkSource, CollectionSource
from studio.ui.table_model import ValueRole, cell_data

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "realm-corpus"
ASSET = CORPUS / "studio__asset_file_2024-03-26_154b6ff3.realm"
BIG = CORPUS / "rc__test_upgrade_database_1000_24.realm"
FAMILY = CORPUS / "js__packages_realm-tools_samples_default.realm"
ENCRYPTED = CORPUS / "rc__0.98.0-alltypes-default-encrypted.realm"
TOO_OLD = CORPUS / "studio__asset_file_2019-12-17_6dce36d5.realm"
ASSET_COUNTS = {"Cat": 10, "Owner": 11, "Dog": 2, "DogPrimaryKey": 0}

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/realm-corpus is missing")


@pytest.fixture
def windows(tmp_path: Path, qtbot: Any) -> Iterator[StudioWindows]:
    manager = StudioWindows(demo_path=tmp_path / "appdata" / "demo.realm")
    yield manager
    manager.close_all()


def counts(browser: RealmBrowser) -> dict[str, int]:
    return {n: int(browser.class_list.count_text(n).replace(",", ""))
            for n in browser.class_list.names()}


def text_at(browser: RealmBrowser, row: int, column: str) -> str:
    model = browser.model
    return str(model.data(model.index(row, model.column_named(column))))


def test_a_genuine_file_opens_read_only_with_a_banner(open_browser: Callable[..., Any]) -> None:
    browser = open_browser(ASSET)
    assert isinstance(browser, RealmCoreBrowser)
    assert browser.objectName() == "realmBrowser"
    # the class list: SDK names and counts; the internal table behind the system toggle
    assert counts(browser) == ASSET_COUNTS
    assert "metadata" not in browser.class_list.names()
    browser.system_toggle.setChecked(True)
    assert browser.class_list.names()[0] == "metadata"
    assert browser.class_list.count_text("metadata") == "1"
    browser.system_toggle.setChecked(False)
    # the banner: non-modal, above the table, naming the format, with the action
    banner = browser.banner
    assert banner.isVisible() and banner.text == "Realm Core file, format 24, read-only"
    assert banner.convert_button.text() == "Convert to editable copy…"
    assert banner.convert_button.isEnabled() and not banner.progress.isVisible()
    assert banner.mapTo(browser, banner.rect().topLeft()).y() < browser.table.mapTo(
        browser, browser.table.rect().topLeft()).y()
    # values
    assert browser.current_spec == ViewSpec("class", "Cat")
    assert browser.show_class("Dog")
    assert [text_at(browser, r, "name") for r in range(2)] == ["Rex", "Caesar"]
    assert text_at(browser, 1, "hasTail") == "true" and text_at(browser, 0, "weight") == "17.0"
    assert text_at(browser, 0, "height") == "3.14"  # a float32: its shortest decimal
    assert browser.show_class("Owner")
    assert text_at(browser, 10, "name") == "owner1"
    # read-only: nothing editable, editing actions off, the status says so
    model = browser.model
    assert not any(model.is_editable(model.index(r, c)) for r in range(model.rowCount())
                   for c in range(model.columnCount()))
    assert not browser.new_action.isEnabled() and not browser.delete_action.isEnabled()
    assert not browser.add_class_action.isEnabled() and not browser.import_action.isEnabled()
    assert browser.status.mode_label.isVisible() and "read-only" in browser.windowTitle()
    assert not browser.edit_cell(model.index(10, model.column_named("name")), "x")
    assert text_at(browser, 10, "name") == "owner1"
    # queries and sorting: see test_realmcore_queries.py
    assert browser.query_bar.isEnabled() and browser.query_bar.toolTip() == QUERY_NOTE


def test_links_backlinks_and_a_large_class(open_browser: Callable[..., Any]) -> None:
    browser = open_browser(BIG)
    # a file written by Realm Core itself: its tables are the classes
    assert counts(browser) == {"table": 10001, "target": 1}
    assert browser.banner.text == "Realm Core file, format 24, read-only"
    model = browser.model
    assert model.total_rows == 10001
    assert text_at(browser, 0, "string") == "white"
    assert text_at(browser, 0, "_id") == "66b9fa6b0a6276620c3a4aa1"
    assert text_at(browser, 0, "date") == "2024-08-12T12:04:59Z"
    assert text_at(browser, 10000, "any").startswith("{'Attributes'")  # nested dictionary
    # follow a link: the target's table, the target selected
    link = model.index(5, model.column_named("link"))
    assert text_at(browser, 5, "link") == "target 1"
    browser.table.setCurrentIndex(link)
    browser.follow(link)
    assert browser.current_spec is not None and browser.current_spec.class_name == "target"
    assert browser.table.currentIndex().row() == 0
    # backlinks, computed from the file's backlink columns
    column = "@links.table.link"
    assert text_at(browser, 0, column) == "10000 table objects"  # the last one links nowhere
    browser.follow(browser.model.index(0, browser.model.column_named(column)))
    assert isinstance(browser.model.source, BacklinkSource)
    assert browser.model.total_rows == 10000
    assert text_at(browser, 3, "string") == "orange"
    browser.go_back()
    browser.go_back()
    assert browser.current_spec == ViewSpec("class", "table")
    assert browser.table.currentIndex().row() == 5  # back where we were


def test_collections_and_backlinks_of_an_sdk_file(open_browser: Callable[..., Any]) -> None:
    browser = open_browser(FAMILY)
    assert counts(browser) == {"Child": 6, "Parent": 5}
    assert browser.show_class("Parent")
    model = browser.model
    children = model.index(0, model.column_named("children"))
    assert str(model.data(children)).startswith("2 items: Eric")
    browser.follow(children)
    source = browser.model.source
    assert isinstance(source, CollectionSource) and source.object_rows
    assert browser.model.total_rows == 2 and text_at(browser, 0, "name") == "Eric"
    assert not browser.model.is_editable(browser.model.index(0, 0))
    # a child's parents, through the backlink column
    parents = browser.model.index(0, browser.model.column_named("@links.Parent.children"))
    assert str(browser.model.data(parents)) == "2 Parent objects"
    browser.follow(parents)
    assert isinstance(browser.model.source, BacklinkSource)
    assert [text_at(browser, r, "name") for r in range(2)] == ["Adam", "Cindy"]
    # a link to another Parent, followed from the backlinks view
    married = browser.model.index(1, browser.model.column_named("marriedTo"))
    target = cell_data(married, ValueRole)
    assert text_at(browser, 1, "marriedTo") == "Parent Jack"
    browser.follow(married)
    assert browser.current_spec == ViewSpec("class", "Parent", focus_key=target._key)
    assert text_at(browser, browser.table.currentIndex().row(), "name") == "Jack"


def test_export_copy_and_models(open_browser: Callable[..., Any], tmp_path: Path) -> None:
    browser = open_browser(FAMILY)
    assert browser.show_class("Parent")
    assert browser.export_to(str(tmp_path / "parents.json"), "json") == 5
    rows = json.loads((tmp_path / "parents.json").read_text())
    assert rows[1] == {"_key": 1, "name": "Ben", "city": "Belfast", "marriedTo": 3,
                       "children": [1, 2, 4]}
    assert browser.export_to(str(tmp_path / "parents.csv"), "csv") == 5
    lines = (tmp_path / "parents.csv").read_text().splitlines()
    assert lines[0] == "_key,name,city,marriedTo,children" and lines[5] == "4,Jack,Cairo,2,[5]"
    browser.table.selectRow(0)
    assert json.loads(browser.copy_rows("json"))[0]["children"] == [0, 3]
    assert browser.export_models(str(tmp_path / "models.py"), "python")
    models = (tmp_path / "models.py").read_text()
    assert "class Parent" in models and "@links" not in models and "metadata" not in models


def test_convert_to_an_editable_copy_opens_it(windows: StudioWindows, tmp_path: Path,
                                              qtbot: Any, monkeypatch: Any) -> None:
    browser = windows.open_path(ASSET)
    assert isinstance(browser, RealmCoreBrowser)
    target = tmp_path / "cats.realm"
    asked: list[str] = []

    def save_dialog(_parent: Any, _title: str, start: str, *_a: Any, **_k: Any) -> tuple[str, str]:
        asked.append(start)
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    with qtbot.waitSignal(browser.conversionFinished, timeout=20000) as finished:
        qtbot.mouseClick(browser.banner.convert_button, Qt.MouseButton.LeftButton)
        assert browser.converting or browser.conversion is not None
    # the corpus folder is read-only: the dialog proposed a writable place
    assert asked and asked[0].endswith("-editable.realm")
    new = finished.args[0]
    assert isinstance(new, RealmBrowser) and not isinstance(new, RealmCoreBrowser)
    assert new in windows.browsers and browser in windows.browsers
    assert Path(new.realm.path) == target and not new.read_only
    assert counts(new) == ASSET_COUNTS
    assert "Converted from" in new.message_bar.text
    assert browser.banner.text.endswith("converted to cats.realm")
    assert browser.banner.convert_button.isEnabled() and not browser.banner.progress.isVisible()
    # the copy is editable
    assert new.show_class("Dog")
    model = new.model
    name = model.index(0, model.column_named("name"))
    assert model.is_editable(name) and new.new_action.isEnabled()
    assert new.edit_cell(name, "Rexy")
    qtbot.waitUntil(lambda: model.data(name) == "Rexy")
    assert str(target.resolve()) in RecentFiles().paths()


def test_conversion_runs_on_a_thread_and_can_be_cancelled(open_browser: Callable[..., Any],
                                                          tmp_path: Path, qtbot: Any) -> None:
    browser = open_browser(BIG)
    target = tmp_path / "big.realm"
    with qtbot.waitSignal(browser.conversionFinished, timeout=20000) as finished:
        assert browser.start_conversion(target)
        # returns at once: the window keeps running while the worker converts
        assert browser.converting and browser.banner.progress.isVisible()
        assert browser.banner.cancel_button.isVisible()
        assert not browser.start_conversion(tmp_path / "second.realm")  # one at a time
        browser.cancel_conversion()
    assert finished.args == [None]
    assert "cancelled" in browser.message_bar.text
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the partial copy is gone
    assert not browser.banner.progress.isVisible() and browser.banner.convert_button.isEnabled()
    # an existing file is never overwritten
    target.write_text("mine")
    assert not browser.start_conversion(target)
    assert "exists already" in browser.message_bar.text and target.read_text() == "mine"


def test_closing_the_window_cancels_a_conversion(open_browser: Callable[..., Any],
                                                 tmp_path: Path) -> None:
    browser = open_browser(BIG)
    assert browser.start_conversion(tmp_path / "gone.realm")
    job = browser.conversion
    browser.close()  # waits for the current batch, then the partial copy is deleted
    assert job is not None and job.finished.is_set() and job.cancelled
    assert not job.thread.is_alive()
    assert list(tmp_path.iterdir()) == []


def test_conversion_reports_progress_then_opens_a_window(open_browser: Callable[..., Any],
                                                         tmp_path: Path, qtbot: Any) -> None:
    browser = open_browser(BIG)
    seen: list[int] = []
    browser.banner.progress.valueChanged.connect(seen.append)
    with qtbot.waitSignal(browser.conversionFinished, timeout=30000) as finished:
        assert browser.start_conversion(tmp_path / "big")  # ".realm" is added
    new = finished.args[0]
    assert new is not None and new in browser.converted_browsers  # no manager: its own
    try:
        assert Path(new.realm.path).name == "big.realm"
        assert counts(new) == {"table": 10001, "target": 1}
        assert seen and max(seen) > 0
        assert "stored as JSON text" in new.message_bar.text  # convert's warning, passed on
    finally:
        new.close()


def test_encrypted_and_too_old_files_say_why(windows: StudioWindows) -> None:
    greeting = windows.show_greeting()
    assert windows.open_path(ENCRYPTED) is None
    assert greeting.message_bar.level == "error"
    assert "encrypted" in greeting.message_bar.text and "key" in greeting.message_bar.text
    assert windows.open_path(TOO_OLD) is None
    assert "file format 10" in greeting.message_bar.text
    assert "Realm SDK of version 10 or newer" in greeting.message_bar.text
    assert windows.browsers == []
    with pytest.raises(Exception, match="encrypted"):
        CoreFileRealm.open(ENCRYPTED)


def test_greeting_open_dialog_and_recent_files(windows: StudioWindows, monkeypatch: Any) -> None:
    greeting = windows.show_greeting()
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        lambda *_a, **_k: ([str(ASSET)], ""))
    greeting.open_dialog()
    assert len(windows.browsers) == 1 and isinstance(windows.browsers[0], RealmCoreBrowser)
    assert windows.open_path(ASSET) is windows.browsers[0]  # open already: the same window
    windows.browsers[0].close()
    assert windows.browsers == []
    greeting.refresh_recent()
    item = greeting.recent_list.item(0)
    assert "studio__asset_file_2024-03-26" in item.text()
    greeting.recent_list.itemActivated.emit(item)
    assert len(windows.browsers) == 1 and isinstance(windows.browsers[0], RealmCoreBrowser)


def test_screenshot_and_command_line_options(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "core.png"
    assert run([str(FAMILY)], class_name="Parent", screenshot=out) == 0
    assert QImage(str(out)).size().width() == 1280
    assert run([str(ENCRYPTED)], screenshot=tmp_path / "x.png") == 1
    assert "encrypted" in capsys.readouterr().err


def test_default_destination_avoids_existing_files(tmp_path: Path) -> None:
    src = tmp_path / "app.realm"
    src.write_bytes(b"")
    assert default_destination(str(src)) == tmp_path / "app-editable.realm"
    (tmp_path / "app-editable.realm").write_bytes(b"")
    assert default_destination(str(src)) == tmp_path / "app-editable-2.realm"
