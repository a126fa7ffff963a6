"""``studio server --store postgresql://...`` end to end: a server process
keeping everything in a PostgreSQL that the tests started (pg_support.py),
two sync clients converging through it, then a restart (a new process with
an empty cache directory: a server keeps nothing but caches) that still has
every account, grant, realm and changeset."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from pg_support import PostgresForTests, postgres  # noqa: F401 (the fixture)
from server_harness import (
    SCHEMA,
    RawClient,
    admin_token,
    call,
    grant,
    item,
    login,
    make_user,
    running_server,
    until,
)
from server_process import ADMIN_PASSWORD, FAST_SCRYPT, ROOT

from studio.primitives.instructions import Changeset
from studio.server.storage.base import RealmWrite, StoredEntry
from studio.server.storage.postgres import PostgresServerStorage
from studio.sync.history import HistoryEntry

PATH = "/shared/chat"


class StudioServer:
    """``studio server --store DSN`` in a subprocess."""

    def __init__(self, store: str, cache: Path) -> None:
        self.store = store
        self.cache = cache
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60) -> str:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from studio.cli import main; sys.exit(main())",
                "server",
                "--store",
                self.store,
                "--data",
                str(self.cache),
                "--port",
                "0",
                "--admin-password",
                ADMIN_PASSWORD,
                "--scrypt-n",
                str(FAST_SCRYPT),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                _, err = self.proc.communicate()
                raise RuntimeError(f"server exited with {self.proc.returncode}: {err}")
            if line.startswith("listening on "):
                return line.split()[-1]
        raise TimeoutError("the server did not start")

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        code = self.proc.wait(timeout=30)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code


def test_studio_server_on_postgresql_converges_and_keeps_everything_across_a_restart(
    postgres: PostgresForTests,  # noqa: F811
    tmp_path: Path,
) -> None:
    store = postgres.uri(postgres.new_database())

    async def first_run(url: str) -> tuple[RawClient, RawClient]:
        admin = await admin_token(url)
        ann = await make_user(url, admin, "ann", "ann-pw")
        await make_user(url, admin, "bob", "bob-pw")
        await grant(url, admin, PATH, "ann", "write")
        await grant(url, admin, PATH, "bob", "write")
        bob = await login(url, "bob", "bob-pw")
        a = await RawClient(url, ann, PATH, "a").connect()
        b = await RawClient(url, bob, PATH, "b").connect()
        await a.wait_bound()
        await b.wait_bound()
        await a.commit(SCHEMA)
        await a.commit(item(1, "from a"))
        await b.commit(item(2, "from b"))
        await a.sync()
        await b.sync()
        await until(lambda: a.canonical() == b.canonical(), what="a and b converge")
        assert set(a.plain()["Item"]) == {1, 2}

        async def listed() -> dict[str, object]:
            _, listing = await call(url, "GET", "/admin/realms", token=admin)
            (realm,) = [r for r in listing["realms"] if r["path"] == PATH]
            return dict(realm)

        # the state cache follows the history in PostgreSQL (object counts)
        deadline = time.monotonic() + 20
        realm = await listed()
        while realm["objects"] != 3 or realm["state_version"] != realm["server_version"]:
            assert time.monotonic() < deadline, realm
            await asyncio.sleep(0.05)
            realm = await listed()
        assert realm["clients"] == 2
        for client in (a, b):
            await client.close()
        return a, b

    server = StudioServer(store, tmp_path / "cache-1")
    url = server.start()
    try:
        a, b = asyncio.run(first_run(url))
    finally:
        assert server.stop() == 0

    async def second_run(url: str) -> None:
        admin = await admin_token(url)  # the admin created by the first run
        ann = await login(url, "ann", "ann-pw")
        status, users = await call(url, "GET", "/admin/users", token=admin)
        assert status == 200 and {u["username"] for u in users["users"]} >= {"admin", "ann", "bob"}
        # the same device resumes from its cursors, and a new one gets everything
        a.url, a.token = url, ann
        await a.connect()
        await a.wait_bound()
        await a.commit(item(3, "after restart"))
        await a.sync()
        c = await RawClient(url, ann, PATH, "c").connect()
        await c.wait_bound()
        await until(lambda: c.canonical() == a.canonical(), what="c has everything")
        assert set(c.plain()["Item"]) == {1, 2, 3}
        assert c.history.client_file_ident not in (
            a.history.client_file_ident,
            b.history.client_file_ident,
        )
        status, history = await call(url, "GET", f"/admin/realms/history?path={PATH}", token=admin)
        assert status == 200
        versions = [ch["server_version"] for ch in history["changesets"]]
        assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 4
        for client in (a, c):
            await client.close()

    server = StudioServer(store, tmp_path / "cache-2")  # a fresh cache: rebuilt
    url = server.start()
    try:
        asyncio.run(second_run(url))
    finally:
        assert server.stop() == 0


def test_import_studio_server_needs_no_postgresql_driver() -> None:
    """The drivers are optional (studio[postgres]) and imported lazily."""
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = None; sys.modules['asyncpg'] = None\n"
        "import studio.server, studio.server.app, studio.server.storage.factory\n"
        "from studio.server.config import parse_config\n"
        "parse_config(['--store', 'postgresql://u@h/db'], env={})\n"
        "from studio.server.storage.factory import open_storage\n"
        "try:\n"
        "    open_storage('postgresql://u@h/db', None)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=True,
    ).stdout
    assert out.startswith("StorageError") and "studio[postgres]" in out


def _store_foreign_version(dsn: str, cache: Path, text: str) -> None:
    """What another server process does: store the realm's next version."""
    other = PostgresServerStorage(dsn, cache, state_in_process=True)
    try:
        store = other.open_realm(PATH)
        latest = len(store.load().entries)
        now_ms = int(time.time() * 1000)
        foreign = Changeset(99, 1, latest, now_ms, tuple(item(50, text)))
        entry = HistoryEntry(latest + 1, 99, 1, foreign.timestamp_ms, foreign, 0)
        store.append(RealmWrite([StoredEntry(entry, "admin")]))
        store.close()
    finally:
        other.close()


