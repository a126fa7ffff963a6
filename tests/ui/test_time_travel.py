"""Time travel (issue 16): from the History panel, a synced realm as of any server
version, read-only with a banner, a slider and a version field, and what a changeset
changed object by object, built from the server's history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.ui.demo import CHAT_SCHEMA, post
from studio.ui.server import ServerWindow
from studio.ui.server.history import HistoryPanel
from studio.ui.server.tables import select_where
from studio.ui.server.time_travel import TimeTravelWindow

pytest_plugins = ("test_server_support",)

from test_server_support import ADMIN_PASSWORD, run, wait  # noqa: E402

PATH = "/shared/time-travel"


def _messages(window: TimeTravelWindow) -> list[str]:
    browser = window.browser
    assert browser is not None
    return sorted(str(m["text"]) for m in browser.realm.objects("Message"))


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
    # what the version changed: the new message's values, and the chat's list
    rows = [(c.class_name, c.what, c.old, c.new) for c in window.changes]
    assert ("Message", rows[0][1], "", "created") in rows
    assert any(c.class_name == "Message" and c.new == "'three'" for c in window.changes)
    assert window.changes_table.rowCount() == len(window.changes)
    # forward with the version field: the last version renamed "two", old -> new
    with qtbot.waitSignal(window.stateShown, timeout=20_000):
        window.field.setValue(latest)
    assert _messages(window) == ["TWO", "four", "one", "three"]
    (rename,) = [c for c in window.changes if c.what.endswith(".text = 'TWO'")]
    assert (rename.old, rename.new) == ("'two'", "'TWO'")
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
    qtbot.waitUntil(lambda: not panel.time_travel_windows, timeout=5_000)
