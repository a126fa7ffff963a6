"""A changeset the state worker cannot apply is caught, reported (log,
admin event ``state_error``, ``/health`` degraded naming the realm, the
admin API's ``state_error``) and stepped over; the worker keeps serving the
other realms, and the report survives a restart.

Such a changeset can no longer be uploaded (the upload check refuses it), so
the test switches the check off, as for a history stored before it existed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from server_harness import SCHEMA, RawClient, admin_token, call, item, running_server, until

from studio.primitives.instructions import CreateObject, ListInsert
from studio.primitives.instructions import Set as SetValue
from studio.server.realms import LoadedRealm, RealmHub
from studio.server.storage.base import RealmStats
from studio.server.storage.errors import StorageError
from studio.sync.history import ServerHistory

BROKEN = "/shared/broken"
FINE = "/shared/fine"


async def _realm(url: str, token: str, path: str) -> dict[str, Any]:
    status, body = await call(url, "GET", "/admin/realms", token=token)
    assert status == 200, body
    return next(r for r in body["realms"] if r["path"] == path)


def test_a_changeset_the_state_cannot_apply_is_reported_not_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LoadedRealm, "check_upload", lambda self, changesets, now_ms: None)

    async def body() -> None:
        async with running_server(tmp_path) as server:
            events = server.ctx.bus.subscribe()
            token = await admin_token(server.url)
            status, health = await call(server.url, "GET", "/health")
            assert status == 200 and health["status"] == "ok" and "problems" not in health
            a = await RawClient(server.url, token, BROKEN, "a").connect()
            b = await RawClient(server.url, token, FINE, "b").connect()
            await a.wait_bound()
            await b.wait_bound()
            await a.commit(SCHEMA)
            # A list instruction on a string: the core raises AttributeError.
            await a.commit(
                [
                    CreateObject("Item", 1),
                    SetValue("Item", 1, ("name",), "text"),
                    ListInsert("Item", 1, ("name",), 0, "x"),
                ],
                apply=False,
            )
            await a.commit(item(2, "after the culprit"))
            await a.sync()
            await b.commit(SCHEMA)
            await b.commit(item(1, "fine"))
            await b.sync()
            hub = server.ctx.hub
            await until(lambda: BROKEN in hub.state_errors, what="the state error reported")
            error = hub.state_errors[BROKEN]
            assert "server version 2 could not be applied: AttributeError" in error
            seen = []
            while not events.queue.empty():
                seen.append(events.queue.get_nowait())
            reported = [(e["realm"], e["error"]) for e in seen if e["type"] == "state_error"]
            assert reported == [(BROKEN, error)]
            status, health = await call(server.url, "GET", "/health")
            assert status == 200 and health["status"] == "degraded"
            assert health["problems"] == [{"realm": BROKEN, "kind": "state", "error": error}]
            # The culprit is stepped over: the state goes on to version 3.
            broken = await _realm(server.url, token, BROKEN)
            assert broken["state_error"] == error
            await until(lambda: hub.get(BROKEN).stats.state_version == 3, what="broken at 3")  # type: ignore[union-attr]
            # The worker keeps serving the other realm.
            await until(
                lambda: hub.get(FINE).stats is not None  # type: ignore[union-attr]
                and hub.get(FINE).stats.state_version == 2,  # type: ignore[union-attr]
                what="fine realm's state follows",
            )
            fine = await _realm(server.url, token, FINE)
            assert fine["state_error"] is None and fine["objects"] == 2
            await a.close()
            await b.close()
        # After a restart, the report comes back once the realm is loaded.
        async with running_server(tmp_path) as server:
            token = await admin_token(server.url)
            c = await RawClient(server.url, token, BROKEN, "c").connect()
            await c.wait_bound()
            await until(lambda: BROKEN in server.ctx.hub.state_errors, what="reported again")
            status, health = await call(server.url, "GET", "/health")
            assert health["status"] == "degraded"
            # Deleting the realm ends the report.
            status, _ = await call(
                server.url, "DELETE", f"/admin/realms?path={BROKEN}", token=token
            )
            assert status in (200, 204)
            status, health = await call(server.url, "GET", "/health")
            assert health["status"] == "ok"
            await c.close()

    asyncio.run(body())


class _FlakyStore:
    """A realm store whose state update fails as told (the worker died, a bug)."""

    def __init__(self) -> None:
        self.failures: list[Exception] = []

    def update_state(self, max_changesets: int) -> RealmStats:
        if self.failures:
            raise self.failures.pop(0)
        return RealmStats(1, 0, 0, 0)


def test_worker_failures_are_reported_and_cleared_once_it_works_again() -> None:
    async def body() -> None:
        async def run(fn: Any, *args: Any) -> Any:
            return fn(*args)

        hub = RealmHub(None, run, state_delay=0.0, idle_unload=60.0)  # type: ignore[arg-type]
        reported: list[tuple[str, str]] = []
        hub.on_state_error = lambda path, error: reported.append((path, error))
        store = _FlakyStore()
        realm = LoadedRealm("/r", store, ServerHistory())  # type: ignore[arg-type]
        store.failures = [
            StorageError("the state worker process died; it will be restarted"),
            AttributeError("a bug"),
        ]
        for expected in (
            "the state worker process died; it will be restarted",
            "AttributeError: a bug",
        ):
            hub.schedule_state(realm, delay=0)
            await asyncio.sleep(0.05)
            assert hub.state_errors == {"/r": expected}
        assert reported == [("/r", "the state worker process died; it will be restarted"),
                            ("/r", "AttributeError: a bug")]
        hub.schedule_state(realm, delay=0)
        await asyncio.sleep(0.05)
        assert hub.state_errors == {}  # the worker works again

    asyncio.run(body())
