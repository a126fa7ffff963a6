"""``studio demo``: a local object server, two chatting clients, and the Studio watching.

What it does, in order:

1. starts ``python -m studio.server`` in a subprocess on a free port, with a
   temporary data directory (the Studio talks to it over the network only);
2. seeds it: users ``ann`` and ``bob``, the realms ``/shared/chat`` and
   ``/shared/inventory`` with a few objects;
3. starts two simulated chat clients (``studio.sync.client.App`` on the same
   loop) posting messages; ``bob`` goes offline for a while every cycle, keeps
   writing, and his messages merge into the chat when he is back;
4. opens the server window logged in as admin, on the dashboard.

Closing the window stops everything and removes the temporary directory.
``--screenshot OUT.png`` renders offscreen, waits until sync events have flowed
and the charts show them, saves the window and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core import ObjectId
from studio.sync.client import App, SyncConfig, SyncedRealm

if TYPE_CHECKING:
    from studio.ui.stop_signals import StopSignals

CHAT_PATH = "/shared/chat"
INVENTORY_PATH = "/shared/inventory"
# The schema of examples/chat/ (a test checks both agree).
CHAT_SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Message",
        "primaryKey": "_id",
        "properties": {
            "_id": "objectId",
            "text": "string",
            "author": {"type": "string", "indexed": True},
            "sent": "date",
            "offline": "bool",
        },
    },
    {
        "name": "Chat",
        "primaryKey": "_id",
        "properties": {"_id": "string", "title": "string", "messages": "Message[]"},
    },
]
INVENTORY_SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Product",
        "primaryKey": "sku",
        "properties": {"sku": "string", "name": "string", "stock": "int", "price": "double"},
    },
]
_LINES = (
    "Morning! Anyone seen the release notes?", "Deploying the new build now.",
    "Tests are green on my side.", "Can you review my change?", "Lunch at 12:30?",
    "The dashboard looks busy today.", "Merged. Thanks!", "I'll be on the train, offline "
    "for a bit.", "Back online.", "Syncing works even on this wifi.", "Pushed a fix.",
    "Who owns the inventory realm?", "Shipping it.", "Coffee?", "On it.",
)
_PRODUCTS = (("A-100", "Notebook", 120, 3.5), ("A-200", "Pencil", 940, 0.4),
             ("B-310", "Desk lamp", 31, 24.0), ("B-420", "Monitor arm", 12, 79.0),
             ("C-001", "USB-C cable", 260, 9.9), ("C-002", "Charger", 75, 19.5))


# -- the server subprocess -------------------------------------------------------------------

# ``python -m studio.server``, except that on Linux the server asks the kernel to stop it
# when the process that started it dies: a Studio that crashes (or is killed) must not
# leave a server running. The signal follows the starting *thread*, so start() is called
# from the main thread.
_LAUNCH = (
    "import runpy, sys\n"
    "if sys.platform.startswith('linux'):\n"
    "    import ctypes, signal\n"
    "    ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG\n"
    "runpy.run_module('studio.server', run_name='__main__', alter_sys=True)\n"
)


class ServerProcess:
    """``python -m studio.server`` on a data directory, stopped (and restartable on the
    same port) at will. Its log lines go to ``DATA/../server.log``."""

    def __init__(self, data: Path, admin_password: str, *extra: str, port: int = 0) -> None:
        self.data = data
        self.admin_password = admin_password
        self.extra = list(extra)
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = data.parent / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        """Start and wait for "listening on"; returns the URL."""
        # The password goes in the environment, not argv: other users can read argv.
        args = [sys.executable, "-c", _LAUNCH, "--data", str(self.data),
                "--port", str(self.port), *self.extra]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "STUDIO_ADMIN_PASSWORD": self.admin_password}
        self.data.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log_path, "a", encoding="utf-8") as log:
                self.proc = subprocess.Popen(
                    args, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
            url = self._wait_listening(deadline)
            if url is not None:
                break
            # After a stop a fixed port may be busy for a moment: try again. (Port 0
            # never is: the server failed for another reason, which its log says.)
            if self.port == 0 or time.monotonic() > deadline:
                tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"the object server did not start:\n{tail}")
            time.sleep(0.2)
        self.port = int(url.rsplit(":", 1)[1])
        # Nothing else is printed on stdout, but a full pipe would block the server.
        threading.Thread(target=self._drain, daemon=True).start()
        return self.url

    def _wait_listening(self, deadline: float) -> str | None:
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        timer = threading.Timer(max(0.1, deadline - time.monotonic()), proc.kill)
        timer.start()
        try:
            for line in proc.stdout:
                if "listening on " in line:
                    return line.split("listening on ", 1)[1].strip().rstrip("/")
        finally:
            timer.cancel()
        proc.wait()
        return None

    def _drain(self) -> None:
        proc = self.proc
        if proc is not None and proc.stdout is not None:
            for _line in proc.stdout:
                pass

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- seeding and the simulated clients -------------------------------------------------------


async def seed(url: str, admin_password: str, user_password: str, folder: Path) -> None:
    """Users ann and bob with write access to the chat; a small inventory realm."""
    async with App(url, base_dir=folder) as app:
        await app.login("admin", admin_password)
        existing = {u["username"] for u in await app.admin.list_users()}
        realms = {r["path"] for r in await app.admin.list_realms()}
        for path in (CHAT_PATH, INVENTORY_PATH):
            if path not in realms:
                await app.admin.create_realm(path)
        for name in ("ann", "bob"):
            if name not in existing:
                await app.admin.create_user(name, user_password)
            await app.admin.set_permission(CHAT_PATH, name, "write")
            await app.admin.set_permission(INVENTORY_PATH, name, "read")
        assert app.current_user is not None
        realm = await app.open_realm(app.current_user, INVENTORY_PATH,
                                     path=folder / "inventory.realm", schema=INVENTORY_SCHEMA)
        with realm.write():
            for sku, name, stock, price in _PRODUCTS:
                if realm.object_for_primary_key("Product", sku) is None:
                    realm.create("Product", {"sku": sku, "name": name, "stock": stock,
                                             "price": price})
        await realm.sync_session.wait_for_upload_completion(30)


def post(realm: SyncedRealm, author: str, text: str, offline: bool = False) -> None:
    """Append a message to the chat (creating the chat object on first use)."""
    with realm.write():
        chat = realm.object_for_primary_key("Chat", "main")
        if chat is None:
            chat = realm.create("Chat", {"_id": "main", "title": "Team chat"})
        message = realm.create("Message", {"_id": ObjectId(), "text": text, "author": author,
                                           "sent": datetime.now(UTC), "offline": offline})
        chat["messages"].append(message)


class ChatClient:
    """A simulated device: its own App (own websocket), posting every ``period`` s."""

    def __init__(self, url: str, name: str, password: str, folder: Path, *,
                 period: float, seed_value: int, offline_every: float = 0.0,
                 offline_for: float = 0.0) -> None:
        self.name = name
        self.password = password
        self.app = App(url, config=SyncConfig(watch_files=False), base_dir=folder)
        self.folder = folder
        self.period = period
        self.offline_every = offline_every
        self.offline_for = offline_for
        self.random = random.Random(seed_value)
        self.realm: SyncedRealm | None = None
        self.offline = False
        self.posted = 0

    async def run(self) -> None:
        user = await self.app.login(self.name, self.password)
        self.realm = await self.app.open_realm(user, CHAT_PATH, path=self.folder / "chat.realm",
                                               schema=CHAT_SCHEMA)
        started = time.monotonic()
        next_switch = started + self.offline_every if self.offline_every else None
        while True:
            await asyncio.sleep(self.period * (0.5 + self.random.random()))
            now = time.monotonic()
            if next_switch is not None and now >= next_switch:
                self.set_offline(not self.offline)
                next_switch = now + (self.offline_for if self.offline else self.offline_every)
            line = self.random.choice(_LINES)
            post(self.realm, self.name, f"{line} (written offline)" if self.offline else line,
                 self.offline)
            self.posted += 1

    def set_offline(self, offline: bool) -> None:
        """Offline: the session unbinds (writes keep landing locally); online: it binds
        again, uploads what was written meanwhile, and the server merges it."""
        assert self.realm is not None
        self.offline = offline
        if offline:
            self.realm.sync_session.pause()
        else:
            self.realm.sync_session.resume()

    async def close(self) -> None:
        await self.app.close()


# -- running it ------------------------------------------------------------------------------


class Demo:
    """The whole demo's lifetime: ``await demo.start()``, ``await demo.stop()``."""

    def __init__(self, folder: Path | None = None, *, period: float = 0.7) -> None:
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="studio-demo-"))
        self.admin_password = secrets.token_urlsafe(12)
        self.user_password = secrets.token_urlsafe(12)
        # A small scrypt cost: the demo's users are throwaway; logins stay instant.
        self.server = ServerProcess(self.folder / "server-data", self.admin_password,
                                    "--log-level", "info", "--scrypt-n", "1024")
        self.period = period
        self.clients: list[ChatClient] = []
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> str:
        # In this (the main) thread, not a worker: see _LAUNCH. Nothing is on screen yet.
        self.server.start()
        await seed(self.url, self.admin_password, self.user_password, self.folder / "seed")
        self.clients = [
            ChatClient(self.url, "ann", self.user_password, self.folder / "ann",
                       period=self.period, seed_value=1),
            ChatClient(self.url, "bob", self.user_password, self.folder / "bob",
                       period=self.period * 1.3, seed_value=2, offline_every=12.0,
                       offline_for=8.0),
        ]
        self.tasks = [asyncio.ensure_future(self._guarded(c)) for c in self.clients]
        return self.url

    async def _guarded(self, client: ChatClient) -> None:
        try:
            await client.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a demo client failing must not take the Studio down
            print(f"studio demo: the simulated client {client.name} stopped: {exc}",
                  file=sys.stderr)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.close()
        await asyncio.to_thread(self.server.stop)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


