"""Last writer wins between a device and SQL (docs/adapter.md, "Conflicts and time")."""

from __future__ import annotations

from pathlib import Path

from adapter_support import Device, asql, make_adapter, sql
from pg_support import PostgresForTests, postgres  # noqa: F401 (the fixture)
from server_process import ServerProcess, eventually, run

from studio.sync.client.app import SyncedRealm

NOTE = [{"name": "Note", "primaryKey": "_id",
         "properties": {"_id": "int", "text": "string?", "stars": "int?"}}]  # fmt: skip
PATH = "/adapt/conflicts"


def note(realm: SyncedRealm) -> tuple[object, object]:
    realm.refresh()
    obj = realm.object_for_primary_key("Note", 1)
    return (None, None) if obj is None else (obj["text"], obj["stars"])


def row(dsn: str) -> list[tuple[object, ...]]:
    return sql(dsn, 'SELECT text, stars FROM "Note" WHERE "_id" = 1')


@run
async def test_the_later_of_a_device_write_and_a_sql_change_wins_on_both_sides(
    server: ServerProcess, postgres: PostgresForTests, tmp_path: Path  # noqa: F811
) -> None:
    dsn = postgres.dsn(postgres.new_database())
    device = Device(server, tmp_path / "device")
    watcher = Device(server, tmp_path / "watcher")
    realm = await device.open(PATH, schema=NOTE)
    with realm.write():
        realm.create("Note", {"_id": 1, "text": "start", "stars": 0})
    await realm.sync_session.wait_for_upload_completion(15)
    adapter = make_adapter(server, tmp_path / "adapter", dsn, realms=rf"^{PATH}$")
    try:
        async with adapter:
            await eventually(lambda: PATH in adapter.ready_realms, timeout=20)
            await eventually(lambda: row(dsn) == [("start", 0)])
            # The watcher stays online: once it sees a SQL change, the adapter
            # has committed it into its realm copy (the time the change gets).
            seen = await watcher.open(PATH, schema=NOTE)
            session = realm.sync_session

            # 1. The device writes offline first, SQL changes the same property
            #    later: SQL wins everywhere, although the device's write reaches
            #    the server last.
            session.pause()
            with realm.write():
                realm.object_for_primary_key("Note", 1)["text"] = "device, earlier"
            await asql(dsn, """UPDATE "Note" SET text = 'sql, later' WHERE "_id" = 1""")
            await eventually(lambda: note(seen)[0] == "sql, later")
            session.resume()
            await session.wait_for_upload_completion(15)
            await session.wait_for_download_completion(15)
            assert note(realm) == ("sql, later", 0)
            await seen.sync_session.wait_for_download_completion(15)
            assert note(seen) == ("sql, later", 0)
            assert row(dsn) == [("sql, later", 0)]

            # 2. SQL changes first (committed by the adapter), the offline device
            #    writes the same property later: the device wins everywhere.
            session.pause()
            await asql(dsn, """UPDATE "Note" SET text = 'sql, earlier' WHERE "_id" = 1""")
            await eventually(lambda: note(seen)[0] == "sql, earlier")
            with realm.write():
                realm.object_for_primary_key("Note", 1)["text"] = "device, later"
            session.resume()
            await session.wait_for_upload_completion(15)
            await eventually(lambda: row(dsn) == [("device, later", 0)])
            await session.wait_for_download_completion(15)
            assert note(realm) == ("device, later", 0)

            # 3. Each side changes another property of the same object at the
            #    same time: both changes survive on both sides.
            session.pause()
            with realm.write():
                realm.object_for_primary_key("Note", 1)["stars"] = 5
            await asql(dsn, """UPDATE "Note" SET text = 'from sql' WHERE "_id" = 1""")
            await eventually(lambda: note(seen)[0] == "from sql")
            session.resume()
            await session.wait_for_upload_completion(15)
            await eventually(lambda: row(dsn) == [("from sql", 5)])
            await session.wait_for_download_completion(15)
            assert note(realm) == ("from sql", 5)
            await seen.sync_session.wait_for_download_completion(15)
            assert note(seen) == ("from sql", 5)
    finally:
        await watcher.close()
        await device.close()
