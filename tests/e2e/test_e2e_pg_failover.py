"""End to end, the database fails: object server processes keep their data in
a PostgreSQL primary with a synchronous standby while App clients post
messages. (b) The primary is SIGKILLed and the standby promoted: the servers
find the new primary by themselves (multi-host DSN with
``target_session_attrs=read-write``), every acknowledged message is there,
nothing twice, all replicas converge. The simpler case: PostgreSQL crashes
and restarts on the same host, and the servers reconnect by themselves.

The scenario is tests/failover_scenario.py (benchmarks/bench_failover.py
prints its figures). As the issue asks: three server processes share the
store and six clients are spread over them (``STUDIO_FAILOVER_SERVERS`` and
``STUDIO_FAILOVER_CLIENTS`` change that).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from failover_scenario import FailoverResult, run_failover
from server_process import run

SERVER_PROCESSES = int(os.environ.get("STUDIO_FAILOVER_SERVERS", "3"))
CLIENTS = int(os.environ.get("STUDIO_FAILOVER_CLIENTS", "6"))


def check(result: FailoverResult) -> None:
    print(result.as_json())
    assert result.errors == [], "no session may stop for good"
    assert result.acknowledged_before_kill > 0, "uploads were acknowledged before the kill"
    assert result.acknowledged_missing == 0, "an acknowledged message was lost"
    assert result.duplicates == 0
    assert result.missing == 0
    assert result.replicas_equal


@pytest.mark.timeout(120)
@run
async def test_primary_killed_standby_promoted_nothing_acknowledged_is_lost(
    tmp_path: Path,
) -> None:
    check(
        await run_failover(tmp_path, mode="failover", servers=SERVER_PROCESSES, clients=CLIENTS)
    )


@pytest.mark.timeout(120)
@run
async def test_postgresql_crash_and_restart_the_servers_reconnect_by_themselves(
    tmp_path: Path,
) -> None:
    check(
        await run_failover(tmp_path, mode="restart", servers=SERVER_PROCESSES, clients=CLIENTS)
    )