async def wait_for(check: Any, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


def parse_args(argv: Sequence[str]) -> Any:
    import argparse

    parser = argparse.ArgumentParser(
        prog="studio demo",
        description="Start a local object server with two simulated chat clients and open "
                    "the Studio's server window on it. Closing the window stops everything.")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="render offscreen, wait until sync events have flowed, save the "
                             "window as a PNG and exit")
    parser.add_argument("--tab", default="Dashboard",
                        choices=("Dashboard", "Realms", "Users", "Connections", "Sync events",
                                 "Logs", "History"),
                        help="the tab to show (default: Dashboard)")
    parser.add_argument("--wait", type=float, default=6.0, metavar="SECONDS",
                        help="with --screenshot: how long to let the charts fill (default 6)")
    parser.add_argument("--theme", choices=("light", "dark", "system"), help="colour theme")
    return parser.parse_args(list(argv))


# -- the Studio on top -----------------------------------------------------------------------


def run(screenshot: str | os.PathLike[str] | None = None, *, tab: str = "Dashboard",
        wait: float = 6.0, theme_mode: str | None = None) -> int:
    """Run the demo with the Studio's server window; returns the exit code."""
    import qasync

    from studio.ui import theme
    from studio.ui.app import ensure_application
    from studio.ui.recent import settings
    from studio.ui.stop_signals import StopSignals

    app = ensure_application(offscreen=screenshot is not None)
    mode = theme_mode or str(settings().value("theme", "system"))
    theme.apply(mode if mode in theme.MODES else "system", app)
    # The demo ends when its window closes, after stopping the clients and the server;
    # Qt must not end the loop first when the last window goes.
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            stop = (StopSignals(loop) if threading.current_thread() is threading.main_thread()
                    else None)
            try:
                return int(loop.run_until_complete(_main(screenshot, tab, wait, stop)))
            finally:
                if stop is not None:
                    stop.restore()
    finally:
        app.setQuitOnLastWindowClosed(True)
        asyncio.set_event_loop(None)


