"""``studio demo``: the main job. Offscreen with ``--screenshot`` it starts the server and
the chat clients, waits for sync traffic on the dashboard, saves it and cleans up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _studio(*args: str, tmp: Path, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TMPDIR": str(tmp),
           # Throwaway settings: the demo must not need (or touch) the user's.
           "XDG_CONFIG_HOME": str(tmp / "config"), "HOME": str(tmp / "home")}
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env)


@pytest.mark.slow
def test_demo_screenshot_shows_sync_traffic_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "shots" / "dashboard.png"
    result = _studio("demo", "--screenshot", str(out), "--wait", "3", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.is_file()
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
    # Charts were drawn: many distinct colours, not a blank window.
    colours = {image.pixel(x, y) for x in range(0, 1280, 7) for y in range(60, 760, 7)}
    assert len(colours) > 30
    # Everything stopped and the temporary folder (server data, clients) is gone.
    assert not list(tmp_path.glob("studio-demo-*"))


def test_demo_help_and_bad_options(tmp_path: Path) -> None:
    result = _studio("demo", "--help", tmp=tmp_path, timeout=60)
    assert result.returncode == 0
    assert "--screenshot" in result.stdout and "chat clients" in result.stdout
    result = _studio("demo", "--tab", "Nope", tmp=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
