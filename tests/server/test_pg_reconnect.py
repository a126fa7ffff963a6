"""The PostgreSQL store outlives its database server: after PostgreSQL is
restarted (or replaced by a promoted standby) the pooled connections are
dead, and the store must reconnect by itself instead of failing one call per
dead connection. A PostgreSQL of their own (pg_replication.py): these tests
stop it, which the session's shared server must not be."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_replication import ReplicatedPostgres

from studio.server.storage.base import UserRecord
from studio.server.storage.errors import StorageError
from studio.server.storage.postgres import PostgresServerStorage
from studio.server.storage.postgres_schema import LOST_SERVER_DEFAULTS, lost_server_settings


@pytest.fixture
def single() -> Iterator[ReplicatedPostgres]:
    cluster = ReplicatedPostgres().start(with_standby=False)
    yield cluster
    cluster.close()


def user(name: str) -> UserRecord:
    return UserRecord(name, "hash", False, False, time.time(), 0, f"id-{name}")


def fill_pool(storage: PostgresServerStorage, n: int) -> None:
    """Make the pool hold ``n`` idle connections (n calls at once)."""
    import threading

    barrier = threading.Barrier(n)

    def call() -> None:
        barrier.wait()
        storage.count_users()

    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_every_call_after_a_postgresql_restart_succeeds(
    single: ReplicatedPostgres, tmp_path: Path
) -> None:
    dsn = single.primary.dsn(single.create_database("studio"))
    storage = PostgresServerStorage(dsn, tmp_path / "cache", state_in_process=True, pool_size=4)
    try:
        fill_pool(storage, 4)
        storage.create_user(user("before"))
        single.primary.restart()  # every pooled connection is cut
        # Not one call fails: the dead idle connections are replaced.
        for i in range(6):
            storage.create_user(user(f"after{i}"))
        assert storage.count_users() == 7
    finally:
        storage.close()


def test_calls_fail_clearly_while_postgresql_is_down_and_work_once_it_is_back(
    single: ReplicatedPostgres, tmp_path: Path
) -> None:
    dsn = single.primary.dsn(single.create_database("studio"))
    storage = PostgresServerStorage(dsn, tmp_path / "cache", state_in_process=True, pool_size=4)
    try:
        fill_pool(storage, 4)
        single.primary.kill()
        with pytest.raises(StorageError, match="PostgreSQL"):
            storage.count_users()
        single.primary.start()
        assert storage.count_users() == 0
    finally:
        storage.close()


def test_a_dsn_gets_timeouts_for_a_vanished_machine_unless_it_sets_them() -> None:
    """A dead machine refuses nothing: without connect and TCP timeouts the
    server would wait minutes on it instead of trying the next host."""
    added = lost_server_settings("host=a,b dbname=studio target_session_attrs=read-write", {})
    assert added == LOST_SERVER_DEFAULTS
    added = lost_server_settings(
        "postgresql://u@a,b/studio?connect_timeout=3&tcp_user_timeout=5000", {}
    )
    assert "connect_timeout" not in added and "tcp_user_timeout" not in added
    assert added["keepalives_idle"] == "10"
    assert "connect_timeout" not in lost_server_settings("dbname=x", {"PGCONNECT_TIMEOUT": "4"})


def test_a_dsn_libpq_cannot_read_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="not a valid PostgreSQL connection string"):
        PostgresServerStorage("host=a dbname", tmp_path / "cache")


def test_http_calls_answer_503_while_the_store_is_down_and_work_after(
    single: ReplicatedPostgres, tmp_path: Path
) -> None:
    """While PostgreSQL is down an HTTP call that needs it answers 503
    ``store_unavailable`` with Retry-After (a client of several servers, or
    a load balancer, may try another; all say the same when they share the
    store), not an internal error; once it is back the same call works."""
    import asyncio

    import aiohttp
    from server_harness import ADMIN_PASSWORD, running_server

    dsn = single.primary.dsn(single.create_database("studio"))
    login = {"username": "admin", "password": ADMIN_PASSWORD}

    async def body() -> None:
        async with (
            running_server(tmp_path / "cache", store=dsn) as server,
            aiohttp.ClientSession() as http,
        ):
            async with http.post(server.url + "/auth/login", json=login) as resp:
                assert resp.status == 200
            await asyncio.to_thread(single.primary.kill)
            async with http.post(server.url + "/auth/login", json=login) as resp:
                answer = await resp.json()
                assert resp.status == 503, answer
                assert answer["error"]["code"] == "store_unavailable"
                assert "try again" in answer["error"]["message"]
                assert int(resp.headers["Retry-After"]) > 0
            await asyncio.to_thread(single.primary.start)
            async with http.post(server.url + "/auth/login", json=login) as resp:
                assert resp.status == 200

    asyncio.run(body())


def test_the_uri_form_of_a_multi_host_dsn_finds_the_promoted_standby(tmp_path: Path) -> None:
    """``postgresql://...?host=A,B&target_session_attrs=read-write`` (the
    key=value form is the end-to-end test's): after the primary is killed
    and the standby promoted, the store writes to the standby, with what it
    had committed before."""
    import urllib.parse

    cluster = ReplicatedPostgres().start()
    try:
        database = cluster.create_database("studio")
        hosts = urllib.parse.quote(f"{cluster.primary.socket_dir},{cluster.standby.socket_dir}")
        uri = (
            f"postgresql://postgres@/{database}?host={hosts}&port=5432,5432"
            "&target_session_attrs=read-write"
        )
        storage = PostgresServerStorage(uri, tmp_path / "cache", state_in_process=True)
        try:
            storage.create_user(user("before"))
            cluster.kill_primary()
            with pytest.raises(StorageError):
                storage.create_user(user("nobody writes now"))
            cluster.promote_standby()
            storage.create_user(user("after"))
            assert [u.username for u in storage.list_users()] == ["after", "before"]
        finally:
            storage.close()
        assert cluster.standby.query("SELECT count(*) FROM studio_users", database) == [(2,)]
    finally:
        cluster.close()