async def _main(screenshot: str | os.PathLike[str] | None, tab: str, wait: float,
                stop: StopSignals | None = None) -> int:
    """The demo until its window closes (or the screenshot is saved), or until SIGINT /
    SIGTERM: then the same orderly stop, and 128 + the signal's number."""
    demo = Demo()
    windows: list[Any] = []
    session = asyncio.ensure_future(_session(demo, windows, screenshot, tab, wait))
    try:
        if stop is None:
            return await session
        stopper = asyncio.ensure_future(stop.event.wait())
        await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not stop.event.is_set():
            return session.result()
        session.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await session
        name = signal.Signals(stop.received or signal.SIGINT).name
        print(f"studio demo: {name}: stopping the clients and the server.", file=sys.stderr,
              flush=True)
        return stop.exit_code
    finally:
        session.cancel()
        for window in windows:
            if window.isVisible():
                window.close()
                if window.closing is not None:
                    with contextlib.suppress(BaseException):
                        await window.closing
        await demo.stop()


async def _session(demo: Demo, windows: list[Any],
                   screenshot: str | os.PathLike[str] | None, tab: str, wait: float) -> int:
    from studio.ui.server import ServerWindow

    try:
        url = await demo.start()
    except Exception as exc:
        print(f"studio demo: {exc}", file=sys.stderr)
        return 1
    if screenshot is None:
        print(f"studio demo: object server at {url}; users ann and bob (password "
              f"{demo.user_password}) are chatting in {CHAT_PATH}; join them with "
              "examples/chat/chat.py. Close the Studio window (or press Ctrl+C) to stop "
              "everything.", flush=True)
    window = ServerWindow(url, data_dir=demo.folder / "studio")
    windows.append(window)
    window.resize(1280, 800)
    window.show()
    if not await window.login(url, "admin", demo.admin_password):
        print(f"studio demo: could not log in: {window.login_form.error_text}",
              file=sys.stderr)
        return 1
    window.show_tab(tab)
    if screenshot is None:
        closed = asyncio.Event()
        window.windowClosed.connect(lambda _w: closed.set())
        await closed.wait()
        if window.closing is not None:
            await window.closing
        return 0
    return await _screenshot(window, Path(screenshot), tab, wait)


