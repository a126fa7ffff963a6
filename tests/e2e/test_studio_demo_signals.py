"""``studio demo`` stopped by a signal (issue 16, defect 4): Ctrl+C (SIGINT) exits with
130 and no traceback, SIGTERM with 143; either way the chat clients and the server
subprocess stop and the temporary folder is removed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _port_open(url: str) -> bool:
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_demo_cleanly(tmp_path: Path, signum: int, code: int) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TMPDIR": str(temp),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "studio", "demo"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killer = threading.Timer(120, proc.kill)
    killer.start()
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()  # printed once the server runs and the users exist
        assert "object server at " in line, proc.stderr.read()
        url = line.split("object server at ", 1)[1].split(";", 1)[0]
        assert _port_open(url)
        assert [p.name for p in temp.iterdir() if p.name.startswith("studio-demo-")]
        proc.send_signal(signum)
        _stdout, stderr = proc.communicate(timeout=60)
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert signal.Signals(signum).name in stderr  # one line says why it stopped
    assert not [p for p in temp.iterdir() if p.name.startswith("studio-demo-")]
    assert not _port_open(url)  # the server subprocess is gone
