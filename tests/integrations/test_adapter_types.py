"""Both directions for every property type, with no echo."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from adapter_support import Device, asql, make_adapter, sql
from pg_support import PostgresForTests, postgres  # noqa: F401 (the fixture)
from server_process import ServerProcess, eventually, run

from studio.primitives.objectid import ObjectId

WHEN = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
OID = ObjectId("65f1a2b3c4d5e6f708192a3b")
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def full_item(realm: object) -> dict[str, object]:
    person = realm.create("Person", {"_id": OID, "name": "Ann"})  # type: ignore[attr-defined]
    return {
        "_id": "a", "count": 2**40, "flag": True, "ratio": 2.5, "small": 1.5,
        "price": Decimal("12.345"), "oid": OID, "uid": UID, "when": WHEN, "blob": b"\x00\xff",
        "any": "text in mixed", "tags": ["x", "y"], "nums": [3, 1], "attrs": {"k": 0.5},
        "owner": person, "friends": [person], "address": {"street": "Main", "city": None},
    }  # fmt: skip


@run
async def test_realm_to_postgres_every_type(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path  # noqa: F811
) -> None:
    dsn = postgres.dsn(postgres.new_database())
    device = Device(server, tmp_path / "device")
    realm = await device.open("/adapt/types")
    with realm.write():
        realm.create("Item", full_item(realm))
    await realm.sync_session.wait_for_upload_completion(15)
    adapter = make_adapter(server, tmp_path / "adapter", dsn, realms=r"^/adapt/types$")
    try:
        async with adapter:
            await eventually(lambda: "/adapt/types" in adapter.ready_realms)
            rows = sql(dsn, 'SELECT _realm, "_id", "count", flag, ratio, small, price, oid, uid,'
                       ' "when", blob, "any", tags, nums, attrs, owner, friends, address'
                       ' FROM "Item"')  # fmt: skip
            assert rows == [(
                "/adapt/types", "a", 2**40, True, 2.5, 1.5, Decimal("12.345"), str(OID), UID,
                WHEN, b"\x00\xff", "text in mixed", ["x", "y"], [1, 3], {"k": 0.5}, str(OID),
                [str(OID)], {"street": "Main", "city": None},
            )]  # fmt: skip
            assert sql(dsn, 'SELECT "_id", name FROM "Person"') == [(str(OID), "Ann")]
            # A change and a deletion arrive as the devices make them.
            with realm.write():
                item = realm.object_for_primary_key("Item", "a")
                assert item is not None
                item["count"] = -7
                item["any"] = Decimal("1.5")
                item["tags"].append("z")
                realm.create("Note", {"_id": 1, "text": "hello"})
            await realm.sync_session.wait_for_upload_completion(15)
            await eventually(lambda: sql(dsn, 'SELECT count(*) FROM "Note"') == [(1,)])
            assert sql(dsn, 'SELECT "count", "any", tags FROM "Item"') == [
                (-7, {"$numberDecimal": "1.5"}, ["x", "y", "z"])
            ]
            with realm.write():
                realm.delete(realm.object_for_primary_key("Note", 1))
            await realm.sync_session.wait_for_upload_completion(15)
            await eventually(lambda: sql(dsn, 'SELECT count(*) FROM "Note"') == [(0,)])
            version = sql(dsn, "SELECT server_version FROM _studio_state WHERE realm = %s",
                          ("/adapt/types",))  # fmt: skip
            assert version and version[0][0] > 0
            # The adapter's own writes were not captured: nothing to sync back.
            assert sql(dsn, "SELECT count(*) FROM _studio_changes") == [(0,)]
    finally:
        await device.close()


@run
async def test_postgres_to_realm_every_type_without_echo(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path  # noqa: F811
) -> None:
    dsn = postgres.dsn(postgres.new_database())
    device = Device(server, tmp_path / "device")
    realm = await device.open("/adapt/sql")
    with realm.write():
        realm.create("Person", {"_id": OID, "name": "Ann"})
    await realm.sync_session.wait_for_upload_completion(15)
    adapter = make_adapter(server, tmp_path / "adapter", dsn, realms=r"^/adapt/sql$")
    try:
        async with adapter:
            await eventually(lambda: "/adapt/sql" in adapter.ready_realms)
            await asql(
                dsn, 'INSERT INTO "Item" (_realm, "_id", "count", flag, ratio, small, price, oid,'
                ' uid, "when", blob, "any", tags, nums, attrs, owner, friends, address) VALUES'
                " ('/adapt/sql', 'b', 5, false, 0.25, 2.5, 99.5, %s, %s, %s, '\\x0102',"
                """ '{"$oid": "65f1a2b3c4d5e6f708192a3b"}', '["p"]', '[2, 2, 4]', '{"z": 1.25}',"""
                """ %s, %s, '{"street": "Elm"}')""",
                (str(OID), UID, WHEN, str(OID), psycopg_json([str(OID)])))  # fmt: skip

            def item() -> object:
                realm.refresh()
                return realm.object_for_primary_key("Item", "b")

            await eventually(lambda: item() is not None)
            obj = realm.object_for_primary_key("Item", "b")
            assert obj is not None
            assert (obj["count"], obj["flag"], obj["ratio"], obj["small"], obj["price"]) == (
                5, False, 0.25, 2.5, Decimal("99.5"))  # fmt: skip
            assert (obj["oid"], obj["uid"], obj["when"], obj["blob"], obj["any"]) == (
                OID, UID, WHEN, b"\x01\x02", OID)  # fmt: skip
            assert list(obj["tags"]) == ["p"] and sorted(obj["nums"]) == [2, 4]
            assert dict(obj["attrs"]) == {"z": 1.25}
            assert obj["owner"]["name"] == "Ann" and [p["name"] for p in obj["friends"]] == ["Ann"]
            assert (obj["address"]["street"], obj["address"]["city"]) == ("Elm", None)
            # An UPDATE sets only the columns it changed; a DELETE erases.
            with realm.write():
                obj["ratio"] = 9.0  # the device's change to another property stays
            await realm.sync_session.wait_for_upload_completion(15)
            await eventually(lambda: sql(dsn, """SELECT ratio FROM "Item" WHERE "_id" = 'b'""")
                             == [(9.0,)])  # fmt: skip
            await asql(dsn, """UPDATE "Item" SET "count" = 6, tags = '["q", "r"]'"""
                       """ WHERE "_id" = 'b'""")  # fmt: skip
            await eventually(lambda: item() is not None and obj["count"] == 6)
            assert list(obj["tags"]) == ["q", "r"] and obj["ratio"] == 9.0
            await asql(dsn, """DELETE FROM "Item" WHERE "_id" = 'b'""")
            await eventually(lambda: item() is None)
            # No echo: nothing captured is left, no change went round again.
            await eventually(lambda: sql(dsn, "SELECT count(*) FROM _studio_changes") == [(0,)])
            assert sql(dsn, "SELECT count(*) FROM _studio_dead_letters") == [(0,)]
            assert sql(dsn, 'SELECT count(*) FROM "Item"') == [(0,)]
    finally:
        await device.close()


def psycopg_json(value: object) -> object:
    from psycopg.types.json import Jsonb

    return Jsonb(value)


@run
async def test_sql_update_of_the_key_moves_the_object(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path  # noqa: F811
) -> None:
    dsn = postgres.dsn(postgres.new_database())
    device = Device(server, tmp_path / "device")
    realm = await device.open("/adapt/move")
    with realm.write():
        realm.create("Note", {"_id": 1, "text": "one"})
    await realm.sync_session.wait_for_upload_completion(15)
    adapter = make_adapter(server, tmp_path / "adapter", dsn, realms=r"^/adapt/move$")
    try:
        async with adapter:
            await eventually(lambda: "/adapt/move" in adapter.ready_realms)
            await asql(dsn, """UPDATE "Note" SET "_id" = 2 WHERE "_id" = 1""")

            def keys() -> list[int]:
                realm.refresh()
                return [o["_id"] for o in realm.objects("Note")]

            await eventually(lambda: keys() == [2])
            assert realm.object_for_primary_key("Note", 2)["text"] == "one"
            await eventually(lambda: sql(dsn, "SELECT count(*) FROM _studio_changes") == [(0,)])
            assert sql(dsn, 'SELECT "_id", text FROM "Note"') == [(2, "one")]
    finally:
        await device.close()


@run
async def test_erasing_a_linked_object_rewrites_the_rows_that_linked_to_it(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path  # noqa: F811
) -> None:
    dsn = postgres.dsn(postgres.new_database())
    device = Device(server, tmp_path / "device")
    realm = await device.open("/adapt/unlink")
    with realm.write():
        realm.create("Item", full_item(realm))
    await realm.sync_session.wait_for_upload_completion(15)
    adapter = make_adapter(server, tmp_path / "adapter", dsn, realms=r"^/adapt/unlink$")
    try:
        async with adapter:
            await eventually(lambda: "/adapt/unlink" in adapter.ready_realms)
            assert sql(dsn, 'SELECT owner, friends FROM "Item"') == [(str(OID), [str(OID)])]
            with realm.write():  # the device erases Ann: the realm drops the links to her
                realm.delete(realm.object_for_primary_key("Person", OID))
            await realm.sync_session.wait_for_upload_completion(15)
            await eventually(lambda: sql(dsn, 'SELECT owner, friends FROM "Item"') == [(None, [])])
            assert sql(dsn, 'SELECT count(*) FROM "Person"') == [(0,)]
            # The same when SQL erases the target.
            await asql(dsn, """INSERT INTO "Person" VALUES ('/adapt/unlink', %s, 'Bob')""",
                       (str(OID),))  # fmt: skip
            await asql(dsn, """UPDATE "Item" SET owner = %s, friends = %s""",
                (str(OID), psycopg_json([str(OID)])))  # fmt: skip

            def owner() -> object:
                realm.refresh()
                item = realm.object_for_primary_key("Item", "a")
                return item is not None and item["owner"] is not None

            await eventually(owner)
            await asql(dsn, 'DELETE FROM "Person"')
            await eventually(lambda: sql(dsn, 'SELECT owner, friends FROM "Item"') == [(None, [])])
            await eventually(lambda: not owner())
    finally:
        await device.close()
