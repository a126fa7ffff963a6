"""The local history stays bounded: acknowledged changesets leave the realm
file (the changes a download integrates were never stored in it), so a realm
that syncs keeps only what the server has not acknowledged yet."""

from __future__ import annotations

import os
from pathlib import Path

from test_client_harness import make_app, make_user, run
from test_client_harness import running_server as server_running

from studio.core import Realm
from studio.core.synced import history_row_count

COUNTER = [{"name": "Counter", "primaryKey": "_id", "properties": {"_id": "string", "n": "int"}}]


def bump_many(realm: Realm, count: int) -> None:
    for _ in range(count):
        with realm.write():
            counter = realm.object_for_primary_key("Counter", "c")
            counter.n = counter.n + 1


def file_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


@run
async def test_the_local_history_keeps_only_unacknowledged_changesets(tmp_path: Path) -> None:
    async with server_running() as server:
        app = make_app(server, tmp_path / "app")
        local = tmp_path / "counter.realm"
        realm = await app.open_realm(make_user("a"), "/~/counter", path=local, schema=COUNTER)
        with realm.write():
            realm.create("Counter", {"_id": "c", "n": 0})
        session = realm.sync_session
        # Online: every acknowledged batch is trimmed.
        for _ in range(5):
            bump_many(realm, 100)
            await session.wait_for_upload_completion(10)
            assert history_row_count(realm) == 0
        # Offline: the history grows with what the server has not seen ...
        session.pause()
        bump_many(realm, 300)
        assert history_row_count(realm) == 300
        offline_size = file_bytes(local)
        # ... and is trimmed once it is acknowledged.
        session.resume()
        await session.wait_for_upload_completion(10)
        assert history_row_count(realm) == 0
        # The pages it took are reused: more synced writes do not grow the file.
        for _ in range(3):
            bump_many(realm, 100)
            await session.wait_for_upload_completion(10)
        realm.close()
        assert file_bytes(local) <= offline_size * 1.1 + 64 * 1024
        assert os.path.getsize(local) > 0
        await app.close()
