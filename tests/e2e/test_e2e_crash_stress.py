"""End to end, the small configuration of benchmarks/stress_crash.py: the
server is SIGKILLed at random moments and restarted, three times, while three
clients upload (in small uploads, so a resend after a restart is split) and
download. No session may stop, nothing acknowledged may be lost, nothing may
be stored twice, and all replicas must end equal. (The long run, 50 cycles,
is the benchmark itself; its figures are in docs/sync.md.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_random_kills_lose_nothing_and_stop_no_session(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "stress_crash.py"), "--cycles", "3",
         "--clients", "3", "--pause", "0.1", "--max-upload", "20", "--settle-timeout", "120"],
        capture_output=True, text=True, timeout=290, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    report = json.dumps(data)  # "seed" reproduces the run
    assert data["cycles"] == 3
    assert data["fatal_errors"] == 0, report
    assert data["not_settled"] == [], report
    assert data["acknowledged_checked"] > 0, report
    assert data["acknowledged_missing"] == 0, report
    assert data["duplicates"] == 0, report
    assert data["missing"] == 0, report
    assert data["replicas_equal"] is True, report
