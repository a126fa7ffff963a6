"""benchmarks/bench_dashboard.py in a small configuration, so that it keeps working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_dashboard_prints_one_json_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_dashboard.py"), "--rate", "200",
         "--seconds", "1", "--warmup", "0.5"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    data = json.loads(lines[0])
    assert data["rate_events_per_s"] == 200
    assert data["events_per_s"] > 50
    for key in ("loop_latency_p99_ms", "dashboard_cpu_share", "process_cpu_share",
                "events_tab_visible_loop_latency_p99_ms"):
        assert isinstance(data[key], int | float) and data[key] >= 0, key
