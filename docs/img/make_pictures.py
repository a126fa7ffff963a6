"""Make the pictures of docs/img again, offscreen, from the current code.

    PYTHONPATH=. python docs/img/make_pictures.py [NAME ...]

NAME is a picture's file name without ``.png`` (all of them when none is given). The
browser pictures use the demo realm in a scratch folder (/tmp/realms, so that the path
in the status bar reads the same every time) and throwaway settings; the server pictures
run ``studio demo --screenshot`` (a local server and two chat clients, ~30 s each).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
SCRATCH = Path("/tmp/realms")
CORPUS = ROOT.parent / "shared" / "realm-corpus"
SIZE = (1280, 800)

# studio demo --screenshot: file name -> (tab, seconds of traffic before the grab)
SERVER_PICTURES = {
    "server-dashboard": ("Dashboard", 30),
    "server-realms": ("Realms", 15),
    "server-history": ("History", 10),
    "server-sync-events": ("Sync events", 10),
}


def _settle(ms: int = 600) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _save(window: object, name: str) -> None:
    from PySide6.QtWidgets import QWidget

    assert isinstance(window, QWidget)
    window.resize(*SIZE)
    window.show()
    _settle()
    if not window.grab().save(str(OUT / f"{name}.png"), "PNG"):
        raise OSError(f"could not write {name}.png")
    print(f"docs/img/{name}.png")


def _demo_realm() -> Path:
    from studio.demo import build_demo_realm

    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = SCRATCH / "demo.realm"
    for old in SCRATCH.glob("demo.realm*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    build_demo_realm(path)
    return path


def greeting(demo: Path) -> None:
    from studio.ui.app import StudioWindows
    from studio.ui.recent import RecentFiles

    backup = SCRATCH / "library-backup.realm"
    shutil.copyfile(demo, backup)
    recent = RecentFiles()
    for path in (SCRATCH / "orders.realm", backup, demo):  # orders.realm: missing
        recent.add(path)
    windows = StudioWindows(recent)
    _save(windows.show_greeting(), "greeting")
    windows.close_all()


def browser(demo: Path) -> None:
    from studio.ui.browser import RealmBrowser

    window = RealmBrowser.open(demo)
    window.show_class("Book")
    _save(window, "browser")
    window.close()


def browser_dark_query(demo: Path) -> None:
    from studio.ui import theme
    from studio.ui.browser import RealmBrowser
    from studio.ui.navigation import ViewSpec

    theme.apply("dark")
    try:
        window = RealmBrowser.open(demo)
        window.navigate(ViewSpec("class", "Book",
                                 query="genre == 'Poetry' AND pages > 300"))
        _save(window, "browser-dark-query")
        window.close()
    finally:
        theme.apply("light")


def inspector(demo: Path) -> None:
    from PySide6.QtGui import QAction

    from studio.ui.browser import RealmBrowser
    from studio.ui.navigation import ViewSpec

    window = RealmBrowser.open(demo)
    window.navigate(ViewSpec("class", "Book", query="pages > 300"))
    window.resize(1400, 860)
    window.show()
    action = window.findChild(QAction, "inspectorAction")
    assert isinstance(action, QAction)
    action.trigger()
    window.table.selectRow(2)
    _settle()
    window.grab().save(str(OUT / "inspector.png"), "PNG")
    print("docs/img/inspector.png")
    window.close()


def realmcore_browser(_demo: Path) -> None:
    from studio.ui.browser import RealmBrowser
    from studio.ui.navigation import ViewSpec

    # A copy: the status bar shows the file's path.
    path = SCRATCH / "default.realm"
    shutil.copyfile(CORPUS / "js__packages_realm-tools_samples_default.realm", path)
    window = RealmBrowser.open(path)
    window.navigate(ViewSpec("class", "Parent", query="children.@count >= 2"))
    window.show()
    for _ in range(50):  # the query runs in the worker
        _settle(100)
        if window.model.total_rows:
            break
    _save(window, "realmcore-browser")
    window.close()


BROWSER_PICTURES: dict[str, Callable[[Path], None]] = {
    "greeting": greeting,
    "browser": browser,
    "browser-dark-query": browser_dark_query,
    "inspector": inspector,
    "realmcore-browser": realmcore_browser,
}


def server_picture(name: str) -> None:
    tab, wait = SERVER_PICTURES[name]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "studio", "demo", "--screenshot",
                    str(OUT / f"{name}.png"), "--tab", tab, "--wait", str(wait)],
                   check=True, env=env, cwd=ROOT, timeout=300)
    print(f"docs/img/{name}.png")


def main(names: list[str]) -> int:
    wanted = names or [*BROWSER_PICTURES, *SERVER_PICTURES]
    unknown = [n for n in wanted if n not in BROWSER_PICTURES and n not in SERVER_PICTURES]
    if unknown:
        print(f"unknown pictures: {', '.join(unknown)}", file=sys.stderr)
        return 2
    browser_names = [n for n in wanted if n in BROWSER_PICTURES]
    if browser_names:
        from PySide6.QtCore import QSettings

        import studio.ui  # noqa: F401  (first: the PySide6 guard)
        from studio.ui.app import ensure_application

        ensure_application(offscreen=True)
        settings = tempfile.mkdtemp(prefix="studio-pictures-")
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings)
        try:
            demo = _demo_realm()
            for name in browser_names:
                BROWSER_PICTURES[name](demo)
        finally:
            shutil.rmtree(settings, ignore_errors=True)
    for name in wanted:
        if name in SERVER_PICTURES:
            server_picture(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
