"""The Realms tab shows a realm whose state file failed to follow its
history (the server's ``state_error``), not just its numbers."""

from __future__ import annotations

import sqlite3
from typing import Any

from studio.core import Realm
from studio.core.synced import set_sync_values
from studio.server.storage.state_worker import STATE_ERROR
from studio.ui.server import ServerWindow
from studio.ui.server.realms_tab import REALM_COLUMNS, STATE_FAILED, realm_state
from studio.ui.server.tables import RecordModel

pytest_plugins = ("test_server_support",)

from test_server_support import run, wait  # noqa: E402


def test_state_column_texts(qtbot: Any) -> None:
    model = RecordModel(REALM_COLUMNS)
    model.set_records([
        {"path": "/a", "server_version": 5, "state_version": 5, "state_error": None},
        {"path": "/b", "server_version": 7, "state_version": 4, "state_error": None},
        {"path": "/c", "server_version": 3, "state_version": 3,
         "state_error": "server version 2 could not be applied: AttributeError: boom"},
    ])
    column = [c.key for c in REALM_COLUMNS].index("state")
    texts = [model.text(row, column) for row in range(3)]
    assert texts == [
        "up to date",
        "behind by 3",
        STATE_FAILED + "server version 2 could not be applied: AttributeError: boom",
    ]
    assert realm_state({}) == "up to date"


def test_a_failed_state_is_marked_in_the_realms_tab(admin_window: ServerWindow, server: Any,
                                                   qtbot: Any) -> None:
    path = "/shared/state-failed"
    admin = admin_window.link.admin
    assert admin is not None
    run(qtbot, admin.create_realm(path))
    db = sqlite3.connect((server.data / "server.sqlite").resolve().as_uri() + "?mode=ro", uri=True)
    try:
        (name,) = db.execute("SELECT file FROM realms WHERE path = ?", (path,)).fetchone()
    finally:
        db.close()
    # What the state worker records when it steps over a changeset it cannot
    # apply (kept in the realm file, so an unloaded realm still reports it).
    error = "server version 2 could not be applied: AttributeError: 'str' object has no attribute"
    realm = Realm.open(server.data / "realms" / name)  # created on first use
    try:
        set_sync_values(realm, {STATE_ERROR: error})
    finally:
        realm.close()
    tab = admin_window.realms_tab
    wait(qtbot, lambda: tab.loaded)  # the window loads the list after logging in
    # Shown again after a load, the tab reloads its list (debounced): that
    # reload must see the error.
    admin_window.show_tab("Realms")
    column = [c.key for c in REALM_COLUMNS].index("state")
    wait(qtbot, lambda: path in tab.paths())
    row = tab.paths().index(path)
    assert tab.model.text(row, column) == STATE_FAILED + error
    assert "1 with a failed state" in tab.count_label.text()
    wait(qtbot, lambda: tab.busy == 0)
