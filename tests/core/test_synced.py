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