async def _screenshot(window: Any, out: Path, tab: str, wait: float) -> int:
    """Wait until the charts show sync traffic (or the tab has its data), then save."""
    dashboard = window.dashboard

    def flowing() -> bool:
        uploads = dashboard.series["uploads_per_s"].values
        downloads = dashboard.series["downloads_per_s"].values
        return (dashboard.counters_seen >= wait and any(v > 0 for v in uploads)
                and any(v > 0 for v in downloads))

    if not await wait_for(flowing, timeout=max(60.0, wait * 4)):
        print("studio demo: no sync events reached the dashboard within a minute",
              file=sys.stderr)
        return 1
    if tab == "Realms":
        realms = window.realms_tab
        await wait_for(lambda: len(realms.model.records) >= 2, timeout=10)
        realms.select_path(CHAT_PATH)
        await wait_for(lambda: realms.permissions.model.rowCount() > 0, timeout=10)
    elif tab == "Users":
        await wait_for(lambda: len(window.users_tab.model.records) >= 3, timeout=10)
        window.users_tab.select_user("bob")
    elif tab == "History":
        window.history_tab.show_realm(CHAT_PATH)
        await wait_for(lambda: window.history_tab.model.rowCount() > 0, timeout=10)
    await asyncio.sleep(0.8)  # a redraw of the charts and of any list that just loaded
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out), "PNG"):
        print(f"studio demo: could not write the screenshot {out}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``studio demo [--screenshot OUT.png] [--tab NAME] [--wait S] [--theme T]``."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run(args.screenshot, tab=args.tab, wait=args.wait, theme_mode=args.theme)
