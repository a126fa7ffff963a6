"""The Users tab end to end: a user created and granted a permission there can sync;
passwords, the admin flag, suspension and deletion take effect on the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.sync.client import App, AuthenticationError
from studio.ui.demo import CHAT_SCHEMA, ServerProcess, post
from studio.ui.server import ServerWindow

pytest_plugins = ("test_server_support",)

from test_server_support import FAST, run, wait  # noqa: E402


def _record(tab: Any, name: str) -> dict[str, Any]:
    return next(u for u in tab.model.records if u["username"] == name)


def _login_fails(qtbot: Any, url: str, tmp_path: Path, name: str, password: str) -> str:
    async def attempt() -> str:
        app = App(url, config=FAST, base_dir=tmp_path / "attempt")
        try:
            await app.login(name, password)
        except AuthenticationError as exc:
            return exc.error
        finally:
            await app.close()
        return ""

    return run(qtbot, attempt())


def test_create_user_and_grant_a_permission_end_to_end(
        admin_window: ServerWindow, client: Any, server: ServerProcess, qtbot: Any,
        tmp_path: Path) -> None:
    realm_path = "/shared/carols"
    run(qtbot, admin_window.link.admin.create_realm(realm_path))  # type: ignore[union-attr]
    tab = admin_window.show_tab("Users")
    assert tab is admin_window.users_tab
    tab.new_name.setText("carol")
    tab.new_password.setText("carol-pw")
    tab.create_button.click()
    # The tab may list carol first through a reload of its own (the server's user
    # event); the action is over when it says so.
    wait(qtbot, lambda: "Created user carol" in tab.message_bar.text)
    assert "carol" in tab.names()
    assert tab.selected_name() == "carol"  # the new user is selected
    assert tab.new_password.text() == ""  # the typed password is not kept
    # Grant carol write access to the realm...
    tab.grant_realm.setCurrentText(realm_path)
    tab.grant_level.setCurrentText("write")
    tab.grant_button.click()
    wait(qtbot, lambda: {"path": realm_path, "level": "write"}
         in (_record(tab, "carol").get("realms") or []))
    assert realm_path in tab.realms_label.text()
    # ...with it, she can: her upload is acknowledged by the server.
    carol = client("carol", "carol-pw")
    realm = run(qtbot, carol.open_realm(carol.current_user, realm_path,
                                        path=tmp_path / "carol.realm", schema=CHAT_SCHEMA))
    post(realm, "carol", "hello from carol")
    run(qtbot, realm.sync_session.wait_for_upload_completion(10))
    assert realm.sync_session.error is None

    # Revoke from the same panel.
    tab.revoke_button.click()
    wait(qtbot, lambda: not _record(tab, "carol").get("realms"))


def test_password_admin_suspend_and_delete(admin_window: ServerWindow, server: ServerProcess,
                                           qtbot: Any, tmp_path: Path) -> None:
    tab = admin_window.show_tab("Users")
    run(qtbot, admin_window.link.admin.create_user("dave", "old-pw"))  # type: ignore[union-attr]
    run(qtbot, tab.reload())
    assert tab.select_user("dave")
    # Change the password: the old one stops working.
    tab.password_edit.setText("new-pw")
    tab.password_button.click()
    wait(qtbot, lambda: "Changed the password of dave" in tab.message_bar.text)
    assert _login_fails(qtbot, server.url, tmp_path, "dave", "old-pw") == "bad_credentials"
    assert _login_fails(qtbot, server.url, tmp_path, "dave", "new-pw") == ""
    # Admin on and off.
    assert tab.admin_button.text() == "Make admin"
    tab.admin_button.click()
    wait(qtbot, lambda: _record(tab, "dave")["is_admin"])
    assert tab.admin_button.text() == "Remove admin"
    tab.admin_button.click()
    wait(qtbot, lambda: not _record(tab, "dave")["is_admin"])
    # Suspend: logging in is refused; unsuspend.
    tab.suspend_button.click()
    wait(qtbot, lambda: _record(tab, "dave")["suspended"])
    assert _login_fails(qtbot, server.url, tmp_path, "dave", "new-pw") == "suspended"
    assert tab.suspend_button.text() == "Unsuspend"
    tab.suspend_button.click()
    wait(qtbot, lambda: not _record(tab, "dave")["suspended"])
    # Delete, after the question.
    tab.delete_button.click()
    assert "Delete the user dave" in tab.message_bar.text
    tab.message_bar.click("Delete")
    wait(qtbot, lambda: "dave" not in tab.names())
    assert _login_fails(qtbot, server.url, tmp_path, "dave", "new-pw") == "bad_credentials"


def test_creating_a_user_that_exists_says_so(admin_window: ServerWindow, qtbot: Any) -> None:
    tab = admin_window.show_tab("Users")
    tab.new_name.setText("admin")
    tab.new_password.setText("x")
    tab.create_button.click()
    wait(qtbot, lambda: tab.message_bar.level == "error")
    assert "admin" in tab.message_bar.text
    tab.new_name.setText("")
    tab.create_button.click()
    wait(qtbot, lambda: "needs a name and a password" in tab.message_bar.text)


@pytest.mark.parametrize("name", ["eve"])
def test_users_realms_column_lists_owned_and_granted(admin_window: ServerWindow, qtbot: Any,
                                                     name: str) -> None:
    link = admin_window.link
    assert link is not None
    run(qtbot, link.admin.create_user(name, "pw"))
    run(qtbot, link.admin.create_realm("/shared/eves"))
    run(qtbot, link.admin.set_permission("/shared/eves", name, "read"))
    tab = admin_window.users_tab
    run(qtbot, tab.reload())
    row = next(r for r in range(tab.proxy.rowCount()) if tab.proxy.record(r)["username"] == name)
    assert "/shared/eves (read)" in tab.proxy.index(row, 4).data()
