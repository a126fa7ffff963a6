"""refresh(): commits of another Realm instance or another process, and their listeners."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.core import CollectionChanges, ObjectChange, Realm, RealmChanges

SCHEMA: list[dict[str, Any]] = [
    {"name": "Task", "primaryKey": "id",
     "properties": {"id": "int", "title": "string", "done": "bool", "prio": "int?"}},
]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "shared.realm"
    with Realm.open(p, schema=SCHEMA) as realm, realm.write():
        for i in range(3):
            realm.create("Task", {"id": i, "title": f"t{i}", "done": False, "prio": i})
    return p


@pytest.fixture
def realm(path: Path) -> Iterator[Realm]:
    r = Realm.open(path)
    yield r
    r.close()


def _write_in_subprocess(path: Path, code: str) -> None:
    body = textwrap.indent(textwrap.dedent(code).strip(), "    ")
    script = (
        "from studio.core import Realm\n"
        f"realm = Realm.open({str(path)!r})\n"
        "with realm.write():\n"
        f"{body}\n"
        "realm.close()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def _mp_writer(path: str, first_id: int, count: int) -> None:
    realm = Realm.open(path)
    with realm.write():
        for i in range(count):
            realm.create("Task", {"id": first_id + i, "title": "mp", "done": True})
        realm.object_for_primary_key("Task", 0).title = "from mp"
    realm.close()


def test_two_instances_see_each_other_after_refresh(path: Path, realm: Realm) -> None:
    with Realm.open(path) as writer:
        tasks = realm.objects("Task")
        assert len(tasks) == 3
        with writer.write():
            writer.create("Task", {"id": 10, "title": "new", "done": False})
            writer.object_for_primary_key("Task", 1).done = True
        # a realm is a consistent snapshot until refresh(), as in Realm
        assert len(tasks) == 3 and realm.object_for_primary_key("Task", 10) is None
        assert realm.refresh() is True
        assert len(tasks) == 4 and realm.object_for_primary_key("Task", 1).done is True
        assert realm.refresh() is False  # nothing new


def test_refresh_fires_listeners_with_remote_changes(path: Path, realm: Realm) -> None:
    realm_calls: list[RealmChanges] = []
    results_calls: list[CollectionChanges] = []
    object_calls: list[ObjectChange] = []
    by_prio = realm.objects("Task").sorted("prio", reverse=True)
    realm.add_listener(lambda _r, c: realm_calls.append(c))
    by_prio.add_listener(lambda _r, c: results_calls.append(c))
    t1 = realm.object_for_primary_key("Task", 1)
    t1.add_listener(lambda _o, c: object_calls.append(c))
    with Realm.open(path) as writer:
        with writer.write():
            writer.create("Task", {"id": 10, "title": "top", "done": False, "prio": 99})
            writer.object_for_primary_key("Task", 1).title = "renamed"
            writer.delete(writer.object_for_primary_key("Task", 0))
        assert realm_calls == [] and results_calls == [] and object_calls == []
        realm.refresh()
    assert realm_calls == [RealmChanges(("Task",), schema_changed=False, local=False)]
    # old: [2, 1, 0]  new: [10, 2, 1]
    assert results_calls == [CollectionChanges(deletions=(2,), insertions=(0,),
                                               modifications=(1,), new_modifications=(2,))]
    assert object_calls == [ObjectChange(changed_properties=("title",))]
    assert [t.id for t in by_prio] == [10, 2, 1]


def test_starting_a_write_catches_up_and_notifies(path: Path, realm: Realm) -> None:
    calls: list[CollectionChanges] = []
    tasks = realm.objects("Task")
    tasks.add_listener(lambda _r, c: calls.append(c))
    with Realm.open(path) as writer, writer.write():
        writer.create("Task", {"id": 10, "title": "remote", "done": False})
    with realm.write():
        assert len(tasks) == 4  # a write transaction always starts on the latest state
        realm.create("Task", {"id": 11, "title": "local", "done": False})
    assert len(calls) >= 1
    assert sum(len(c.insertions) for c in calls) == 2
    assert [t.id for t in tasks] == [0, 1, 2, 10, 11]


def test_remote_delete_invalidates_objects(path: Path, realm: Realm) -> None:
    t0 = realm.object_for_primary_key("Task", 0)
    changes: list[ObjectChange] = []
    t0.add_listener(lambda _o, c: changes.append(c))
    with Realm.open(path) as writer, writer.write():
        writer.delete(writer.object_for_primary_key("Task", 0))
    assert t0.is_valid  # still in this realm's snapshot
    realm.refresh()
    assert changes == [ObjectChange(deleted=True)]
    assert not t0.is_valid


def test_subprocess_write_then_refresh_fires_listeners(path: Path, realm: Realm) -> None:
    calls: list[Any] = []
    tasks = realm.objects("Task").filtered("done == true")
    tasks.add_listener(lambda _r, c: calls.append(("results", c)))
    realm.add_listener(lambda _r, c: calls.append(("realm", c)))
    _write_in_subprocess(path, """
        realm.create("Task", {"id": 20, "title": "sub", "done": True})
        realm.object_for_primary_key("Task", 2).done = True
    """)
    assert calls == []
    assert realm.refresh() is True
    assert calls == [
        ("results", CollectionChanges(insertions=(0, 1))),
        ("realm", RealmChanges(("Task",), False, False)),
    ]
    assert [t.id for t in tasks] == [2, 20]


def test_multiprocessing_writer_then_refresh(path: Path, realm: Realm) -> None:
    calls: list[CollectionChanges] = []
    tasks = realm.objects("Task")
    tasks.add_listener(lambda _r, c: calls.append(c))
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_mp_writer, args=(str(path), 100, 5))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    realm.refresh()
    assert calls == [CollectionChanges(insertions=(3, 4, 5, 6, 7), modifications=(0,),
                                       new_modifications=(0,))]
    assert tasks[0].title == "from mp"


def test_refresh_picks_up_additive_schema_change(path: Path, realm: Realm) -> None:
    calls: list[RealmChanges] = []
    realm.add_listener(lambda _r, c: calls.append(c))
    wider = [*SCHEMA, {"name": "Note", "properties": {"text": "string"}}]
    with Realm.open(path, schema=wider) as other, other.write():
        other.create("Note", {"text": "hi"})
    realm.refresh()
    assert "Note" in [c.name for c in realm.schema]
    assert [n.text for n in realm.objects("Note")] == ["hi"]
    assert calls and calls[-1].schema_changed


def test_refresh_after_more_commits_than_the_change_log_keeps(path: Path, realm: Realm) -> None:
    by_prio = realm.objects("Task").sorted("prio")
    calls: list[CollectionChanges] = []
    by_prio.add_listener(lambda _r, c: calls.append(c))
    old = list(by_prio.keys())
    with Realm.open(path) as writer:
        for n in range(1100):  # the change log keeps the last 1000 commits
            with writer.write():
                task = writer.object_for_primary_key("Task", n % 3)
                task.prio = (n * 37) % 100
        with writer.write():
            writer.create("Task", {"id": 7, "title": "late", "done": False, "prio": 50})
    assert realm.refresh() is True
    new = list(realm.objects("Task").sorted("prio").keys())
    assert list(by_prio.keys()) == new
    (changes,) = calls
    applied = [k for i, k in enumerate(old) if i not in changes.deletions]
    for i in changes.insertions:
        applied.insert(i, new[i])
    assert applied == new


def test_lock_timeout_is_the_open_timeout_and_bounds_the_wait_for_another_writer(
    path: Path,
) -> None:
    import sqlite3
    import time

    with Realm.open(path, timeout=5) as realm, Realm.open(path) as other:
        assert realm.lock_timeout == 5.0 and other.lock_timeout == 30.0
        realm.lock_timeout = 0.05
        assert realm.lock_timeout == 0.05
        with other.write():
            started = time.monotonic()
            with pytest.raises(sqlite3.OperationalError, match="locked"), realm.write():
                pass
            # Not the 5 s it was opened with (generous bound: the machine may be loaded).
            assert time.monotonic() - started < 2.5
