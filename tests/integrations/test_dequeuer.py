"""The dequeuer: PostgreSQL queue rows into realms exactly once, also when the
dequeuer process is SIGKILLed at random points (real process, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from notifier_support import FAST
from pg_support import PostgresForTests
from server_process import ADMIN_PASSWORD, ROOT, ServerProcess, eventually, run

from examples.dequeuer.orders import QUEUE, SCHEMA, write_order
from studio.integrations import (
    Dequeuer,
    DequeuerError,
    QueueMessage,
    create_queue,
    enqueue,
)
from studio.sync.client import App, SyncedRealm

REALMS = ["/dq/north", "/dq/south"]


def queue_size(dsn: str, queue: str = QUEUE) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {queue}").fetchone()
    assert row is not None
    return int(row[0])


def add_orders(dsn: str, count: int, rng: random.Random) -> list[tuple[int, str]]:
    added = []
    with psycopg.connect(dsn) as conn:
        for _ in range(count):
            realm = rng.choice(REALMS)
            added.append((enqueue(conn, realm, {"item": "tea", "qty": 1}, queue=QUEUE), realm))
    return added


async def realm_contents(server: ServerProcess, base: Path, path: str) -> tuple[list[int], int]:
    app = App(server.url, config=FAST, base_dir=base)
    user = await app.login("admin", ADMIN_PASSWORD)
    try:
        realm = await app.open_realm(user, path, schema=SCHEMA, wait_for_download=True, timeout=15)
        inbox = realm.object_for_primary_key("Inbox", "inbox")
        return ([] if inbox is None else list(inbox.arrivals), len(realm.objects("Order")))
    finally:
        await app.close()


async def started_moving(dsn: str, proc: subprocess.Popen[str]) -> None:
    waiting = queue_size(dsn)
    await eventually(lambda: queue_size(dsn) < waiting or proc.poll() is not None, timeout=20)


def start_dequeuer(server: ServerProcess, tmp: Path, dsn: str, log: Any) -> subprocess.Popen[str]:
    password = tmp / "admin-pw"
    password.write_text(ADMIN_PASSWORD + "\n")
    return subprocess.Popen(
        [sys.executable, "-m", "examples.dequeuer.orders", "--server", server.url,
         "--password-file", str(password), "--data", str(tmp / "dequeuer"), "--dsn", dsn,
         "--batch-size", "4"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=log,
        text=True,
    )  # fmt: skip


@run
async def test_every_message_lands_exactly_once_across_sigkills(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    dsn = postgres.dsn(postgres.new_database())
    with psycopg.connect(dsn) as conn:
        create_queue(conn, QUEUE)
    expected: list[tuple[int, str]] = []
    log_path = tmp_path / "dequeuer.log"
    kills = 0
    with log_path.open("w") as log:
        for _round in range(4):
            expected += add_orders(dsn, 25, rng)
            proc = start_dequeuer(server, tmp_path, dsn, log)
            try:
                # Kill it once it has started moving this round's orders, at a random point.
                await started_moving(dsn, proc)
                await asyncio.sleep(rng.uniform(0.0, 0.08))
            finally:
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    kills += 1
                proc.wait()
        starts = log_path.read_text().count("dequeuer_started")
        proc = start_dequeuer(server, tmp_path, dsn, log)
        try:
            await eventually(lambda: queue_size(dsn) == 0, timeout=30)
            # The queue may be empty before this process has even started (the
            # killed ones moved everything): SIGTERM only once it handles it.
            await eventually(
                lambda: log_path.read_text().count("dequeuer_started") > starts, timeout=30
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
    context = f"seed {seed}, {kills} kills; log {log_path}"
    for path in REALMS:
        want = sorted(i for i, realm in expected if realm == path)
        arrivals, orders = await realm_contents(server, tmp_path / "check" / path[4:], path)
        duplicates = [i for i, n in Counter(arrivals).items() if n > 1]
        assert not duplicates, f"{path}: written twice: {duplicates} ({context})"
        assert sorted(arrivals) == want, f"{path}: missing {set(want) - set(arrivals)} ({context})"
        assert orders == len(want), context
    assert kills >= 2, context


def test_a_bad_queue_name_is_refused() -> None:
    with pytest.raises(DequeuerError, match="bad queue name 'orders; drop'"):
        Dequeuer("http://x", username="a", password="p", data_dir="d", dsn="", write=write_order,
                 schema=SCHEMA, queue="orders; drop")  # fmt: skip


@run
async def test_failing_messages_stay_with_their_error_the_others_go_through(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path
) -> None:
    dsn = postgres.dsn(postgres.new_database())
    with psycopg.connect(dsn) as conn:
        create_queue(conn, "jobs")
        good = enqueue(conn, "/dq/jobs", {"item": "tea", "qty": 1}, queue="jobs")
        bad = enqueue(conn, "/dq/jobs", {"item": "tea"}, queue="jobs")  # no qty: KeyError
        conn.commit()

    def write(realm: SyncedRealm, message: QueueMessage) -> None:
        write_order(realm, message)

    dequeuer = Dequeuer(server.url, username="admin", password=ADMIN_PASSWORD,
                        data_dir=tmp_path / "dq", dsn=dsn, write=write, schema=SCHEMA,
                        queue="jobs", max_attempts=3, poll_interval=0.05,
                        sync_config=FAST)  # fmt: skip
    task = asyncio.create_task(dequeuer.run())
    try:
        await eventually(lambda: dequeuer.failed >= 3 and dequeuer.written == 1)
        await asyncio.sleep(0.3)  # no more attempts after max_attempts
        assert dequeuer.failed == 3
    finally:
        dequeuer.stop()
        await task
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT id, attempts, last_error FROM jobs").fetchall()
    assert rows == [(bad, 3, "KeyError: 'qty'")]
    assert good != bad


@run
async def test_a_receipt_in_the_realm_means_the_row_is_only_deleted(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path
) -> None:
    """As after a crash between the realm's acknowledgement and the row's deletion."""
    dsn = postgres.dsn(postgres.new_database())
    with psycopg.connect(dsn) as conn:
        create_queue(conn, "again")
        first = enqueue(conn, "/dq/again", {"item": "tea", "qty": 1}, queue="again")
        conn.commit()
    options: dict[str, Any] = dict(
        username="admin", password=ADMIN_PASSWORD, data_dir=tmp_path / "dq", dsn=dsn,
        write=write_order, schema=SCHEMA, queue="again", poll_interval=0.05, sync_config=FAST,
    )  # fmt: skip
    dequeuer = Dequeuer(server.url, **options)
    task = asyncio.create_task(dequeuer.run())
    await eventually(lambda: dequeuer.written == 1)
    dequeuer.stop()
    await task
    with psycopg.connect(dsn) as conn:  # the row comes back, as if never deleted
        conn.execute("INSERT INTO again (id, realm, body) VALUES (%s, '/dq/again', %s)",
                     (first, '{"item": "tea", "qty": 1}'))  # fmt: skip
    again = Dequeuer(server.url, **{**options, "data_dir": tmp_path / "other"})
    task = asyncio.create_task(again.run())
    started = time.monotonic()
    try:
        await eventually(lambda: again.skipped == 1)
    finally:
        again.stop()
        await task
    assert again.written == 0 and time.monotonic() - started < 15
    assert queue_size(dsn, "again") == 0
    contents = await realm_contents(server, tmp_path / "check", "/dq/again")
    assert contents == ([first], 1)


@run
async def test_the_dequeuer_connects_again_when_postgresql_drops_its_connections(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path
) -> None:
    dsn = postgres.dsn(postgres.new_database())
    with psycopg.connect(dsn) as conn:
        create_queue(conn, "drops")
        enqueue(conn, "/dq/drops", {"item": "tea", "qty": 1}, queue="drops")
        conn.commit()
    dequeuer = Dequeuer(server.url, username="admin", password=ADMIN_PASSWORD,
                        data_dir=tmp_path / "dq", dsn=dsn, write=write_order, schema=SCHEMA,
                        queue="drops", poll_interval=0.05, sync_config=FAST)  # fmt: skip
    task = asyncio.create_task(dequeuer.run())
    try:
        await eventually(lambda: dequeuer.written == 1)
        with psycopg.connect(dsn, autocommit=True) as conn:
            dropped = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
            assert len(dropped) == 2  # the dequeuer's and its listener's
            second = enqueue(conn, "/dq/drops", {"item": "mate", "qty": 2}, queue="drops")
        await eventually(lambda: dequeuer.written == 2)
    finally:
        dequeuer.stop()
        await task
    assert queue_size(dsn, "drops") == 0
    assert (await realm_contents(server, tmp_path / "check", "/dq/drops"))[0][-1] == second
