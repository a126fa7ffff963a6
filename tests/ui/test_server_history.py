"""The server window's History tab under live updates (issue 16, defect 1): the
selected changeset survives new uploads, Enter loads a realm once, and the realm
drop-down follows realms created in the Realms tab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from studio.ui.demo import CHAT_SCHEMA, post
from studio.ui.server import ServerWindow
from studio.ui.server.history import HistoryPanel
from studio.ui.server.tables import selected_record

pytest_plugins = ("test_server_support",)

from test_server_support import ADMIN_PASSWORD, run, wait  # noqa: E402


def _device(client: Any, qtbot: Any, tmp_path: Path, path: str) -> Any:
    app = client("admin", ADMIN_PASSWORD)
    realm = run(qtbot, app.open_realm(app.current_user, path,
                                      path=tmp_path / f"{path.strip('/').replace('/', '-')}.realm",
                                      schema=CHAT_SCHEMA))
    return realm


def _settle(qtbot: Any, panel: HistoryPanel) -> None:
    wait(qtbot, lambda: panel.busy == 0)
    qtbot.wait(300)
    wait(qtbot, lambda: panel.busy == 0)


def test_selected_changeset_stays_selected_while_uploads_arrive(
        admin_window: ServerWindow, client: Any, qtbot: Any, tmp_path: Path) -> None:
    device = _device(client, qtbot, tmp_path, "/shared/hist-live")
    post(device, "d", "first")
    run(qtbot, device.sync_session.wait_for_upload_completion(10))
    panel = admin_window.show_tab("History")
    assert isinstance(panel, HistoryPanel)
    panel.show_realm("/shared/hist-live")
    wait(qtbot, lambda: panel.model.rowCount() >= 2)
    _settle(qtbot, panel)
    last = panel.model.rowCount() - 1
    panel.table.selectRow(last)  # the oldest changeset
    chosen = selected_record(panel.table)
    assert chosen is not None
    details = panel.details.toPlainText()
    assert f"server version {chosen['server_version']}" in details
    rewrites: list[str] = []  # the details are never emptied and refilled (scroll kept)
    panel.details.textChanged.connect(lambda: rewrites.append(panel.details.toPlainText()))

    for n in range(3):  # each upload is a live update that rebuilds the list
        count = panel.model.rowCount()
        post(device, "d", f"more {n}")
        wait(qtbot, lambda c=count: panel.model.rowCount() > c)
        still = selected_record(panel.table)
        assert still is not None and still["server_version"] == chosen["server_version"]
        assert panel.details.toPlainText() == details
    assert rewrites == []


def test_enter_in_the_realm_box_lists_each_changeset_once(
        admin_window: ServerWindow, client: Any, qtbot: Any, tmp_path: Path) -> None:
    device = _device(client, qtbot, tmp_path, "/shared/hist-enter")
    post(device, "d", "one")
    post(device, "d", "two")
    run(qtbot, device.sync_session.wait_for_upload_completion(10))
    panel = admin_window.show_tab("History")
    assert isinstance(panel, HistoryPanel)
    line = panel.realm_combo.lineEdit()
    assert line is not None
    line.clear()
    line.setFocus()
    qtbot.keyClicks(line, "/shared/hist-enter")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    wait(qtbot, lambda: panel.model.rowCount() >= 3)
    _settle(qtbot, panel)
    versions = [r["server_version"] for r in panel.model.records]
    assert len(versions) == len(set(versions)), versions
    assert versions == sorted(versions, reverse=True)
    count = len(versions)
    assert panel.summary.text().startswith(f"{count} of {count} changesets shown")
    panel.object_filter.setText("no object has this key")
    assert panel.summary.text().startswith(f"0 of {count} changesets shown")


def test_realm_created_in_the_realms_tab_appears_in_the_history_drop_down(
        admin_window: ServerWindow, qtbot: Any) -> None:
    panel = admin_window.history_tab
    realms = admin_window.show_tab("Realms")
    realms.new_path.setText("/shared/hist-created")
    realms.create_button.click()
    wait(qtbot, lambda: panel.realm_combo.findText("/shared/hist-created") >= 0)


def test_realm_created_elsewhere_reaches_the_drop_down_by_the_event_stream(
        admin_window: ServerWindow, qtbot: Any) -> None:
    panel = admin_window.show_tab("History")
    assert isinstance(panel, HistoryPanel)
    # Another admin (here: the API directly, not the Realms tab) creates a realm.
    run(qtbot, admin_window.link.admin.create_realm("/shared/hist-elsewhere"))  # type: ignore[union-attr]
    wait(qtbot, lambda: panel.realm_combo.findText("/shared/hist-elsewhere") >= 0)
    QApplication.processEvents()
