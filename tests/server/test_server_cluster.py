"""Several real server processes on one PostgreSQL store (studio/server/cluster.py).

* Two processes, clients of both uploading into one realm at once: the
  realm leases serialise integration (no append ever loses the version race,
  so no client is disconnected), and everything converges.
* Three processes, six clients spread over them, uploading; one process is
  SIGKILLed: its clients reconnect to another, nothing acknowledged is lost
  or counted twice, and all converge.

These are the server's tests, so the clients are protocol-level and
reconnect elsewhere with a small test-side loop (:func:`follow`): the same
local history reopened on the next URL. The sync client's own failover
(``App([url1, url2, ...])``) against several processes is tested in
tests/e2e/test_e2e_client_failover.py and tests/e2e/test_e2e_pg_failover.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from chat_clients import SCHEMA as CHAT
from chat_clients import Writer, texts
from pg_support import PostgresForTests, postgres  # noqa: F401 (the fixture)
from server_harness import (
    SCHEMA,
    RawClient,
    admin_token,
    bump,
    call,
    grant,
    item,
    make_user,
    until,
)
from server_process import ADMIN_PASSWORD, ServerProcess, run
from websockets.exceptions import ConnectionClosed, WebSocketException

from studio.sync.client import App, SyncConfig
from studio.sync.protocol import ErrorCode

PATH = "/shared/cluster"


@pytest.fixture
def store(postgres: PostgresForTests) -> str:  # noqa: F811
    return postgres.dsn(postgres.new_database())


@pytest.fixture
def servers(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[list[ServerProcess]]:
    count = int(getattr(request, "param", 3))
    started: list[ServerProcess] = []
    try:
        started = [ServerProcess(tmp_path / f"node{n}", "--store", store) for n in range(count)]
        # The first alone (it creates the admin account), the others at once.
        started[0].start()
        others = [threading.Thread(target=s.start) for s in started[1:]]
        for thread in others:
            thread.start()
        for thread in others:
            thread.join()
        assert all(s.port for s in started), "a server process did not start"
        yield started
    finally:
        for server in started:
            server.stop()


async def follow(client: RawClient, urls: list[str], stop: asyncio.Event) -> None:
    """Keep ``client`` connected: when its server goes, reopen the same
    local history on the next URL (what a client given several URLs does)."""
    turn = urls.index(client.url)
    while not stop.is_set():
        await until(lambda: client.closed or stop.is_set(), timeout=3600, progress=client.progress)
        if stop.is_set():
            return
        turn += 1
        client.url = urls[turn % len(urls)]
        try:
            await client.connect()
        except (OSError, TimeoutError, WebSocketException):
            client.closed = True  # refused or cut short: the next URL
            await asyncio.sleep(0.05)


async def upload_for(client: RawClient, seconds: float, first: int, done: list[int]) -> None:
    """Commit an item and a counter bump every few milliseconds, connected
    or not (offline commits upload after the reconnect)."""
    deadline = time.monotonic() + seconds
    pk = first
    while time.monotonic() < deadline:
        try:
            await client.commit([*item(pk, client.name), *bump()])
        except ConnectionClosed:
            pass  # its server just died: committed locally, uploaded after the reconnect
        done.append(pk)
        pk += 1
        await asyncio.sleep(0.02)


def _counter(c: RawClient) -> object:
    found = c.state.get("Counter", "c")
    return None if found is None else found.get("value")


def _state(c: RawClient) -> str:
    counter = _counter(c)
    return (
        f"{c.name}@{c.url}: pending {len(c.history.pending)}, bound {c.bound}, "
        f"closed {c.closed}, version {c.server_version}, counter {counter}, errors {c.errors}"
    )


async def converged(clients: list[RawClient], total: int, timeout: float = 30) -> None:
    try:
        await until(
            # (the cheap checks first: the canonical form costs)
            lambda: all(not c.history.pending and c.bound and _counter(c) == total for c in clients)
            and len({c.canonical() for c in clients}) == 1,
            timeout=timeout,
            what="every client has every change once",
        )
    except TimeoutError:
        raise AssertionError(
            f"not converged ({total} commits):\n" + "\n".join(_state(c) for c in clients)
        ) from None


@pytest.mark.parametrize("servers", [2], indirect=True)
@run
async def test_two_processes_take_turns_on_one_realm(servers: list[ServerProcess]) -> None:
    urls = [s.url for s in servers]
    token = await admin_token(urls[0])
    clients = [
        RawClient(urls[n % 2], token, PATH, f"c{n}", batched=True) for n in range(4)
    ]
    await clients[0].connect()
    await clients[0].wait_bound()
    await clients[0].commit(SCHEMA)
    await clients[0].wait_uploaded()
    for client in clients[1:]:
        await client.connect()
        await client.wait_bound()
    await until(lambda: all("Counter" in c.plain() for c in clients), what="the schema everywhere")
    # The admin event stream of one process carries the other's events too.
    events: list[dict[str, object]] = []
    session = aiohttp.ClientSession()
    stream = await session.ws_connect(f"{urls[1]}/admin/events?token={token}")

    async def collect() -> None:
        async for message in stream:
            events.append(json.loads(message.data))

    collector = asyncio.create_task(collect())
    await asyncio.sleep(1.5)  # the other process hears of the subscriber
    done: list[int] = []
    await asyncio.gather(
        *(upload_for(c, 1.5, 1000 * (n + 1), done) for n, c in enumerate(clients))
    )
    await converged(clients, len(done))
    await until(
        lambda: len({e.get("node") for e in events if e["type"] == "upload"}) == 2,
        what="upload events of both processes",
    )
    collector.cancel()
    await stream.close()
    await session.close()
    # The leases kept the processes from ever integrating at once: no
    # append lost the version race, so nobody was disconnected.
    assert not any(c.errors for c in clients), [c.errors for c in clients]
    # Idents come from the store: clients of different processes never share one.
    idents = [c.history.client_file_ident for c in clients]
    assert len(set(idents)) == len(idents) and 0 not in idents
    assert set(clients[0].plain()["Item"]) == set(done)
    # A client of one process downloaded what the other's clients uploaded.
    items = clients[0].plain()["Item"]
    assert {items[pk]["name"] for pk in done} == {c.name for c in clients}
    status, listing = await call(urls[0], "GET", "/admin/realms", token=token)
    (realm,) = [r for r in listing["realms"] if r["path"] == PATH]
    assert realm["server_version"] == 1 + len(done)  # each commit stored once
    status, nodes = await call(urls[1], "GET", "/admin/nodes", token=token)
    assert status == 200
    assert sorted(n["address"] for n in nodes["nodes"]) == sorted(urls)
    assert all(n["alive"] for n in nodes["nodes"])
    assert [n["address"] for n in nodes["nodes"] if n["this"]] == [urls[1]]
    assert sum(n["sessions"] for n in nodes["nodes"]) == 4
    uploaders = {e.get("node") for e in events if e["type"] == "upload"}
    assert uploaders == {n["node"] for n in nodes["nodes"]}
    for client in clients:
        await client.close()


@run
async def test_sigkill_of_one_of_three_processes_loses_nothing(
    servers: list[ServerProcess],
) -> None:
    urls = [s.url for s in servers]
    token = await admin_token(urls[0])
    clients = [RawClient(urls[n % 3], token, PATH, f"c{n}", batched=True) for n in range(6)]
    await clients[0].connect()
    await clients[0].wait_bound()
    await clients[0].commit(SCHEMA)
    await clients[0].wait_uploaded()
    for client in clients[1:]:
        await client.connect()
        await client.wait_bound()
    await until(lambda: all("Counter" in c.plain() for c in clients), what="the schema everywhere")
    stop = asyncio.Event()
    followers = [asyncio.create_task(follow(c, urls, stop)) for c in clients]
    done: list[int] = []
    uploads = [
        asyncio.create_task(upload_for(c, 3.0, 1000 * (n + 1), done))
        for n, c in enumerate(clients)
    ]
    await asyncio.sleep(1.0)
    moved = [c for c in clients if c.url == urls[0]]
    acked_before = {c.name: c.acked for c in moved}
    killed = time.monotonic()
    servers[0].kill()
    # Sync resumes when every client of the dead process has an upload
    # acknowledged by another one.
    await until(
        lambda: all(c.url != urls[0] and c.acked > acked_before[c.name] for c in moved),
        timeout=20,
        what="the killed process's clients sync elsewhere",
    )
    resumed = time.monotonic() - killed
    await asyncio.gather(*uploads)
    await converged(clients, len(done))
    stop.set()
    for task in followers:
        task.cancel()
    assert set(clients[0].plain()["Item"]) == set(done)
    assert len(done) == len(set(done))
    # Stored once each: the schema's version, then one per commit.
    status, listing = await call(urls[1], "GET", "/admin/realms", token=token)
    assert status == 200
    (realm,) = [r for r in listing["realms"] if r["path"] == PATH]
    assert realm["server_version"] == 1 + len(done)
    print(f"sync resumed {resumed:.2f} s after the SIGKILL; {len(done)} commits")
    for client in clients:
        await client.close()


@pytest.mark.parametrize("servers", [2], indirect=True)
@run
async def test_apps_given_both_processes_move_on_when_one_is_killed(
    servers: list[ServerProcess], tmp_path: Path
) -> None:
    """The sync client's own failover against a live cluster: two Apps, each
    given both URLs in another order, write while the process one of them
    uses is SIGKILLed; that App moves to the other process by itself and
    nothing acknowledged is lost or doubled."""
    first, second = (s.url for s in servers)
    fast = SyncConfig(reconnect_initial=0.05, reconnect_max=0.5, watch_files=False)
    apps = [App([first, second], config=fast), App([second, first], config=fast)]
    try:
        writers = []
        for n, app in enumerate(apps):
            user = await app.login("admin", ADMIN_PASSWORD)
            realm = await app.open_realm(
                user, "/shared/app-failover", path=tmp_path / f"w{n}.realm", schema=CHAT
            )
            await realm.sync_session.wait_for_download_completion(20)
            writers.append(Writer(f"w{n}", realm))
        assert [app.servers.current for app in apps] == [first, second]
        tasks = [asyncio.ensure_future(w.run(0.02)) for w in writers]
        await asyncio.sleep(0.5)
        servers[0].kill()
        acknowledged = set().union(*(w.acknowledged() for w in writers))
        assert acknowledged, "uploads were acknowledged before the kill"
        mark = max(writers[0].versions.values()) + 1  # a commit after the kill
        await until(lambda: writers[0].acked >= mark, timeout=20,
                    what="the App of the killed process syncing with the other")  # fmt: skip
        assert apps[0].servers.current == second
        for w in writers:
            w.stop = True
        await asyncio.gather(*tasks)
        for w in writers:
            await w.realm.sync_session.wait_for_upload_completion(20)
        for w in writers:
            await w.realm.sync_session.wait_for_download_completion(20)
        lists = [texts(w.realm) for w in writers]
        assert lists[0] == lists[1]
        assert len(lists[0]) == len(set(lists[0])) == sum(len(w.versions) for w in writers)
        assert acknowledged <= set(lists[0])
    finally:
        for app in apps:
            await app.close()


@pytest.mark.parametrize("servers", [2], indirect=True)
@run
async def test_an_access_change_or_deletion_on_one_process_ends_sessions_on_the_other(
    servers: list[ServerProcess],
) -> None:
    """A revoked permission, a downgrade and a deleted realm take effect at
    once on every process, not only on the one the admin talked to."""
    here, there = (s.url for s in servers)
    admin = await admin_token(here)
    path = "/shared/access"
    status, _ = await call(here, "POST", "/admin/realms", {"path": path}, admin)
    assert status == 201
    tokens = {name: await make_user(here, admin, name) for name in ("revoked", "downgraded")}
    await grant(here, admin, path, "revoked", "read")
    await grant(here, admin, path, "downgraded", "write")
    clients = {name: RawClient(there, token, path, name) for name, token in tokens.items()}
    clients["admin"] = RawClient(there, admin, path, "admin")
    for client in clients.values():
        await client.connect()
        await client.wait_bound()

    body = {"path": path, "username": "revoked"}
    status, _ = await call(here, "DELETE", "/admin/permissions", body, admin)
    assert status == 204
    revoked = clients["revoked"]
    await until(lambda: bool(revoked.errors), timeout=10, what="the revoked session ends there")
    assert revoked.errors[0].code == ErrorCode.PERMISSION_DENIED

    await grant(here, admin, path, "downgraded", "read")
    downgraded = clients["downgraded"]
    await until(lambda: downgraded.bound, what="still bound")  # reading is still allowed
    await asyncio.sleep(1.0)  # the change reaches the other process (NOTIFY)
    await downgraded.commit(SCHEMA)
    await until(lambda: bool(downgraded.errors), timeout=10, what="its upload refused there")
    assert downgraded.errors[0].code == ErrorCode.PERMISSION_DENIED

    status, _ = await call(here, "DELETE", f"/admin/realms?path={path}", token=admin)
    assert status == 204
    owner = clients["admin"]
    await until(lambda: bool(owner.errors), timeout=10, what="the deleted realm's session ends")
    assert owner.errors[0].code == ErrorCode.NO_SUCH_REALM
    for client in clients.values():
        await client.close()
