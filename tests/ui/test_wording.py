"""Messages in the user's terms (issue 16, defect 11): plurals, no programmer wording,
window titles that do not repeat the application's name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core import ObjectId, Realm
from studio.core.errors import DuplicatePrimaryKeyError
from studio.sync.client import ServerUnreachableError
from studio.ui import errors
from studio.ui.server.errors import describe_connect_error
from studio.ui.status import BrowserStatus
from studio.ui.wording import article, plural


def test_plural() -> None:
    assert plural(1, "realm") == "1 realm"
    assert plural(0, "realm") == "0 realms"
    assert plural(1200, "connection") == "1,200 connections"
    assert plural(1.0, "upload") == "1 upload"
    assert plural(2, "entry", "entries") == "2 entries"


def test_status_count_in_the_singular(qtbot: Any) -> None:
    status = BrowserStatus()
    qtbot.addWidget(status)
    status.set_count(1, None, "objects")
    assert status.count_label.text() == "1 object"
    status.set_count(1, 1, "items")
    assert status.count_label.text() == "1 item"
    status.set_count(1, 20, "objects")
    assert status.count_label.text() == "1 of 20 objects"


def test_duplicate_primary_key_in_the_users_terms(tmp_path: Path) -> None:
    schema = [{"name": "Book", "primaryKey": "isbn", "properties": {"isbn": "string"}}]
    with Realm.open(tmp_path / "b.realm", schema=schema) as realm, realm.write():
        realm.create("Book", {"isbn": "1"})
        try:
            realm.create("Book", {"isbn": "1"})
        except DuplicatePrimaryKeyError as exc:
            text = errors.describe(exc)
    assert "update=True" not in text
    assert "'1' already exists" in text and "Choose another primary key" in text


def test_connection_refused_without_errno() -> None:
    exc = ServerUnreachableError(
        "cannot reach http://localhost:9/auth/login: [Errno 111] Connection refused")
    text = describe_connect_error(exc, "http://localhost:9")
    assert "Errno" not in text and "(Connection refused)" in text
    text = describe_connect_error(ConnectionRefusedError(111, "Connection refused"),
                                  "http://localhost:9")
    assert "Errno" not in text and "Connection refused" in text


def test_window_title_leaves_the_application_name_to_qt(people_path: Path,
                                                        open_browser: Any) -> None:
    # Qt appends " — Studio" (the display name) to every title that does not end in it.
    browser = open_browser(people_path, read_only=True)
    assert browser.windowTitle() == "people.realm (read-only)"


def test_duplicate_object_id_key_is_written_as_the_table_shows_it(tmp_path: Path) -> None:
    schema = [{"name": "Author", "primaryKey": "_id",
               "properties": {"_id": "objectId", "name": "string?"}}]
    key = ObjectId("59682f0006264bb8174552f4")
    with Realm.open(tmp_path / "a.realm", schema=schema) as realm, realm.write():
        realm.create("Author", {"_id": key})
        try:
            realm.create("Author", {"_id": key})
        except DuplicatePrimaryKeyError as exc:
            text = errors.describe(exc)
    assert "ObjectId(" not in text
    assert "_id = 59682f0006264bb8174552f4 already exists" in text


def test_article() -> None:
    assert article("Author") == "an Author"
    assert article("Book") == "a Book"
    assert article("item") == "an item"
