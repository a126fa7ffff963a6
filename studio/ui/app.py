"""The Studio application: windows, the qasync event loop, and ``--screenshot``.

The ``studio`` command calls :func:`run`::

    studio                                  -> run()                      greeting window
    studio PATH... [--class C] [--query Q]  -> run([PATH...], class_name=C, query=Q)
    studio ... --screenshot OUT.png         -> run(..., screenshot="OUT.png")  offscreen, exit 0
    studio --connect URL[,URL...]           -> run(connect=URL)           server window
    studio demo [--screenshot OUT.png]      -> run_demo(...)              server + clients + window
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QStandardPaths, QThread
from PySide6.QtWidgets import QApplication, QWidget

from studio.ui import errors, theme
from studio.ui.browser import RealmBrowser
from studio.ui.greeting import GreetingWindow
from studio.ui.icon import application_icon
from studio.ui.navigation import ViewSpec
from studio.ui.recent import APPLICATION, ORGANIZATION, RecentFiles, settings

SCREENSHOT_SIZE = (1280, 800)


def load_schema_file(path: str | os.PathLike[str]) -> tuple[list[Any], int | None]:
    """A schema JSON file: a list of classes, or ``{"schema": [...], "schemaVersion": n}``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and "schema" in data:
        version = data.get("schemaVersion")
        return list(data["schema"]), int(version) if version is not None else None
    if isinstance(data, dict):
        return [data], None
    if not isinstance(data, list):
        raise ValueError(f"{path}: a schema file holds a list of classes")
    return data, None


def default_demo_path() -> Path:
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(folder or Path.home() / ".studio") / "demo.realm"


class StudioWindows(QObject):
    """Every window of the application: one greeting window, any number of browsers."""

    def __init__(self, recent: RecentFiles | None = None, demo_path: Path | None = None) -> None:
        super().__init__()
        self.recent = recent or RecentFiles()
        self.demo_path = demo_path
        self.browsers: list[RealmBrowser] = []
        self.servers: list[QWidget] = []  # server windows (studio.ui.server.ServerWindow)
        self.greeting: GreetingWindow | None = None
        self.last_error = ""

    # -- windows ------------------------------------------------------------------------------

    def show_greeting(self) -> GreetingWindow:
        if self.greeting is None:
            self.greeting = GreetingWindow(self, self.recent)
        self.greeting.refresh_recent()
        self.greeting.show()
        self.greeting.raise_()
        return self.greeting

    def show_server(self, url: str = "") -> QWidget:
        """A server window with its login form (``url`` prefilled when given)."""
        from studio.ui.server import ServerWindow

        window = ServerWindow(url, manager=self)
        self.servers.append(window)
        window.windowClosed.connect(lambda w: self.servers.remove(w) if w in self.servers
                                    else None)
        window.show()
        window.raise_()
        return window

    def report(self, text: str) -> None:
        """An error with no window of its own: shown in the greeting window (or stderr)."""
        self.last_error = text
        if self.greeting is not None and not self.greeting.isHidden():
            self.greeting.message_bar.show_message(text, "error")
        elif self.browsers:
            self.browsers[-1].show_message(text, "error")
        else:
            print(f"studio: {text}", file=sys.stderr)

    def _register(self, browser: RealmBrowser, path: str) -> RealmBrowser:
        self.browsers.append(browser)
        browser.closed.connect(self._closed)
        self.recent.add(path)
        if self.greeting is not None:
            self.greeting.refresh_recent()
        browser.show()
        return browser

    def _closed(self, browser: RealmBrowser) -> None:
        if browser in self.browsers:
            self.browsers.remove(browser)

    def browser_for(self, path: str | os.PathLike[str]) -> RealmBrowser | None:
        wanted = Path(path).resolve()
        for browser in self.browsers:
            if Path(browser.realm.path).resolve() == wanted:
                return browser
        return None

    # -- opening ------------------------------------------------------------------------------

    def open_path(self, path: str | os.PathLike[str], *, read_only: bool = False,
                  class_name: str | None = None, query: str | None = None
                  ) -> RealmBrowser | None:
        """A browser on ``path`` (the open one, if it is open already), or None after
        reporting why it could not be opened."""
        existing = self.browser_for(path) if Path(path).exists() else None
        browser = existing
        if browser is None:
            try:
                # a studio realm, or a genuine Realm Core file (read-only, with a banner)
                opened = RealmBrowser.open(path, read_only=read_only, manager=self)
            except Exception as exc:
                self.report(errors.describe(exc, str(path)))
                return None
            browser = self._register(opened, str(path))
        else:
            browser.show()
            browser.raise_()
            browser.activateWindow()
        if class_name:
            if browser.schema_of(class_name) is None:
                names = ", ".join(s.name for s in browser.realm.schema)
                browser.show_message(f"This realm has no class {class_name!r}; its classes are: "
                                     f"{names}.", "error")
            else:
                browser.navigate(ViewSpec("class", class_name, query=query or ""))
        elif query and browser.current_spec is not None:
            browser.navigate(ViewSpec("class", browser.current_spec.class_name, query=query))
        return browser

    def open_paths(self, paths: Sequence[str]) -> list[RealmBrowser]:
        opened = [self.open_path(p) for p in paths]
        return [b for b in opened if b is not None]

    def create_realm(self, path: str | os.PathLike[str],
                     schema_file: str | os.PathLike[str] | None = None) -> RealmBrowser | None:
        """A new realm file, empty (add classes in the browser) or from a schema file."""
        from studio.core import Realm

        target = Path(path)
        if target.exists():
            self.report(f"{target} exists already; choose a new file name (nothing was "
                        "overwritten).")
            return None
        try:
            schema, version = load_schema_file(schema_file) if schema_file else ([], None)
            Realm.open(target, schema=schema, schema_version=version).close()
        except Exception as exc:
            self.report(errors.describe(exc, str(schema_file or target)))
            # The file did not exist before: leave nothing half-made behind.
            for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
                leftover.unlink(missing_ok=True)
            return None
        browser = self.open_path(target)
        if browser is not None and not schema:
            browser.show_message("A new, empty realm: add its first class with "
                                 "Schema > Add class.", "info")
        return browser

    def open_demo(self) -> RealmBrowser | None:
        """The demo realm (generated deterministically on first use)."""
        from studio.demo import build_demo_realm

        path = self.demo_path or default_demo_path()
        open_already = self.browser_for(path) if path.exists() else None
        if open_already is None and not path.exists():
            try:
                build_demo_realm(path)
            except Exception as exc:
                self.report(errors.describe(exc, str(path)))
                return None
        return self.open_path(path)

    def windows(self) -> list[QWidget]:
        out: list[QWidget] = list(self.browsers) + list(self.servers)
        if self.greeting is not None and not self.greeting.isHidden():
            out.insert(0, self.greeting)
        return out

    def close_all(self) -> None:
        for server in list(self.servers):
            server.close()
        for browser in list(self.browsers):
            browser.close()
        if self.greeting is not None:
            self.greeting.close()


