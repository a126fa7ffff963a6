"""The notifier delivers exact events for other clients' changes, and its writes sync back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from notifier_support import Device, commit, make_notifier
from server_process import ServerProcess, eventually, run

from studio.integrations import RealmEvent


def _summary(event: RealmEvent, cls: str) -> dict[str, Any]:
    return {
        "inserted": sorted(o["_id"] for o in event.inserted(cls)),
        "modified": {o["_id"]: event.old_values(o) for o in event.modified(cls)},
        "deleted": sorted(event.deleted(cls)),
    }


@run
async def test_inserted_modified_deleted_and_old_values(
    server: ServerProcess, tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []

    async def record(event: RealmEvent) -> None:
        assert event.path == "/events/a"
        assert event.server_version > 0
        seen.append(_summary(event, "Coupon"))

    notifier = make_notifier(server, tmp_path / "notifier")
    notifier.on(r"^/events/", record, classes=["Coupon"])
    device = Device(server, tmp_path / "device")
    realm = await device.open("/events/a")
    try:
        async with notifier:
            await commit(realm, lambda r: [
                r.create("Coupon", {"_id": "c1", "code": "A", "uses": 0}),
                r.create("Coupon", {"_id": "c2", "code": "B", "uses": 0}),
            ])  # fmt: skip
            await eventually(lambda: any(s["inserted"] for s in seen))
            assert [s["inserted"] for s in seen if s["inserted"]] == [["c1", "c2"]]
            start = len(seen)

            def change(r: Any) -> None:
                c1 = r.object_for_primary_key("Coupon", "c1")
                c1.code = "A2"
                c1.uses = 5
                r.delete(r.object_for_primary_key("Coupon", "c2"))

            await commit(realm, change)
            await eventually(lambda: len(seen) > start)
            assert seen[start] == {
                "inserted": [],
                "modified": {"c1": {"code": "A", "uses": 0}},
                "deleted": ["c2"],
            }
    finally:
        await device.close()


@run
async def test_handler_write_reaches_the_device_and_is_not_an_event(
    server: ServerProcess, tmp_path: Path
) -> None:
    events: list[RealmEvent] = []
    modified_by_events: list[list[str]] = []

    async def validate(event: RealmEvent) -> None:
        events.append(event)
        modified_by_events.append([o["_id"] for o in event.modified("Coupon")])
        for coupon in event.inserted("Coupon"):
            with event.realm.write():
                coupon.valid = coupon.code.startswith("OK")

    notifier = make_notifier(server, tmp_path / "notifier")
    notifier.on(r"^/writes/", validate)
    device = Device(server, tmp_path / "device")
    realm = await device.open("/writes/a")
    try:
        async with notifier:
            await commit(realm, lambda r: [
                r.create("Coupon", {"_id": "good", "code": "OK-1", "uses": 0}),
                r.create("Coupon", {"_id": "bad", "code": "NO-1", "uses": 0}),
            ])  # fmt: skip

            def validated() -> bool:
                realm.refresh()
                good = realm.object_for_primary_key("Coupon", "good")
                bad = realm.object_for_primary_key("Coupon", "bad")
                return good is not None and good.valid is True and bad.valid is False

            await eventually(validated)
            # A later change by the device is delivered; the notifier's own write
            # before it never was.
            count = len(events)
            await commit(realm, lambda r: r.create("Note", {"_id": "n", "text": "later"}))
            await eventually(lambda: len(events) > count)
            assert all(m == [] for m in modified_by_events)
            assert events[-1].classes == ("Note",)
    finally:
        await device.close()


@run
async def test_classes_filter(server: ServerProcess, tmp_path: Path) -> None:
    coupons: list[tuple[str, ...]] = []
    everything: list[tuple[str, ...]] = []

    async def on_coupons(event: RealmEvent) -> None:
        coupons.append(event.classes)

    async def on_everything(event: RealmEvent) -> None:
        everything.append(event.classes)

    notifier = make_notifier(server, tmp_path / "notifier")
    notifier.on(r"^/filter/", on_coupons, classes=["Coupon"])
    notifier.on(r"^/filter/", on_everything)
    device = Device(server, tmp_path / "device")
    realm = await device.open("/filter/a")
    try:
        async with notifier:
            await commit(realm, lambda r: r.create("Note", {"_id": "n1", "text": "x"}))
            await eventually(lambda: ("Note",) in everything)
            await commit(realm, lambda r: r.create("Coupon", {"_id": "c", "code": "C", "uses": 0}))
            await eventually(lambda: ("Coupon",) in everything)
            await eventually(lambda: bool(coupons))
            assert coupons == [("Coupon",)]
    finally:
        await device.close()


@run
async def test_realm_created_after_start_is_discovered(
    server: ServerProcess, tmp_path: Path
) -> None:
    paths: list[str] = []

    async def record(event: RealmEvent) -> None:
        paths.append(event.path)

    notifier = make_notifier(server, tmp_path / "notifier", rescan_interval=60.0)
    notifier.on(r"^/later/", record)
    device = Device(server, tmp_path / "device")
    try:
        async with notifier:
            assert "/later/new" not in notifier.realms
            realm = await device.open("/later/new")
            await commit(realm, lambda r: r.create("Note", {"_id": "n", "text": "hello"}))
            # The admin event stream tells the notifier (the rescan is a minute away).
            await eventually(lambda: "/later/new" in paths)
            assert "/later/new" in notifier.realms
    finally:
        await device.close()
