"""Debug a device (issue 16): from the Connections tab, a connected client's sessions,
its client file ident, the server version it integrated against the latest ("missing
N versions"), its recent uploads, and the realm as it last integrated it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.synced import get_sync_value
from studio.ui.demo import CHAT_SCHEMA, post
from studio.ui.server import ServerWindow
from studio.ui.server.connections_tab import ConnectionsTab
from studio.ui.server.device import DeviceWindow
from studio.ui.server.tables import selected_record

pytest_plugins = ("test_server_support",)

from test_server_support import ADMIN_PASSWORD, run, wait  # noqa: E402

PATH = "/shared/debug-device"


def _open(client: Any, qtbot: Any, tmp_path: Path, name: str) -> Any:
    app = client("admin", ADMIN_PASSWORD)
    return run(qtbot, app.open_realm(app.current_user, PATH, path=tmp_path / f"{name}.realm",
                                     schema=CHAT_SCHEMA))


def test_a_device_in_detail(admin_window: ServerWindow, client: Any, qtbot: Any,
                            tmp_path: Path) -> None:
    phone = _open(client, qtbot, tmp_path, "phone")
    post(phone, "phone", "from the phone")
    post(phone, "phone", "again")
    run(qtbot, phone.sync_session.wait_for_upload_completion(10))
    laptop = _open(client, qtbot, tmp_path, "laptop")
    for n in range(3):
        post(laptop, "laptop", f"laptop {n}")
    run(qtbot, laptop.sync_session.wait_for_upload_completion(10))
    # the phone catches up and uploads again: its upload says what it has integrated
    run(qtbot, phone.sync_session.wait_for_download_completion(10))
    post(phone, "phone", "after the laptop")
    run(qtbot, phone.sync_session.wait_for_upload_completion(10))
    for n in range(3, 5):  # then it is behind again, as far as the server knows
        post(laptop, "laptop", f"laptop {n}")
    run(qtbot, laptop.sync_session.wait_for_upload_completion(10))
    ident = int(get_sync_value(phone, "client_file_ident", "0") or 0)
    assert ident > 0

    tab = admin_window.show_tab("Connections")
    assert isinstance(tab, ConnectionsTab)
    wait(qtbot, lambda: sum(PATH in (r.get("realms") or []) for r in tab.model.records) >= 2)
    assert not tab.debug_button.isEnabled()
    found: DeviceWindow | None = None
    for row in range(tab.proxy.rowCount()):
        tab.table.selectRow(row)
        record = selected_record(tab.table)
        if record is None or PATH not in (record.get("realms") or []):
            continue
        assert tab.debug_button.isEnabled()
        window = tab.debug_device()
        assert window is not None
        with qtbot.waitSignal(window.loaded, timeout=10_000):
            pass
        if window.device["sessions"][0]["client_file_ident"] == ident:
            found = window
            break
        window.close()
    assert found is not None
    (session,) = found.device["sessions"]
    assert session["realm"] == PATH and session["latest_version"] >= 9
    # the phone said it integrated up to its last upload's base: that upload and the
    # laptop's 2 later posts are missing
    assert session["integrated_version"] >= 5
    assert session["missing_versions"] == session["latest_version"] - \
        session["integrated_version"] >= 3
    assert 0 < session["sent_version"] <= session["latest_version"]
    assert "missing" in found.uploads_title.text()
    # its own uploads only, newest first
    texts = [" ".join(u["instructions"]) for u in session["uploads"]]
    assert any("'again'" in t for t in texts) and not any("'laptop " in t for t in texts)
    assert texts.index(next(t for t in texts if "'again'" in t)) < texts.index(
        next(t for t in texts if "'from the phone'" in t))
    found.uploads_table.selectRow(0)
    assert "server version" in found.details.toPlainText()
    # the realm as this device last integrated it
    past = found.open_as_of()
    assert past is not None
    qtbot.waitUntil(lambda: past.version == session["integrated_version"], timeout=20_000)
    assert past.browser is not None
    texts_then = {str(m["text"]) for m in past.browser.realm.objects("Message")}
    assert {"from the phone", "again", "laptop 0", "laptop 2"} <= texts_then
    assert not {"after the laptop", "laptop 3"} & texts_then
    past.close()
    found.close()
    qtbot.waitUntil(lambda: not tab.device_windows, timeout=5_000)
