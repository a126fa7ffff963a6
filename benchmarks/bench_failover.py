"""Failover of the database: prints one JSON line.

Object server processes (``--servers``) keep their data in a PostgreSQL
primary with a synchronous standby; ``--clients`` App clients post messages
to one realm. Then the primary is SIGKILLed and, ``--down`` seconds later,
the standby promoted (``pg_ctl promote``); with ``--mode restart`` the killed
primary is started again instead. Each run measures:

- ``resume_after_kill_s``: from the kill until every client has had a
  message written after the recovery acknowledged (sync resumed everywhere);
- ``resume_after_recovery_s``: the same from the end of the promotion (or
  restart): what the servers and clients add to the database's own recovery;
- ``recovery_s``: how long ``pg_ctl promote`` (or the restart) took;

and checks that no acknowledged message was lost (``acknowledged_missing``),
none stored twice (``duplicates``), and every replica equal. The scenario is
tests/failover_scenario.py (the end-to-end test asserts on it);
cluster13's benchmarks/bench_cluster.py can call :func:`measure`.

Usage: python benchmarks/bench_failover.py [--runs 5] [--servers 1] [--clients 3]
       [--mode failover|restart] [--down 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the PostgreSQL and server process harnesses

from failover_scenario import FailoverResult, run_failover  # noqa: E402


async def measure(
    *, runs: int = 5, servers: int = 1, clients: int = 3, mode: str = "failover",
    down: float = 0.3,
) -> dict[str, Any]:  # fmt: skip
    """``runs`` failovers; the figures as one dict (what this script prints)."""
    results: list[FailoverResult] = []
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="studio-bench-failover-") as workdir:
            result = await run_failover(
                Path(workdir),
                mode="restart" if mode == "restart" else "failover",
                servers=servers,
                clients=clients,
                down_for=down,
            )
            results.append(result)
    out: dict[str, Any] = {
        "bench": "failover",
        "mode": mode,
        "runs": runs,
        "servers": servers,
        "clients": clients,
        "down_s": down,
    }
    for key in ("resume_after_kill_s", "resume_after_recovery_s", "recovery_s"):
        values = [getattr(r, key) for r in results]
        out[f"{key}_median"] = round(statistics.median(values), 3)
        out[f"{key}_max"] = round(max(values), 3)
    out["posted"] = sum(r.posted for r in results)
    out["acknowledged_before_kill"] = sum(r.acknowledged_before_kill for r in results)
    for key in ("acknowledged_missing", "duplicates", "missing"):
        out[key] = sum(getattr(r, key) for r in results)
    out["replicas_equal"] = all(r.replicas_equal for r in results)
    out["fatal_errors"] = sum(len(r.errors) for r in results)
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["cpus"] = os.cpu_count()
    out["load_1min"] = round(max(load_before, os.getloadavg()[0]), 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--servers", type=int, default=1, help="server processes on the store")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--mode", choices=("failover", "restart"), default="failover")
    parser.add_argument("--down", type=float, default=0.3,
                        help="seconds between the kill and the promotion (or restart)")
    args = parser.parse_args()
    result = asyncio.run(measure(runs=args.runs, servers=args.servers, clients=args.clients,
                                 mode=args.mode, down=args.down))  # fmt: skip
    print(json.dumps(result))
    return 0 if result["acknowledged_missing"] == result["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
