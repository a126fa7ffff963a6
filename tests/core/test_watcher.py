from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from studio.core import Realm
from studio.core.watcher import RealmWatcher, watch

SCHEMA = [{"name": "Note", "primaryKey": "id", "properties": {"id": "int", "text": "string"}}]

OTHER_PROCESS = r"""
import sys
from studio.core import Realm
with Realm.open(sys.argv[1]) as realm:
    with realm.write():
        realm.create("Note", {"id": int(sys.argv[2]), "text": "from another process"})
"""


def _write_from_other_process(path: Path, ident: int) -> None:
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, str(path), str(ident)],
        check=True,
        env={"PYTHONPATH": str(root), "PATH": ""},
    )


def test_poll_refreshes_after_another_process_commits(tmp_path: Path) -> None:
    path = tmp_path / "w.realm"
    realm = Realm.open(path, schema=SCHEMA)
    notes = realm.objects("Note")
    seen: list[tuple[int, ...]] = []
    token = notes.add_listener(lambda r, c: seen.append(c.insertions))
    watcher = RealmWatcher(realm)
    assert watcher.poll() is False
    _write_from_other_process(path, 1)
    assert len(notes) == 0  # a realm keeps its snapshot until refreshed
    assert watcher.poll() is True
    assert len(notes) == 1 and notes[0].text == "from another process"
    assert seen == [(0,)]
    assert watcher.poll() is False
    token.remove()
    realm.close()


def test_watch_runs_in_an_asyncio_loop(tmp_path: Path) -> None:
    path = tmp_path / "w.realm"
    realm = Realm.open(path, schema=SCHEMA)
    changed = asyncio.Event

    async def scenario() -> list[str]:
        event = changed()
        calls: list[str] = []

        def on_change(_realm: Realm, changes: object) -> None:
            calls.append("changed")
            event.set()

        realm.add_listener(on_change)
        watcher = watch(realm, interval=0.02)
        await asyncio.to_thread(_write_from_other_process, path, 2)
        await asyncio.wait_for(event.wait(), timeout=10)
        await watcher.aclose()
        return calls

    assert asyncio.run(scenario()) == ["changed"]
    assert realm.object_for_primary_key("Note", 2) is not None
    realm.close()