def ensure_application(offscreen: bool = False) -> QApplication:
    if offscreen and QApplication.instance() is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before the first QApplication only
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "studio"])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Studio")
    app.setDesktopFileName("studio")  # packaging/linux/studio.desktop: Wayland's app id
    app.setWindowIcon(application_icon())
    return app


def settle(app: QApplication, rounds: int = 6) -> None:
    """Let deferred work run (first page, listeners, layout) before a grab."""
    for _ in range(rounds):
        app.processEvents()
        QThread.msleep(15)


def save_screenshot(window: QWidget, out: str | os.PathLike[str],
                    size: tuple[int, int] = SCREENSHOT_SIZE) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    window.resize(*size)
    window.show()
    settle(app)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(target), "PNG"):
        raise OSError(f"could not write the screenshot {target}")


def run(
    paths: Sequence[str | os.PathLike[str]] = (),
    *,
    class_name: str | None = None,
    query: str | None = None,
    screenshot: str | os.PathLike[str] | None = None,
    read_only: bool = False,
    theme_mode: str | None = None,
    connect: str | None = None,
) -> int:
    """Run the Studio; returns the process exit code.

    No ``paths``: the greeting window. With paths: a browser per file, showing
    ``class_name`` filtered by ``query`` when given. ``screenshot``: render the window
    offscreen, write the PNG, close everything and return 0 (1 when a file could not be
    opened, with the reason on stderr). ``connect``: a server window for that URL (its login
    form; ``http://user@host:port`` prefills the username; several comma-separated
    URLs: servers of one store, the window moves on when one cannot be reached).
    """
    app = ensure_application(offscreen=screenshot is not None)
    mode = theme_mode or str(settings().value("theme", "system"))
    theme.apply(mode if mode in theme.MODES else "system", app)
    manager = StudioWindows()
    window: QWidget | None = None
    if connect is not None:
        window = manager.show_server(connect)
    elif paths:
        opened = [manager.open_path(str(p), read_only=read_only, class_name=class_name,
                                    query=query) for p in paths]
        if screenshot is not None and any(b is None for b in opened):
            manager.close_all()
            return 1
        window = next((b for b in reversed(opened) if b is not None), None)
        if window is None:
            greeting = manager.show_greeting()
            window = greeting
            if manager.last_error:
                greeting.message_bar.show_message(manager.last_error, "error")
    else:
        window = manager.show_greeting()
    if screenshot is not None:
        try:
            save_screenshot(window, screenshot)
        except OSError as exc:
            print(f"studio: {exc}", file=sys.stderr)
            return 1
        finally:
            manager.close_all()
        return 0
    return _exec(app, manager)


def run_demo(screenshot: str | os.PathLike[str] | None = None, *, tab: str = "Dashboard",
             wait: float = 6.0, theme_mode: str | None = None) -> int:
    """``studio demo``: a local server subprocess, two simulated chat clients and the server
    window on them (see :mod:`studio.ui.demo`); returns the exit code."""
    from studio.ui import demo

    return demo.run(screenshot, tab=tab, wait=wait, theme_mode=theme_mode)


def _exec(app: QApplication, manager: StudioWindows) -> int:
    """Qt's loop driven through qasync, so windows can await network work later."""
    import qasync

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    quitting = asyncio.Event()
    app.aboutToQuit.connect(quitting.set)
    with loop:
        loop.run_until_complete(quitting.wait())
    manager.close_all()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m studio.ui``: the same options as the ``studio`` command's GUI part."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m studio.ui", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", help="realm files to open")
    parser.add_argument("--class", dest="class_name", help="class to show")
    parser.add_argument("--query", help="query (Realm Query Language) to apply")
    parser.add_argument("--screenshot", help="write a PNG of the window and exit")
    parser.add_argument("--read-only", action="store_true", help="open without write access")
    parser.add_argument("--theme", choices=theme.MODES, help="light, dark or system palette")
    parser.add_argument("--connect", metavar="URL", action="append",
                        help="open the server window for URL (several: URL,URL or repeated)")
    args = parser.parse_args(argv)
    return run(args.paths, class_name=args.class_name, query=args.query,
               screenshot=args.screenshot, read_only=args.read_only, theme_mode=args.theme,
               connect=",".join(args.connect) if args.connect else None)