def test_a_version_another_process_stored_reaches_this_servers_clients(
    postgres: PostgresForTests,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Another server process (here: another storage object on the same
    database) stores a version of the realm: its NOTIFY makes this server
    load it into its history, its client downloads it without reconnecting,
    and the client's next upload merges on top of it."""
    dsn = postgres.dsn(postgres.new_database())

    async def body() -> None:
        async with running_server(tmp_path / "cache", store=dsn) as server:
            token = await admin_token(server.url)
            a = await RawClient(server.url, token, PATH, "a").connect()
            await a.wait_bound()
            await a.commit(SCHEMA)
            await a.commit(item(1, "first"))
            await a.sync()
            _store_foreign_version(dsn, tmp_path / "other", "other")
            await until(lambda: 50 in a.plain().get("Item", {}), what="the other version")
            await a.commit(item(2, "after the other"))
            await a.sync()
            assert not a.closed and not a.errors
            assert set(a.plain()["Item"]) == {1, 2, 50}
            b = await RawClient(server.url, token, PATH, "b").connect()
            await b.wait_bound()
            await until(lambda: b.canonical() == a.canonical(), what="b has everything")
            for client in (a, b):
                await client.close()

    asyncio.run(body())


def test_a_server_that_lost_an_append_race_reloads_and_merges_again(
    postgres: PostgresForTests,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The safety net under the realm leases: should another process store a
    version this server has not loaded (here: its catching up is switched
    off), this server's next append fails the version check, stores
    nothing, ends the sessions, and the client's reconnect merges its upload
    with the other process's version."""
    dsn = postgres.dsn(postgres.new_database())

    async def body() -> None:
        async with running_server(tmp_path / "cache", store=dsn) as server:
            cluster = server.ctx.cluster
            assert cluster is not None
            token = await admin_token(server.url)
            a = await RawClient(server.url, token, PATH, "a").connect()
            await a.wait_bound()
            await a.commit(SCHEMA)
            await a.commit(item(1, "first"))
            await a.sync()

            async def deaf(realm: object) -> None:
                return None

            cluster.catch_up = deaf  # type: ignore[method-assign]
            await asyncio.sleep(0.3)  # a catch-up already under way ends first
            _store_foreign_version(dsn, tmp_path / "other", "other")
            await a.commit(item(2, "after the race"))
            await until(lambda: a.closed, what="the server ends the session")
            assert "another server process" in a.errors[0].message
            a.errors.clear()
            await a.connect()
            await a.wait_bound()
            await a.sync()
            await until(lambda: 50 in a.plain().get("Item", {}), what="the other version")
            assert set(a.plain()["Item"]) == {1, 2, 50}
            b = await RawClient(server.url, token, PATH, "b").connect()
            await b.wait_bound()
            await until(lambda: b.canonical() == a.canonical(), what="b has everything")
            for client in (a, b):
                await client.close()

    asyncio.run(body())

