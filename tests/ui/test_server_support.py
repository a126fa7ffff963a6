"""Fixtures of the server window's tests: a real object server in a subprocess, the
qasync loop, a logged-in server window. Loaded by the ``test_server_*`` modules with
``pytest_plugins`` (it has no tests of its own)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from studio.sync.client import App, SyncConfig
from studio.ui.demo import ServerProcess
from studio.ui.server import ServerWindow
from studio.ui.server.link import LinkState

ADMIN_PASSWORD = "ui-admin-pw"
FAST = SyncConfig(reconnect_initial=0.05, reconnect_max=0.5, watch_files=False)
T = TypeVar("T")
# Server windows of the running test: closed (and their links stopped) before its loop is.
# Not qtbot.addWidget: pytest-qt would delete them before the link has stopped.
_OPEN: list[ServerWindow] = []


def start_server(data: Path, port: int = 0) -> ServerProcess:
    # A cheap password hash: these users are throwaway, and logins must be instant.
    proc = ServerProcess(data, ADMIN_PASSWORD, "--log-level", "info", "--scrypt-n", "1024",
                         port=port)
    proc.start()
    return proc


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for a module's tests (they use distinct realms and users)."""
    proc = start_server(tmp_path_factory.mktemp("server") / "data")
    yield proc
    proc.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync loop that counts as running while pytest-qt spins Qt's event loop
    (qtbot.waitUntil), so slots can start asyncio tasks as they do in the Studio."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    while _OPEN:
        window = _OPEN.pop()
        window.close()
        deadline = time.monotonic() + 10
        while window.closing is not None and not window.closing.done() \
                and time.monotonic() < deadline:
            qapp.processEvents()
        window.deleteLater()
    # Let cancelled tasks finish, then close. (loop.stop() would call QApplication.exit(),
    # which ends the next test's waits at once; mark the loop stopped instead.)
    for task in asyncio.all_tasks(loop):
        task.cancel()
    deadline = time.monotonic() + 2
    while any(not t.done() for t in asyncio.all_tasks(loop)) and time.monotonic() < deadline:
        qapp.processEvents()
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    loop.close()
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


def run(qtbot: Any, awaitable: Awaitable[T], timeout: float = 20.0) -> T:
    """Run a coroutine on the qasync loop while Qt keeps processing events."""
    task = asyncio.ensure_future(awaitable)
    qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
    return task.result()


def wait(qtbot: Any, check: Callable[[], Any], timeout: float = 10.0) -> None:
    qtbot.waitUntil(lambda: bool(check()), timeout=int(timeout * 1000))


def make_window(qtbot: Any, url: str, tmp_path: Path) -> ServerWindow:
    window = ServerWindow(url, data_dir=tmp_path / "studio-data")
    _OPEN.append(window)
    window.show()
    return window


def close_window(qtbot: Any, window: ServerWindow) -> None:
    window.close()
    if window.closing is not None:
        qtbot.waitUntil(window.closing.done, timeout=10000)


def log_in(qtbot: Any, window: ServerWindow, url: str, user: str = "admin",
           password: str = ADMIN_PASSWORD) -> bool:
    form = window.login_form
    form.url_edit.setText(url)
    form.user_edit.setText(user)
    form.password_edit.setText(password)
    task = window.login(url, user, password)
    qtbot.waitUntil(task.done, timeout=20000)
    return bool(task.result())


@pytest.fixture
def admin_window(qtbot: Any, qloop: Any, server: ServerProcess,
                 tmp_path: Path) -> Iterator[ServerWindow]:
    """A server window logged in as admin with the event stream up."""
    window = make_window(qtbot, server.url, tmp_path)
    assert log_in(qtbot, window, server.url)
    wait(qtbot, lambda: window.state is LinkState.CONNECTED)
    yield window  # closed by qloop's teardown


@pytest.fixture
def client(qtbot: Any, qloop: Any, server: ServerProcess,
           tmp_path: Path) -> Iterator[Callable[[str, str], App]]:
    """Separate devices: ``client(user, password)`` is a logged-in App of its own."""
    apps: list[App] = []

    def make(user: str, password: str) -> App:
        app = App(server.url, config=FAST, base_dir=tmp_path / f"device-{len(apps)}")
        run(qtbot, app.login(user, password))
        apps.append(app)
        return app

    yield make
    for app in apps:
        with contextlib.suppress(Exception):
            run(qtbot, app.close(), timeout=10)
