"""Time travel (issue 16): from the History panel, a synced realm as of any server
version, read-only with a banner, a slider and a version field, and what a changeset
changed object by object, built from the server's history."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from studio.ui.demo import CHAT_SCHEMA, post
from studio.ui.formatting import scalar_text
from studio.ui.server import ServerWindow
from studio.ui.server.history import HistoryPanel
from studio.ui.server.tables import select_where
from studio.ui.server.time_travel import KeptWindows, TimeTravelWindow

pytest_plugins = ("test_server_support",)

from test_server_support import ADMIN_PASSWORD, run, wait  # noqa: E402

PATH = "/shared/time-travel"


def _messages(window: TimeTravelWindow) -> list[str]:
    browser = window.browser
    assert browser is not None
    return sorted(str(m["text"]) for m in browser.realm.objects("Message"))


def _assert_before_after_visible(window: TimeTravelWindow) -> None:
    table = window.changes_table
    header = table.horizontalHeader()
    visible = table.viewport().width()
    for column in (2, 3):  # Before, After
        left = header.sectionViewportPosition(column)
        assert left >= 0 and left + header.sectionSize(column) <= visible + 1, \
            (column, left, header.sectionSize(column), visible)
        assert header.sectionSize(column) >= 100


def test_open_a_realm_as_of_a_version_and_move_through_its_history(
        admin_window: ServerWindow, client: Any, qtbot: Any, tmp_path: Path) -> None:
    app = client("admin", ADMIN_PASSWORD)
    device = run(qtbot, app.open_realm(app.current_user, PATH,
                                       path=tmp_path / "device.realm", schema=CHAT_SCHEMA))
    texts = ["one", "two", "three", "four"]
    for text in texts:
        post(device, "d", text)
    with device.write():
        device.objects("Message").filtered("text == 'two'")[0]["text"] = "TWO"
    run(qtbot, device.sync_session.wait_for_upload_completion(10))
    panel = admin_window.show_tab("History")
    assert isinstance(panel, HistoryPanel)
    panel.show_realm(PATH)
    wait(qtbot, lambda: panel.loaded_version >= 6 and panel.busy == 0)
    latest = panel.loaded_version
    # the changeset that posted "three": select it, open the realm as of its version
    posted = [r for r in panel.server_rows if any("'three'" in t for t in r["instructions"])]
    version = int(posted[0]["server_version"])
    assert not panel.time_travel_button.isEnabled()
    select_where(panel.table, lambda r: r.get("server_version") == version)
    assert panel.time_travel_button.isEnabled()
    window = panel.open_as_of()
    assert window is not None
    qtbot.waitUntil(lambda: window.version == version, timeout=20_000)
    # read-only and said so
    assert window.banner.text() == f"{PATH} as of server version {version} (read-only)"
    assert window.browser is not None and window.browser.read_only
    assert _messages(window) == ["one", "three", "two"]
    # what the version changed, one row per object: the new message with its fields,
    # and the chat whose list got it; named as the tables name objects
    kinds = {(c.class_name, c.kind) for c in window.changes}
    assert ("Message", "created") in kinds
    (created,) = [c for c in window.changes if c.class_name == "Message"]
    assert ("text", "", "'three'") in created.properties
    assert len({(c.class_name, c.key) for c in window.changes}) == len(window.changes)
    assert window.changes_table.rowCount() == len(window.changes)
    row = window.changes.index(created)
    assert window.changes_table.item(row, 0).text() == \
        f"Message {scalar_text(created.primary_key)}"
    assert "ObjectId(" not in window.changes_table.item(row, 0).text()
    assert window.changes_table.item(row, 1).text() == "created"
    assert "text: 'three'" in window.changes_table.item(row, 3).text()
    # old -> new on screen, not scrolled off to the right, at both usual window sizes
    for size in ((1200, 760), (1600, 1000)):
        window.resize(*size)
        qtbot.waitUntil(lambda size=size: window.width() == size[0], timeout=5_000)
        _assert_before_after_visible(window)
    # the status bar names the server's realm, not the temporary file
    assert window.browser.status.path_label.text() == \
        f"{PATH} as of server version {version}"
    # forward with the version field: the last version renamed "two", old -> new
    with qtbot.waitSignal(window.stateShown, timeout=20_000):
        window.field.setValue(latest)
    assert _messages(window) == ["TWO", "four", "one", "three"]
    (rename,) = window.changes
    assert (rename.kind, rename.properties) == ("changed", (("text", "'two'", "'TWO'"),))
    assert window.changes_table.item(0, 2).text() == "text: 'two'"
    applied = window.builder.applied
    # back with the slider: from the state kept at the first version shown
    with qtbot.waitSignal(window.stateShown, timeout=20_000):
        window.slider.setValue(version + 1)
    assert _messages(window) == ["four", "one", "three", "two"]
    assert window.builder.applied == applied + 1  # one changeset replayed, not all
    # a click on a change shows its object in the browser, selected
    row = next(i for i, c in enumerate(window.changes) if c.class_name == "Message")
    window.changes_table.setCurrentCell(row, 0)
    assert window.browser.current_spec is not None
    assert window.browser.current_spec.class_name == "Message"
    assert window.browser.table.currentIndex().isValid()
    window.close()
    # closed means gone at once: its browser (and realm) closed, the panel's list
    # forgets it while the window is still whole, and nothing is built or shown after
    assert window.browser is None and not panel.time_travel_windows
    window.show_version(version)
    assert window.browser is None and window.busy == 0


def _texts_at(changesets: dict[int, bytes], version: int, folder: Path) -> list[str]:
    """The messages as of ``version``, replayed from an uncompacted history."""
    from studio.core import Realm
    from studio.ui.server.past_states import StateBuilder

    builder = StateBuilder(folder)
    try:
        state = builder.build(version, changesets)
        with Realm.open(state.path, read_only=True) as realm:
            return sorted(str(m["text"]) for m in realm.objects("Message"))
    finally:
        builder.close()


def test_time_travel_on_a_compacted_history_starts_at_the_floor(
        admin_window: ServerWindow, client: Any, qtbot: Any, tmp_path: Path) -> None:
    import base64
    import time

    path = "/shared/time-travel-compacted"
    app = client("admin", ADMIN_PASSWORD)
    device = run(qtbot, app.open_realm(app.current_user, path,
                                       path=tmp_path / "device.realm", schema=CHAT_SCHEMA))
    for text in ("one", "two", "three", "four"):
        post(device, "d", text)
        run(qtbot, device.sync_session.wait_for_upload_completion(10))
    with device.write():
        device.objects("Message").filtered("text == 'two'")[0]["text"] = "TWO"
    run(qtbot, device.sync_session.wait_for_upload_completion(10))
    post(device, "d", "five")  # based on what it downloaded: its progress moves up
    run(qtbot, device.sync_session.wait_for_upload_completion(10))
    rows = run(qtbot, app.admin.realm_history(path, limit=1000, raw=True))
    before = {int(r["server_version"]): base64.b64decode(r["changeset"]) for r in rows}
    latest = max(before)
    # Compact (the server's state file may still be catching up: ask until it does).
    deadline = time.monotonic() + 20
    while not (answer := run(qtbot, app.admin.compact_realm(path)))["compacted"]:
        assert time.monotonic() < deadline, answer
        qtbot.wait(200)
    floor = int(answer["base_version"])
    assert 1 < floor < latest
    panel = admin_window.show_tab("History")
    assert isinstance(panel, HistoryPanel)
    panel.show_realm(path)
    wait(qtbot, lambda: panel.loaded_version >= latest and panel.busy == 0)
    # A version below the floor (what a device last integrated, say): the floor is shown,
    # and the window says why.
    window = panel.open_as_of(1)
    assert window is not None
    qtbot.waitUntil(lambda: window.version == floor, timeout=20_000)
    assert window.floor == floor
    assert window.banner.text() == f"{path} as of server version {floor} (read-only)"
    assert window.floor_note.isVisible()
    assert window.floor_note.text() == (
        f"Server version 1 was compacted: the server keeps only the realm as of version "
        f"{floor} (the compaction floor), shown here.")
    assert _messages(window) == _texts_at(before, floor, tmp_path / "reference")
    # The floor's changeset is the snapshot's last piece: no per-object changes claimed.
    assert window.changes == () and window.changes_table.rowCount() == 0
    assert "is the compaction floor" in window.changes_title.text()
    # The slider and the field cannot go below the floor.
    assert window.slider.minimum() == floor and window.field.minimum() == floor
    assert f"versions up to {floor} were compacted" in window.range_label.text()
    # Above the floor: the history as it was, with what each version changed.
    with qtbot.waitSignal(window.stateShown, timeout=20_000):
        window.field.setValue(latest)
    assert not window.floor_note.isVisible()
    assert _messages(window) == ["TWO", "five", "four", "one", "three"]
    assert any(c.class_name == "Message" and c.kind == "created"
               and ("text", "", "'five'") in c.properties for c in window.changes)
    window.slider.setValue(1)  # clamped to the floor: the floor's state again
    qtbot.waitUntil(lambda: window.version == floor, timeout=20_000)
    assert not window.floor_note.isVisible()  # asked at the floor, not below it
    window.close()


class _Closable(QWidget):
    """Stands for a time-travel window: parentless, deleted by Qt on close."""

    def __init__(self) -> None:
        super().__init__()
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.is_closed = False

    def closeEvent(self, event: QCloseEvent) -> None:
        self.is_closed = True
        super().closeEvent(event)


def test_a_closed_window_stays_referenced_until_qt_has_destroyed_it(qtbot: QtBot) -> None:
    """Dropped at close, the window's wrapper went to Python's collector,
    which could delete the C++ object from another thread or a second time:
    the suite segfaulted in a later test."""
    kept = KeptWindows()
    window = _Closable()
    kept.add(window)  # type: ignore[arg-type]
    ref = weakref.ref(window)
    del window
    gc.collect()
    assert ref() is not None  # nobody else holds it
    closed = ref()
    assert closed is not None
    closed.close()
    del closed
    gc.collect()
    assert ref() is not None and kept.open() == []  # closed, Qt's delete still pending

    def gone() -> bool:
        gc.collect()
        return ref() is None

    qtbot.waitUntil(gone, timeout=5000)
