"""``studio demo`` without ``--screenshot``: closing its window stops the chat clients
and the server subprocess and removes the temporary folder (run offscreen)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent('''
    import os, sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    import studio.ui.demo as demo
    from studio.ui.app import ensure_application

    ensure_application(offscreen=True)  # before the timer below (demo.run reuses it)
    made = []
    original = demo.Demo.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    demo.Demo.__init__ = init

    def close_when_busy():
        for widget in QApplication.topLevelWidgets():
            dashboard = getattr(widget, "dashboard", None)
            if widget.objectName() == "serverWindow" and dashboard is not None \\
                    and dashboard.sync_events_seen >= 3:
                widget.close()  # what the user does
                return
        QTimer.singleShot(200, close_when_busy)

    QTimer.singleShot(200, close_when_busy)
    code = demo.run()
    d = made[0]
    print("exit", code)
    print("server stopped", d.server.proc.poll() is not None)
    print("clients stopped", all(t.done() for t in d.tasks))
    print("folder removed", not d.folder.exists())
''')


@pytest.mark.slow
def test_closing_the_demo_window_stops_everything(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TMPDIR": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=150, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "exit 0" in lines
    assert "server stopped True" in lines
    assert "clients stopped True" in lines
    assert "folder removed True" in lines
    # The demo says how to join the chat.
    assert "users ann and bob" in result.stdout
