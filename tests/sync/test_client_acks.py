"""A download that only acknowledges uploads (no changesets of others) is stored
without a write transaction: the cursors and the trim land in the file before
anything waiting for the acknowledgement hears of it, and no realm listener
fires for it; a restart then uploads nothing again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_client_harness import make_app, make_user, run
from test_client_harness import running_server as server_running

from studio.core.synced import get_sync_value, history_row_count

ITEMS = [{"name": "Item", "primaryKey": "_id", "properties": {"_id": "int", "n": "int"}}]


@run
async def test_an_acknowledgement_persists_the_cursor_without_a_write(tmp_path: Path) -> None:
    async with server_running() as server:
        local = tmp_path / "items.realm"
        app = make_app(server, tmp_path / "app")
        realm = await app.open_realm(make_user("a"), "/~/items", path=local, schema=ITEMS)
        session = realm.sync_session
        await session.wait_for_upload_completion(10)
        calls: list[Any] = []
        realm.add_listener(lambda r, changes: calls.append(changes))
        for n in range(5):
            with realm.write():
                realm.create("Item", {"_id": n, "n": n})
        await session.wait_for_upload_completion(10)
        latest = session.history.latest_client_version
        # On disk once acknowledged: the cursor, and no history left to upload.
        assert get_sync_value(realm, "upload_ack") == str(latest)
        assert history_row_count(realm) == 0
        # Only the five local commits notified; the acknowledgements did not.
        assert [c.local for c in calls] == [True] * 5
        server_version = server.history("/u/a/items").latest_version
        await app.close()

        again = make_app(server, tmp_path / "app")
        reopened = await again.open_realm(make_user("a"), "/~/items", path=local, schema=ITEMS)
        assert reopened.sync_session.history.pending == []
        await reopened.sync_session.wait_for_download_completion(10)
        assert server.history("/u/a/items").latest_version == server_version
        assert len(reopened.objects("Item")) == 5
        await again.close()
