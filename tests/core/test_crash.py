"""A process killed with SIGKILL mid-write loses nothing it committed and leaves no torn
transaction behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from studio.core import Realm

WRITER = r"""
import sys
from studio.core import Realm
path = sys.argv[1]
schema = [{"name": "Entry", "primaryKey": "id",
           "properties": {"id": "int", "txn": "int", "payload": "string", "tags": "int[]"}}]
realm = Realm.open(path, schema=schema)
start = len(realm.objects("Entry")) // 3
txn = start
while True:
    with realm.write():
        for part in range(3):
            realm.create("Entry", {"id": txn * 3 + part, "txn": txn, "payload": "x" * 200,
                                   "tags": list(range(part + 1))})
    # Reported only after the commit returned: every reported transaction must survive.
    print(txn, flush=True)
    txn += 1
"""


def _run_and_kill(path: Path, wait_lines: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    last = -1
    deadline = time.monotonic() + 60
    seen = 0
    while seen < wait_lines and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        last = int(line)
        seen += 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # Lines already printed but not yet read were committed too.
    for line in proc.stdout.read().split():
        last = int(line)
    return last


def test_sigkill_in_a_loop_keeps_every_committed_transaction(tmp_path: Path) -> None:
    path = tmp_path / "crash.realm"
    for round_number in range(5):
        last_reported = _run_and_kill(path, wait_lines=20 + round_number * 13)
        assert last_reported >= 0
        with Realm.open(path) as realm:
            entries = realm.objects("Entry")
            by_txn: dict[int, int] = {}
            for entry in entries:
                by_txn[entry.txn] = by_txn.get(entry.txn, 0) + 1
                assert len(entry.tags) == entry.id % 3 + 1
            # Every reported transaction is there, whole.
            for txn in range(last_reported + 1):
                assert by_txn.get(txn) == 3, f"transaction {txn} lost or torn"
            # At most one more (committed but killed before it was reported), and whole.
            extra = [t for t in by_txn if t > last_reported]
            assert len(extra) <= 1
            assert all(by_txn[t] == 3 for t in extra)
