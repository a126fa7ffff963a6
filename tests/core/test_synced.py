from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core import Realm
from studio.core.synced import apply_remote, get_sync_value, set_sync_values, trim_history

SCHEMA = [{"name": "Msg", "primaryKey": "id", "properties": {"id": "int", "text": "string",
                                                              "likes": "int"}}]


def test_remote_changes_apply_without_being_recorded(tmp_path: Path) -> None:
    source = Realm.open(tmp_path / "a.realm", schema=SCHEMA, record_history=True)
    replica = Realm.open(tmp_path / "b.realm", schema=SCHEMA, record_history=True)
    with source.write():
        source.create("Msg", {"id": 1, "text": "hi", "likes": 0})
    changeset = source.history()[-1]
    seen: list[Any] = []
    replica.add_listener(lambda realm, changes: seen.append(changes))
    results = replica.objects("Msg")
    inserted: list[tuple[int, ...]] = []
    results.add_listener(lambda r, c: inserted.append(c.insertions))
    before = len(replica.history())
    apply_remote(replica, changeset.instructions, cursors={"server_version": 7})
    assert replica.object_for_primary_key("Msg", 1).text == "hi"  # type: ignore[union-attr]
    assert len(replica.history()) == before  # not echoed back as a local change
    assert seen[-1].local is False and seen[-1].changed_classes == ("Msg",)
    assert inserted == [(0,)]
    assert get_sync_value(replica, "server_version") == "7"
    with replica.write():
        replica.object_for_primary_key("Msg", 1).likes = 3  # type: ignore[union-attr]
    last = replica.history()[-1]
    assert last.last_integrated_server_version == 7
    trim_history(replica, last.client_version)
    assert replica.history() == []
    set_sync_values(replica, {"upload_ack": 4})
    assert get_sync_value(replica, "upload_ack") == "4"
    source.close()
    replica.close()


def test_a_remote_schema_the_realm_already_has_records_nothing(tmp_path: Path) -> None:
    """Both devices declared the same schema: the other's AddClass and
    AddProperty change nothing here, so no (empty) local changeset may be
    recorded and uploaded for them."""
    source = Realm.open(tmp_path / "a.realm", schema=SCHEMA, record_history=True)
    replica = Realm.open(tmp_path / "b.realm", schema=SCHEMA, record_history=True)
    before = replica.history()
    apply_remote(replica, source.history()[0].instructions)
    assert replica.history() == before
    source.close()
    replica.close()


def test_cursors_roll_back_with_a_failed_remote_apply(tmp_path: Path) -> None:
    from studio.primitives import instructions as ins

    realm = Realm.open(tmp_path / "c.realm", schema=SCHEMA, record_history=True)
    bad = [ins.CreateObject("Msg", 1), ins.Set("Msg", 1, ("text",), 42)]
    try:
        apply_remote(realm, bad, cursors={"server_version": 9})
    except Exception as exc:  # the wrong value type is reported
        assert "string" in str(exc)
    else:
        raise AssertionError("a wrong value type must fail")
    assert get_sync_value(realm, "server_version") is None
    assert len(realm.objects("Msg")) == 0
    realm.close()


def _table_history(path: Path, since: int) -> list[Any]:
    """The history as another connection decodes it from the table."""
    other = Realm.open(path)
    try:
        return other.history(since=since)
    finally:
        other.close()


def test_history_hands_over_own_commits_as_the_table_holds_them(tmp_path: Path) -> None:
    path = tmp_path / "a.realm"
    realm = Realm.open(path, schema=SCHEMA, record_history=True)
    other = Realm.open(path, record_history=True)
    base = realm.history()[-1].client_version  # the schema's changeset
    with realm.write():
        realm.create("Msg", {"id": 1, "text": "hi", "likes": 0})
    with realm.write():
        realm.object_for_primary_key("Msg", 1).likes = 2  # type: ignore[union-attr]
    assert realm.history(since=base) == _table_history(path, base)
    # Another connection records a commit after ours: history reads the table.
    with other.write():
        other.create("Msg", {"id": 2, "text": "other", "likes": 0})
    with realm.write():
        realm.create("Msg", {"id": 3, "text": "mine", "likes": 0})
    taken = realm.history(since=base + 2)
    assert [c.client_version for c in taken] == [base + 3, base + 4]
    assert taken == _table_history(path, base + 2)
    assert taken[0].instructions[0] == other.history()[-1].instructions[0]
    # ... also when it comes right after ours.
    with realm.write():
        realm.create("Msg", {"id": 5, "text": "mine", "likes": 0})
    with other.write():
        other.create("Msg", {"id": 6, "text": "other", "likes": 0})
    realm.refresh()
    after = realm.history(since=base + 4)
    assert [c.client_version for c in after] == [base + 5, base + 6]
    assert after == _table_history(path, base + 4)
    # Rows rewritten or trimmed outside a commit: the table is the truth.
    with realm.write():
        realm.create("Msg", {"id": 4, "text": "x", "likes": 0})
    latest = realm.history()[-1].client_version
    trim_history(realm, latest)
    assert realm.history(since=latest - 1) == []
    realm.close()
    other.close()


def test_a_rolled_back_commit_is_not_handed_over(tmp_path: Path) -> None:
    path = tmp_path / "a.realm"
    realm = Realm.open(path, schema=SCHEMA, record_history=True)
    since = realm.history()[-1].client_version
    try:
        with realm.write():
            realm.create("Msg", {"id": 1, "text": "hi", "likes": 0})
            raise RuntimeError("no")
    except RuntimeError:
        pass
    assert realm.history(since=since) == []
    with realm.write():
        realm.create("Msg", {"id": 1, "text": "again", "likes": 0})
    (taken,) = realm.history(since=since)
    assert taken == _table_history(path, since)[0]
    realm.close()


def test_commits_stamp_the_server_version_however_it_was_last_stored(tmp_path: Path) -> None:
    """The server version a recorded commit is based on follows every way it is stored:
    by this connection (alone, inside a write, with a remote apply) and by another one."""
    path = tmp_path / "a.realm"
    realm = Realm.open(path, schema=SCHEMA, record_history=True)
    other = Realm.open(path, record_history=True)
    stamps: list[int] = []

    def commit(key: int) -> None:
        with realm.write():
            realm.create("Msg", {"id": key, "text": "x", "likes": 0})
        stamps.append(realm.history()[-1].last_integrated_server_version)

    commit(1)
    set_sync_values(realm, {"server_version": 3})
    commit(2)
    set_sync_values(other, {"server_version": 5})  # another connection, no refresh
    commit(3)
    with realm.write():
        set_sync_values(realm, {"server_version": 6})
        realm.create("Msg", {"id": 4, "text": "x", "likes": 0})
    stamps.append(realm.history()[-1].last_integrated_server_version)
    apply_remote(realm, [], cursors={"server_version": 8})
    commit(5)
    try:
        with realm.write():
            set_sync_values(realm, {"server_version": 99})
            raise RuntimeError("abandoned")
    except RuntimeError:
        pass
    commit(6)
    assert stamps == [0, 3, 5, 6, 8, 8]
    assert [c.last_integrated_server_version for c in _table_history(path, 0)][-6:] == stamps
    realm.close()
    other.close()
