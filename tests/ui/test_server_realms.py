"""The Realms tab end to end: create, search, permissions, delete; "Open" as a synced
realm in the browser, whose edits reach other devices and theirs show up; the History
panel with local changes not uploaded yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from studio.ui.delegates import TypedLineEdit
from studio.ui.demo import CHAT_SCHEMA, post
from studio.ui.navigation import ViewSpec
from studio.ui.server import ServerWindow
from studio.ui.server.history import PENDING
from studio.ui.server.instructions_text import matches, target_of
from studio.ui.server.realms_tab import compaction_message
from studio.ui.server.tables import select_where

pytest_plugins = ("test_server_support",)

from test_server_support import ADMIN_PASSWORD, run, wait  # noqa: E402


def test_create_search_grant_revoke_and_delete_a_realm(admin_window: ServerWindow,
                                                       qtbot: Any) -> None:
    tab = admin_window.show_tab("Realms")
    assert tab is admin_window.realms_tab
    run(qtbot, admin_window.link.admin.create_user("perm-user", "pw"))  # type: ignore[union-attr]
    tab.new_path.setText("shared/created-here")  # the leading / is added
    tab.create_button.click()
    wait(qtbot, lambda: "/shared/created-here" in tab.paths())
    assert "Created /shared/created-here" in tab.message_bar.text
    tab.search.setText("created-here")
    assert tab.proxy.rowCount() == 1
    assert tab.select_path("/shared/created-here")
    editor = tab.permissions
    assert editor.path == "/shared/created-here" and editor.grant_button.isEnabled()
    editor.user_combo.setCurrentText("perm-user")
    editor.level_combo.setCurrentText("read")
    editor.grant_button.click()
    wait(qtbot, lambda: {"username": "perm-user", "level": "read"} in editor.model.records)
    editor.table.selectRow(0)
    editor.revoke_button.click()
    wait(qtbot, lambda: not editor.model.records)
    # Delete asks first; Cancel keeps the realm, Delete removes it.
    tab.delete_button.click()
    assert "Delete /shared/created-here" in tab.message_bar.text
    tab.message_bar.click("Cancel")
    assert "/shared/created-here" in tab.paths()
    tab.delete_button.click()
    tab.message_bar.click("Delete")
    wait(qtbot, lambda: "/shared/created-here" not in tab.paths())
    # An invalid path: the server's reason, in the bar.
    tab.search.clear()
    tab.new_path.setText("/shared/../nope")
    tab.create_button.click()
    wait(qtbot, lambda: tab.message_bar.level == "error")


def _edit_cell(browser: Any, qtbot: Any, row: int, column: str, text: str) -> None:
    index = browser.model.index(row, browser.model.column_named(column))
    browser.table.setCurrentIndex(index)
    browser.table.edit(index)
    editors = [w for w in browser.table.viewport().findChildren(QWidget)
               if isinstance(w, TypedLineEdit) and w.isVisible()]
    assert len(editors) == 1
    editors[0].selectAll()
    qtbot.keyClicks(editors[0], text)
    qtbot.keyClick(editors[0], Qt.Key.Key_Return)
    QApplication.processEvents()


def test_open_in_browser_syncs_edits_both_ways_and_shows_history(
        admin_window: ServerWindow, client: Any, qtbot: Any, tmp_path: Path) -> None:
    path = "/shared/live-chat"
    device_app = client("admin", ADMIN_PASSWORD)
    device = run(qtbot, device_app.open_realm(device_app.current_user, path,
                                              path=tmp_path / "device.realm",
                                              schema=CHAT_SCHEMA))
    post(device, "device", "from the device")
    run(qtbot, device.sync_session.wait_for_upload_completion(10))

    tab = admin_window.show_tab("Realms")
    wait(qtbot, lambda: path in tab.paths())
    tab.select_path(path)
    tab.open_button.click()
    wait(qtbot, lambda: admin_window.browser_for(path) is not None)
    browser = admin_window.browser_for(path)
    assert browser.objectName() == "realmBrowser" and "(synced)" in browser.windowTitle()
    assert Path(browser.realm.path).is_relative_to(admin_window.data_dir)
    wait(qtbot, lambda: len(browser.realm.objects("Message")) == 1)
    browser.navigate(ViewSpec("class", "Message"))
    wait(qtbot, lambda: browser.model.rowCount() == 1)
    # "Open" again brings the same window back rather than a second copy.
    tab.open_button.click()
    assert len(admin_window.browsers) == 1

    # A Studio edit reaches the other device...
    _edit_cell(browser, qtbot, 0, "text", "edited in the Studio")
    message = device.objects("Message")[0]
    wait(qtbot, lambda: message["text"] == "edited in the Studio")
    # ...and the device's edit shows up in the Studio.
    post(device, "device", "the device again")
    wait(qtbot, lambda: browser.model.rowCount() == 2)
    texts = {m["text"] for m in browser.realm.objects("Message")}
    assert texts == {"edited in the Studio", "the device again"}

    # History: server changesets with readable instructions, filterable.
    panel = browser.history_panel
    assert panel.objectName() == "historyPanel"
    wait(qtbot, lambda: any("edited in the Studio" in " ".join(r["instructions"])
                            for r in panel.model.records if r["status"] == "uploaded"))
    record = next(r for r in panel.model.records if r["status"] == "uploaded"
                  and any("edited in the Studio" in t for t in r["instructions"]))
    assert record["user"] == "admin" and record["server_version"] > 0
    panel.class_combo.setCurrentIndex(panel.class_combo.findData("Chat"))
    assert panel.proxy.rowCount() >= 1
    assert all(target_of(t)[0] == "Chat" for r in panel.proxy.shown_records()
               for t in r["shown"])
    panel.class_combo.setCurrentIndex(0)

    # Local changes not uploaded yet are listed as such, then move to the server's list,
    # described in the same words the server uses.
    browser.realm.sync_session.pause()
    _edit_cell(browser, qtbot, 0, "text", "written while paused")
    wait(qtbot, lambda: any(r["status"] == PENDING for r in panel.model.records))
    pending = next(r for r in panel.model.records if r["status"] == PENDING)
    assert pending["server_version"] is None
    local_text = next(t for t in pending["instructions"] if "written while paused" in t)
    assert "not uploaded yet" in panel.summary.text()
    key = target_of(local_text)[1]
    panel.object_filter.setText(key.strip("'")[-8:])
    assert panel.proxy.rowCount() >= 1
    assert all(matches(t, "", key.strip("'")[-8:]) for r in panel.proxy.shown_records()
               for t in r["shown"])
    panel.object_filter.clear()
    browser.realm.sync_session.resume()
    wait(qtbot, lambda: not any(r["status"] == PENDING for r in panel.model.records))
    wait(qtbot, lambda: any(local_text in r["instructions"] for r in panel.model.records
                            if r["status"] == "uploaded"))
    wait(qtbot, lambda: device.objects("Message")[0]["text"] == "written while paused"
         or device.objects("Message")[1]["text"] == "written while paused")

    # Time travel from the browser's History dock too: the realm as of the Studio's edit.
    edited = int(record["server_version"])
    select_where(panel.table, lambda r: r.get("server_version") == edited)
    assert panel.time_travel_button.isEnabled()
    past = panel.open_as_of()
    assert past is not None
    qtbot.waitUntil(lambda: past.version == edited, timeout=20_000)
    assert past.banner.text() == f"{path} as of server version {edited} (read-only)"
    assert past.browser is not None and past.browser.read_only
    assert {m["text"] for m in past.browser.realm.objects("Message")} == \
        {"edited in the Studio"}
    past.close()

    # Closing the browser ends the sync session of the Studio's copy.
    session = browser.realm.sync_session
    browser.close()
    assert session.is_closed and admin_window.browser_for(path) is None


def test_history_tab_shows_any_realm(admin_window: ServerWindow, client: Any, qtbot: Any,
                                     tmp_path: Path) -> None:
    device_app = client("admin", ADMIN_PASSWORD)
    device = run(qtbot, device_app.open_realm(device_app.current_user, "/shared/hist",
                                              path=tmp_path / "hist.realm",
                                              schema=CHAT_SCHEMA))
    post(device, "d", "one")
    run(qtbot, device.sync_session.wait_for_upload_completion(10))
    panel = admin_window.show_tab("History")
    panel.show_realm("/shared/hist")
    wait(qtbot, lambda: panel.model.rowCount() >= 2)
    assert panel.class_combo.findData("Message") > 0
    # New uploads arrive without a click (the event stream says there are some).
    count = panel.model.rowCount()
    post(device, "d", "two")
    wait(qtbot, lambda: panel.model.rowCount() > count)
    panel.table.selectRow(0)
    assert "'two'" in panel.details.toPlainText()


def test_compact_now_compacts_the_selected_realm_and_says_what_it_did(
        admin_window: ServerWindow, qtbot: Any) -> None:
    tab = admin_window.show_tab("Realms")
    run(qtbot, admin_window.link.admin.create_realm("/shared/to-compact"))  # type: ignore[union-attr]
    tab.spawn(tab.reload())
    wait(qtbot, lambda: "/shared/to-compact" in tab.paths())
    tab.table.clearSelection()
    assert not tab.compact_button.isEnabled()  # nothing selected
    assert tab.select_path("/shared/to-compact")
    assert tab.compact_button.isEnabled()
    tab.compact_button.click()
    # A realm nobody wrote to: the server's answer says why nothing went.
    wait(qtbot, lambda: "Nothing to compact in /shared/to-compact" in tab.message_bar.text)
    assert "its history is empty" in tab.message_bar.text


def test_compaction_message_shows_the_figures() -> None:
    text, level = compaction_message({
        "realm": "/shared/big", "compacted": True, "base_version": 1200,
        "versions_before": 1250, "versions_after": 51, "bytes_before": 3_000_000,
        "bytes_after": 40_000, "seconds": 0.5, "reason": "",
    })
    assert level == "success"
    assert text.startswith("Compacted /shared/big up to version 1200: 1,250 stored changesets → 51")
    assert "in 0.50 s" in text


def test_logging_out_stops_a_pending_reload(admin_window: ServerWindow, qtbot: Any,
                                            monkeypatch: Any) -> None:
    # A reload due 1.5 s after an event fired after the window had closed (on a closed
    # link, or in the next test with no event loop left).
    tab = admin_window.show_tab("Realms")
    wait(qtbot, lambda: tab.busy == 0)
    reloads: list[int] = []

    async def reload() -> None:
        reloads.append(1)

    monkeypatch.setattr(tab, "reload", reload)
    tab.on_events([{"type": "upload"}])  # schedules a reload in 1.5 s
    admin_window.log_out()
    wait(qtbot, lambda: admin_window.link is None)
    qtbot.wait(2000)
    assert reloads == []
