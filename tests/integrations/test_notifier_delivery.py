"""Delivery guarantees: order, retries that hold a realm back but not the others,
and resuming at the stored position after a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from notifier_support import Device, commit, make_notifier
from server_process import ServerProcess, eventually, run

from studio.integrations import RealmEvent


@run
async def test_failing_handler_is_retried_later_events_wait_other_realms_go_on(
    server: ServerProcess, tmp_path: Path
) -> None:
    backend_up = asyncio.Event()
    calls: list[tuple[str, int, str]] = []

    async def flaky(event: RealmEvent) -> None:
        if event.path == "/retry/fail" and not backend_up.is_set():
            calls.append((event.path, event.server_version, "fail"))
            raise RuntimeError("the backend is down")
        calls.append((event.path, event.server_version, "ok"))

    def outcomes(path: str) -> list[tuple[int, str]]:
        return [(v, outcome) for p, v, outcome in calls if p == path]

    notifier = make_notifier(server, tmp_path / "notifier")
    notifier.on(r"^/retry/", flaky)
    device = Device(server, tmp_path / "device")
    failing = await device.open("/retry/fail")
    other = await device.open("/retry/ok")
    try:
        async with notifier:
            await commit(failing, lambda r: r.create("Note", {"_id": "first", "text": "1"}))
            await eventually(lambda: len(outcomes("/retry/fail")) >= 2)
            await commit(failing, lambda r: r.create("Note", {"_id": "second", "text": "2"}))
            await eventually(lambda: notifier.pending("/retry/fail") == 2)
            await commit(other, lambda r: r.create("Note", {"_id": "other", "text": "3"}))
            await eventually(lambda: any(o == "ok" for _v, o in outcomes("/retry/ok")))
            # Still retrying the first event; the second has not been offered.
            failed = outcomes("/retry/fail")
            assert {outcome for _v, outcome in failed} == {"fail"}
            assert len({v for v, _o in failed}) == 1
            first_version = failed[0][0]
            backend_up.set()
            await eventually(lambda: notifier.pending("/retry/fail") == 0)
            succeeded = [v for v, o in outcomes("/retry/fail") if o == "ok"]
            assert succeeded[0] == first_version
            assert len(succeeded) == 2 and succeeded[1] > first_version
            assert notifier.position("/retry/fail") == succeeded[1]
    finally:
        await device.close()


@run
async def test_restart_resumes_at_the_stored_position(
    server: ServerProcess, tmp_path: Path
) -> None:
    data = tmp_path / "notifier"
    first_run: list[list[str]] = []
    second_run: list[list[str]] = []

    async def stuck_on_purpose(event: RealmEvent) -> None:
        ids = [o["_id"] for o in event.inserted("Note")]
        first_run.append(ids)
        if "interrupted" in ids:
            await asyncio.Event().wait()  # still running when the notifier stops

    async def record(event: RealmEvent) -> None:
        second_run.append([o["_id"] for o in event.inserted("Note")])

    device = Device(server, tmp_path / "device")
    realm = await device.open("/restart/a")
    try:
        notifier = make_notifier(server, data)
        notifier.on(r"^/restart/", stuck_on_purpose)
        async with notifier:
            await commit(realm, lambda r: r.create("Note", {"_id": "handled", "text": "1"}))
            await eventually(lambda: ["handled"] in first_run)
            await commit(realm, lambda r: r.create("Note", {"_id": "interrupted", "text": "2"}))
            await eventually(lambda: ["interrupted"] in first_run)
        # While no notifier runs.
        await commit(realm, lambda r: r.create("Note", {"_id": "while-down", "text": "3"}))

        notifier = make_notifier(server, data)
        notifier.on(r"^/restart/", record)
        async with notifier:
            await eventually(lambda: ["while-down"] in second_run)
            # The unfinished event again (at least once), never the handled one.
            assert second_run == [["interrupted"], ["while-down"]]
    finally:
        await device.close()
