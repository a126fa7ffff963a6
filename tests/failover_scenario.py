"""The database failover, with real processes: object server processes on a
PostgreSQL primary with a synchronous standby (pg_replication.py), App
clients posting messages to one realm, then the primary SIGKILLed and the
standby recovered. Shared by tests/e2e/test_e2e_pg_failover.py (which asserts
on the outcome) and benchmarks/bench_failover.py (which prints it).
Imported by module name: ``tests/`` is on ``sys.path``.

Two ways the database comes back (``mode``): ``failover`` promotes the
standby; ``restart`` starts the killed primary again on the same host (a
crash and restart of PostgreSQL).

What it measures: from the kill, and from the recovery (promotion or
restart), until every client has had a message written after the recovery
acknowledged (sync resumed everywhere).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chat_clients import SCHEMA, Writer, texts
from pg_replication import ReplicatedPostgres
from server_process import ADMIN_PASSWORD, ServerProcess

from studio.sync.client import App, SyncConfig

REALM = "/shared/failover"
CLIENT_CONFIG = SyncConfig(reconnect_initial=0.05, reconnect_max=0.5, watch_files=False)


@dataclass
class FailoverResult:
    mode: str
    servers: int
    clients: int
    posted: int = 0
    acknowledged_before_kill: int = 0
    acknowledged_missing: int = 0
    duplicates: int = 0
    missing: int = 0
    replicas_equal: bool = False
    resume_after_kill_s: float = 0.0
    resume_after_recovery_s: float = 0.0
    recovery_s: float = 0.0
    """How long the promotion (or restart) itself took."""
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("resume_after_kill_s", "resume_after_recovery_s", "recovery_s"):
            out[key] = round(out[key], 3)
        out["errors"] = self.errors[:5]
        return out


async def _admin_setup(url: str, names: list[str]) -> None:
    admin = App(url, config=CLIENT_CONFIG)
    try:
        await admin.login("admin", ADMIN_PASSWORD)
        await admin.admin.create_realm(REALM)
        for name in names:
            await admin.admin.create_user(name, "pw")
            await admin.admin.set_permission(REALM, name, "write")
    finally:
        await admin.close()


async def run_failover(
    workdir: Path,
    *,
    mode: Literal["failover", "restart"] = "failover",
    servers: int = 1,
    clients: int = 3,
    before_kill: float = 0.8,
    down_for: float = 0.3,
    interval: float = 0.004,
    resume_timeout: float = 20.0,
) -> FailoverResult:
    """Run the scenario in ``workdir`` (PostgreSQL's files go to a temporary
    directory of their own); everything started is stopped on return."""
    result = FailoverResult(mode, servers, clients)
    cluster = ReplicatedPostgres()
    procs: list[ServerProcess] = []
    apps: list[App] = []
    writers: list[Writer] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        await asyncio.to_thread(cluster.start)
        dsn = cluster.dsn(await asyncio.to_thread(cluster.create_database, "studio"))
        for i in range(servers):
            proc = ServerProcess(workdir / f"cache-{i}", "--store", dsn)
            procs.append(proc)
            await asyncio.to_thread(proc.start)
        urls = [p.url for p in procs]
        names = [f"c{i}" for i in range(clients)]
        await _admin_setup(urls[0], names)
        for i, name in enumerate(names):
            # every client knows every server, each starting at another one
            app = App(urls[i % servers :] + urls[: i % servers], config=CLIENT_CONFIG)
            apps.append(app)
            user = await app.login(name, "pw")
            realm = await app.open_realm(
                user, REALM, path=workdir / f"{name}.realm", schema=SCHEMA
            )
            realm.sync_session.add_error_listener(
                lambda _s, e: result.errors.append(str(e)) if e.fatal else None
            )
            await realm.sync_session.wait_for_download_completion(20)
            writers.append(Writer(name, realm))
        tasks = [asyncio.ensure_future(p.run(interval)) for p in writers]
        await asyncio.sleep(before_kill)

        acknowledged = set().union(*(p.acknowledged() for p in writers))
        await asyncio.to_thread(cluster.kill_primary)
        killed = time.monotonic()
        # Acknowledgements that were under way when the primary died were
        # committed on both machines (synchronous commit) and count too.
        acknowledged |= set().union(*(p.acknowledged() for p in writers))
        result.acknowledged_before_kill = len(acknowledged)
        await asyncio.sleep(down_for)
        started = time.monotonic()
        if mode == "failover":
            await asyncio.to_thread(cluster.promote_standby)
        else:
            await asyncio.to_thread(cluster.primary.start)
        recovered = time.monotonic()
        result.recovery_s = recovered - started
        # Sync has resumed for a client once something it wrote after the
        # recovery is acknowledged.
        marks = [max(p.versions.values(), default=0) + 1 for p in writers]
        deadline = recovered + resume_timeout
        while not all(p.acked >= mark for p, mark in zip(writers, marks, strict=True)):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"sync did not resume after the {mode}: acknowledged "
                    f"{[p.acked for p in writers]}, waiting for {marks}"
                )
            await asyncio.sleep(0.005)
        resumed = time.monotonic()
        result.resume_after_kill_s = resumed - killed
        result.resume_after_recovery_s = resumed - recovered

        for p in writers:
            p.stop = True
        await asyncio.gather(*tasks)
        for p in writers:
            await p.realm.sync_session.wait_for_upload_completion(20)
        for p in writers:
            await p.realm.sync_session.wait_for_download_completion(20)
        everything = {key for p in writers for key in p.versions}
        result.posted = len(everything)
        lists = [texts(p.realm) for p in writers]
        fresh_app = App(urls[-1], config=CLIENT_CONFIG)
        apps.append(fresh_app)
        user = await fresh_app.login(names[0], "pw")
        fresh = await fresh_app.open_realm(
            user, REALM, path=workdir / "fresh.realm", wait_for_download=True, timeout=20
        )
        server_copy = texts(fresh)
        # With several server processes, a process learns of another's
        # versions by NOTIFY, or within a second by its heartbeat when a
        # notification was lost (while PostgreSQL was down): download
        # completion only means "as far as my server knows", so the
        # replicas converge within that bound, not at once.
        converge_by = time.monotonic() + 10
        while not all(lst == server_copy for lst in lists) and time.monotonic() < converge_by:
            await asyncio.sleep(0.2)
            for p in [*writers]:
                await p.realm.sync_session.wait_for_download_completion(20)
            await fresh.sync_session.wait_for_download_completion(20)
            lists = [texts(p.realm) for p in writers]
            server_copy = texts(fresh)
        result.replicas_equal = all(lst == server_copy for lst in lists)
        result.duplicates = len(server_copy) - len(set(server_copy))
        result.missing = len(everything - set(server_copy))
        result.acknowledged_missing = len(acknowledged - set(server_copy))
        return result
    finally:
        for p in writers:
            p.stop = True
        for task in tasks:
            task.cancel()
        for app in apps:
            await app.close()
        for proc in procs:
            await asyncio.to_thread(proc.stop)
        await asyncio.to_thread(cluster.close)
