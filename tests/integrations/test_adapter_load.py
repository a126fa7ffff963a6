"""Initial loads both ways, dead letters, and schema additions while running."""

from __future__ import annotations

from pathlib import Path

from adapter_support import Device, asql, make_adapter, sql
from pg_support import PostgresForTests, postgres  # noqa: F401 (the fixture)
from server_process import ServerProcess, eventually, run

NOTE_ONLY = [{"name": "Note", "primaryKey": "_id", "properties": {"_id": "int", "text": "string"}}]


@run
async def test_database_rows_load_into_a_new_realm(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path  # noqa: F811
) -> None:
    dsn = postgres.dsn(postgres.new_database())
    # A table made by hand before the adapter ever ran, with rows for a realm
    # that does not exist on the server yet.
    sql(dsn, 'CREATE TABLE "Note" (_realm text NOT NULL, "_id" bigint, text text,'
        ' PRIMARY KEY (_realm, "_id"))')  # fmt: skip
    sql(dsn, """INSERT INTO "Note" VALUES ('/adapt/seeded', 1, 'one'),"""
        " ('/adapt/seeded', 2, 'two'), ('/adapt/not-mine', 3, 'not for this adapter')")
    device = Device(server, tmp_path / "device")
    adapter = make_adapter(server, tmp_path / "adapter", dsn, realms=r"^/adapt/seeded$")
    try:
        async with adapter:
            await eventually(lambda: "/adapt/seeded" in adapter.ready_realms, timeout=20)
            realm = await device.open("/adapt/seeded", schema=[])
            await realm.sync_session.wait_for_download_completion(15)
            realm.refresh()
            assert {o["_id"]: o["text"] for o in realm.objects("Note")} == {1: "one", 2: "two"}
            # The realm's class came from the table: int key, optional text.
            assert realm.object_schema("Note").get_property("text").type_string == "string?"
            # The hand-made table is captured like the adapter's own.
            await asql(dsn, """UPDATE "Note" SET text = 'uno' WHERE "_id" = 1""")
            await eventually(lambda: realm.refresh() is not None and
                             realm.object_for_primary_key("Note", 1)["text"] == "uno")  # fmt: skip
            assert sql(dsn, "SELECT realm FROM _studio_state") == [("/adapt/seeded",)]
    finally:
        await device.close()


@run
async def test_bad_rows_go_to_the_dead_letters_and_nothing_else_stops(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path  # noqa: F811
) -> None:
    dsn = postgres.dsn(postgres.new_database())
    device = Device(server, tmp_path / "device")
    realm = await device.open("/adapt/dead")
    with realm.write():
        realm.create("Note", {"_id": 1, "text": "kept"})
    await realm.sync_session.wait_for_upload_completion(15)
    adapter = make_adapter(server, tmp_path / "adapter", dsn, realms=r"^/adapt/dead$")
    try:
        async with adapter:
            await eventually(lambda: "/adapt/dead" in adapter.ready_realms)
            # text is required
            await asql(dsn, """INSERT INTO "Note" VALUES ('/adapt/dead', 2, NULL)""")
            await asql(dsn, """UPDATE "Note" SET text = NULL WHERE "_id" = 1""")
            await asql(dsn, """INSERT INTO "Item" (_realm, "_id", "count", ratio, oid, "any","""
                       """ tags, nums, attrs, friends) VALUES ('/adapt/dead', 'x', 1, 1,"""
                       """ 'not an object id', 'null', '[]', '[]', '{}', '[]')""")  # fmt: skip
            await asql(dsn, """INSERT INTO "Item" (_realm, "_id", "count", ratio, "any", tags,"""
                       """ nums, attrs, friends) VALUES ('/adapt/dead', 'y', 1, 1, 'null',"""
                       """ '["a", 5]', '[]', '{}', '[]')""")  # fmt: skip
            await asql(dsn, """INSERT INTO "Note" VALUES"""
                       """ ('/adapt/dead', 3, 'after the bad ones')""")  # fmt: skip

            def note(key: int) -> object:
                realm.refresh()
                obj = realm.object_for_primary_key("Note", key)
                return None if obj is None else obj["text"]

            await eventually(lambda: note(3) == "after the bad ones")
            query = "SELECT class, op, key, error FROM _studio_dead_letters ORDER BY id"
            await eventually(lambda: len(sql(dsn, query)) == 4)  # after the realm commit
            dead = sql(dsn, query)
            assert [(c, op, key) for c, op, key, _e in dead] == [
                ("Note", "INSERT", 2), ("Note", "UPDATE", 1), ("Item", "INSERT", "x"),
                ("Item", "INSERT", "y"),
            ]  # fmt: skip
            errors = [e for *_rest, e in dead]
            assert "'text' is NULL" in errors[0] and "'text' is NULL" in errors[1]
            assert "'oid'" in errors[2] and "'tags'" in errors[3]
            assert note(2) is None and note(1) == "kept"
            # The tables show what the realm has: the bad rows are gone or put back.
            await eventually(lambda: sql(dsn, 'SELECT "_id", text FROM "Note" ORDER BY 1') == [
                (1, "kept"), (3, "after the bad ones")])  # fmt: skip
            assert sql(dsn, 'SELECT count(*) FROM "Item"') == [(0,)]
    finally:
        await device.close()


@run
async def test_a_class_and_a_property_added_while_running(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path  # noqa: F811
) -> None:
    dsn = postgres.dsn(postgres.new_database())
    device = Device(server, tmp_path / "device")
    realm = await device.open("/adapt/grow", schema=NOTE_ONLY)
    with realm.write():
        realm.create("Note", {"_id": 1, "text": "before"})
    await realm.sync_session.wait_for_upload_completion(15)
    adapter = make_adapter(server, tmp_path / "adapter", dsn, realms=r"^/adapt/grow$")
    try:
        async with adapter:
            await eventually(lambda: "/adapt/grow" in adapter.ready_realms)
            # A new version of the app opens the realm with a class and a property
            # more: the same device closes it and opens it again at once (its
            # unbind may still be in flight).
            realm.close()
            realm = await device.open("/adapt/grow", schema=[
                {"name": "Note", "primaryKey": "_id",
                 "properties": {"_id": "int", "text": "string", "stars": "int?"}},
                {"name": "Tag", "primaryKey": "_id", "properties": {"_id": "string"}},
            ])  # fmt: skip
            await realm.sync_session.wait_for_download_completion(15)
            with realm.write():
                realm.object_for_primary_key("Note", 1)["stars"] = 5
                realm.create("Tag", {"_id": "red"})
            await realm.sync_session.wait_for_upload_completion(15)
            await eventually(lambda: sql(dsn, "SELECT to_regclass('\"Tag\"') IS NOT NULL")
                             == [(True,)])  # fmt: skip
            await eventually(lambda: sql(dsn, 'SELECT "_id" FROM "Tag"') == [("red",)])
            assert sql(dsn, 'SELECT "_id", text, stars FROM "Note"') == [(1, "before", 5)]
            await asql(dsn, """UPDATE "Note" SET stars = 4 WHERE "_id" = 1""")

            def stars() -> object:
                realm.refresh()
                return realm.object_for_primary_key("Note", 1)["stars"]

            await eventually(lambda: stars() == 4)
    finally:
        await device.close()
