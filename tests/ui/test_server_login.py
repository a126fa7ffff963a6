"""The server window's login: success, a wrong password, an unreachable server, a TLS
problem, a non-admin user; what is remembered (and what never is)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QTabWidget, QWidget

from studio.ui.app import StudioWindows, run
from studio.ui.demo import ServerProcess
from studio.ui.recent import settings
from studio.ui.server import ServerWindow
from studio.ui.server.errors import (
    describe_connect_error,
    normalize_url,
    normalize_urls,
    username_in_url,
)
from studio.ui.server.link import LinkState
from studio.ui.server.login import remembered

pytest_plugins = ("test_server_support",)

from test_server_support import (  # noqa: E402  (after pytest_plugins, which loads it)
    ADMIN_PASSWORD,
    close_window,
    free_port,
    log_in,
    make_window,
    wait,
)
from test_server_support import run as run_async  # noqa: E402


def test_login_shows_the_tabs_and_remembers_url_and_user_not_the_password(
        qtbot: Any, qloop: Any, server: ServerProcess, tmp_path: Path,
        temp_settings: Path) -> None:
    window = make_window(qtbot, server.url, tmp_path)
    assert window.objectName() == "serverWindow"
    assert window.pages.currentWidget() is window.login_form
    assert log_in(qtbot, window, server.url)
    wait(qtbot, lambda: window.state is LinkState.CONNECTED)
    tabs = window.findChild(QTabWidget, "serverTabs")
    assert tabs is not None and window.pages.currentWidget() is tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == [
        "Dashboard", "Realms", "Users", "Connections", "Nodes", "Sync events", "Logs", "History"]
    assert window.findChild(QWidget, "dashboard") is window.dashboard
    assert "Connected" in window.indicator.text() and "admin" in window.indicator.text()
    assert remembered() == (server.url, "admin")
    assert window.login_form.password_edit.text() == ""  # not kept in the form either
    settings().sync()
    stored = "".join(p.read_text(errors="replace") for p in temp_settings.rglob("*")
                     if p.is_file())
    assert server.url in stored and ADMIN_PASSWORD not in stored
    # The users list arrives after the login (the admin is there).
    wait(qtbot, lambda: "admin" in window.users_tab.names())
    close_window(qtbot, window)
    # A new window offers what was remembered.
    again = ServerWindow(data_dir=tmp_path / "again")
    qtbot.addWidget(again)
    assert again.login_form.url_edit.text() == server.url
    assert again.login_form.user_edit.text() == "admin"
    assert again.login_form.password_edit.text() == ""


def test_wrong_password_says_so_and_stays_on_the_form(qtbot: Any, qloop: Any,
                                                      server: ServerProcess,
                                                      tmp_path: Path) -> None:
    window = make_window(qtbot, server.url, tmp_path)
    assert not log_in(qtbot, window, server.url, password="not the password")
    assert "Wrong username or password" in window.login_form.error_text
    assert window.pages.currentWidget() is window.login_form
    assert window.login_form.connect_button.isEnabled()
    assert window.state is LinkState.DISCONNECTED
    assert remembered() == ("", "")  # nothing remembered from a failed login
    close_window(qtbot, window)


def test_unreachable_server_and_tls_problem(qtbot: Any, qloop: Any, server: ServerProcess,
                                           tmp_path: Path) -> None:
    window = make_window(qtbot, "", tmp_path)
    closed = f"http://127.0.0.1:{free_port()}"
    assert not log_in(qtbot, window, closed)
    assert "Cannot reach the server" in window.login_form.error_text
    assert "running" in window.login_form.error_text
    # https:// to a server that speaks plain HTTP: the TLS handshake fails.
    tls = server.url.replace("http://", "https://")
    assert not log_in(qtbot, window, tls)
    text = window.login_form.error_text
    assert "TLS" in text and "http://" in text, text
    close_window(qtbot, window)


def test_a_user_who_is_not_an_admin_is_told_so(qtbot: Any, qloop: Any, server: ServerProcess,
                                               tmp_path: Path) -> None:
    from studio.sync.client import App

    async def make_user() -> None:
        async with App(server.url, base_dir=tmp_path / "admin") as app:
            await app.login("admin", ADMIN_PASSWORD)
            await app.admin.create_user("plain", "plain-pw")

    run_async(qtbot, make_user())
    window = make_window(qtbot, server.url, tmp_path)
    assert not log_in(qtbot, window, server.url, user="plain", password="plain-pw")
    assert "not an admin" in window.login_form.error_text
    close_window(qtbot, window)


def test_the_form_checks_the_address_before_connecting(qtbot: Any, qloop: Any,
                                                       tmp_path: Path) -> None:
    window = make_window(qtbot, "", tmp_path)
    form = window.login_form
    form.url_edit.setText("ftp://example.com")
    form.user_edit.setText("admin")
    form.submit()
    assert "not a server address" in form.error_text
    form.url_edit.setText("localhost:9080")
    form.user_edit.setText("")
    form.submit()
    assert "username" in form.error_text
    assert window.link is None  # nothing was sent
    close_window(qtbot, window)


def test_url_helpers() -> None:
    assert normalize_url("localhost:9080/") == "http://localhost:9080"
    assert normalize_url("https://admin@example.com:8443/x?y") == "https://example.com:8443"
    assert normalize_url(" http://[::1]:9080 ") == "http://[::1]:9080"
    for bad in ("", "ftp://x", "http://", "http://host:99999"):
        with pytest.raises(ValueError):
            normalize_url(bad)
    assert username_in_url("http://ann@host:1") == "ann"
    assert username_in_url("host:1") == ""
    assert normalize_urls("a:1, http://admin@b:2/,a:1") == "http://a:1,http://b:2"
    with pytest.raises(ValueError, match="not a server address"):
        normalize_urls("a:1,ftp://b")
    with pytest.raises(ValueError, match="Enter the server"):
        normalize_urls(" , ")
    assert describe_connect_error(None, "x") == ""
    assert "did not answer in time" in describe_connect_error(TimeoutError(), "http://x")


def test_greeting_offers_connect_and_connect_option_prefills(qtbot: Any, tmp_path: Path,
                                                            server: ServerProcess) -> None:
    manager = StudioWindows(demo_path=tmp_path / "demo.realm")
    greeting = manager.show_greeting()
    assert greeting.connect_button.text().startswith("Connect to server")
    greeting.connect_button.click()
    assert len(manager.servers) == 1
    window = manager.servers[0]
    assert window.objectName() == "serverWindow" and window.isVisible()
    manager.close_all()
    assert manager.servers == []
    # `studio --connect URL --screenshot OUT.png`: the login form, prefilled, rendered.
    out = tmp_path / "login.png"
    url = server.url.replace("http://", "http://ann@")
    assert run(connect=url, screenshot=out) == 0
    image = QImage(str(out))
    assert not image.isNull() and image.width() > 600


def test_connect_takes_several_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """``studio --connect A,B`` and ``--connect A --connect B`` both open the
    server window for the two servers (the client moves on between them)."""
    import studio.ui.app
    from studio.cli import main

    opened: list[str | None] = []
    monkeypatch.setattr(studio.ui.app, "run", lambda *_a, **kw: opened.append(kw["connect"]) or 0)
    assert main(["--connect", "http://a:1,http://b:2"]) == 0
    assert main(["--connect", "http://a:1", "--connect", "http://b:2"]) == 0
    assert main(["--connect", "http://a:1"]) == 0
    assert main([]) == 0
    assert opened == ["http://a:1,http://b:2", "http://a:1,http://b:2", "http://a:1", None]
