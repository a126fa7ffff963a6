"""The adapter SIGKILLed at random moments while a device and SQL clients write:
at the end the rows equal the objects, none missing, none doubled, nothing left
captured (docs/adapter.md, "Exactly once")."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
from adapter_support import Device, sql
from pg_support import PostgresForTests, postgres  # noqa: F401 (the fixture)
from server_process import ADMIN_PASSWORD, ROOT, ServerProcess, eventually, run

KILLS = 4


class AdapterProcess:
    """``python -m studio adapter`` that the test kills with SIGKILL."""

    def __init__(self, server: ServerProcess, dsn: str, data: Path, realms: str) -> None:
        password = data.parent / "password"
        password.write_text(ADMIN_PASSWORD)
        password.chmod(0o600)
        self.args = [
            sys.executable, "-m", "studio", "adapter", "--server", server.url,
            "--password-file", str(password), "--postgres", dsn, "--realms", realms,
            "--data", str(data), "--poll-interval", "0.1", "--rescan-interval", "0.5",
            "--log-level", "warning",
        ]  # fmt: skip
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        stdout = self.proc.stdout
        threading.Thread(target=lambda: self.output.extend(stdout or ()), daemon=True).start()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


async def device_writes(realm: Any, stop: asyncio.Event, rng: random.Random) -> None:
    """New notes and changes to notes (the device's and those SQL wrote)."""
    next_id = 1
    while not stop.is_set():
        with realm.write():
            for _ in range(rng.randint(1, 5)):
                realm.create("Note", {"_id": next_id, "text": f"device {next_id}"})
                next_id += 1
            notes = realm.objects("Note")
            if len(notes):
                note = notes[rng.randrange(len(notes))]
                note["text"] = f"device edit {next_id}"
        await asyncio.sleep(rng.uniform(0.01, 0.05))


async def sql_writes(dsn: str, stop: asyncio.Event, rng: random.Random) -> None:
    """Other SQL clients: inserts, updates of any note, a few deletes."""
    next_id = 1_000_000
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            async with conn.transaction():
                await conn.execute('INSERT INTO "Note" (_realm, "_id", text) VALUES (%s, %s, %s)',
                                   ("/adapt/crash", next_id, f"sql {next_id}"))  # fmt: skip
                next_id += 1
                await conn.execute('UPDATE "Note" SET text = %s WHERE "_id" = (SELECT "_id"'
                                   ' FROM "Note" ORDER BY random() LIMIT 1)',
                                   (f"sql edit {next_id}",))  # fmt: skip
                if rng.random() < 0.2:
                    await conn.execute('DELETE FROM "Note" WHERE "_id" = (SELECT "_id"'
                                       ' FROM "Note" ORDER BY random() LIMIT 1)')  # fmt: skip
            await asyncio.sleep(rng.uniform(0.01, 0.05))


@functools.partial(run, deadline=120)
async def test_sigkill_at_random_points_loses_and_doubles_nothing(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path  # noqa: F811
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    print(f"seed {seed}")
    dsn = postgres.dsn(postgres.new_database())
    adapter = AdapterProcess(server, dsn, tmp_path / "adapter", r"^/adapt/crash$")
    device = Device(server, tmp_path / "device")
    realm = await device.open("/adapt/crash")
    stop = asyncio.Event()
    writers: list[asyncio.Task[None]] = []
    try:
        with realm.write():
            realm.create("Note", {"_id": 0, "text": "first"})
        adapter.start()
        await eventually(lambda: sql(dsn, "SELECT to_regclass('\"Note\"') IS NOT NULL")
                         == [(True,)], timeout=30)  # fmt: skip
        writers = [asyncio.create_task(device_writes(realm, stop, rng)),
                   asyncio.create_task(sql_writes(dsn, stop, rng))]  # fmt: skip
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.6, 2.0))  # after its start-up: mid-work
            adapter.kill()
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            adapter.start()
        await asyncio.sleep(rng.uniform(0.3, 1.0))
        stop.set()
        await asyncio.gather(*writers)
        await realm.sync_session.wait_for_upload_completion(30)

        def rows() -> dict[int, str]:
            return dict(sql(dsn, 'SELECT "_id", text FROM "Note" WHERE _realm = %s',  # type: ignore[arg-type]
                            ("/adapt/crash",)))  # fmt: skip

        def objects() -> dict[int, str]:
            realm.refresh()
            return {o["_id"]: o["text"] for o in realm.objects("Note")}

        def settled() -> bool:
            return (sql(dsn, "SELECT count(*) FROM _studio_changes") == [(0,)]
                    and rows() == objects())  # fmt: skip

        try:
            await eventually(settled, timeout=40)
        except AssertionError:
            raise AssertionError(f"seed {seed}: not in step; adapter log:\n"
                                 + "".join(adapter.output[-30:])) from None  # fmt: skip
        assert sql(dsn, "SELECT count(*) FROM _studio_dead_letters") == [(0,)]
        # Nothing doubled: one row per object (the key), the SQL inserts arrived once each.
        assert len(rows()) == sql(dsn, 'SELECT count(*) FROM "Note"')[0][0]
        assert any(k >= 1_000_000 for k in objects()) and any(k < 1_000_000 for k in objects())
    finally:
        stop.set()
        for task in writers:
            task.cancel()
        adapter.stop()
        await device.close()
