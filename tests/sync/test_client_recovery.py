"""Client reset at the file level (no network): adopting a fresh copy of the
server's realm and recovering the unsynced local changes on it, rule by rule
(Realm's "recover unsynced changes": see studio/sync/client/recovery.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio.core import Realm
from studio.core.synced import get_sync_value, history_row_count, set_sync_values, write_backup
from studio.primitives import instructions as ins
from studio.sync.client import ClientResetError, ClientResetMode, ClientResetResult
from studio.sync.client.reset import adopt_fresh_copy

SCHEMA = [
    {"name": "Item", "primaryKey": "_id",
     "properties": {"_id": "string", "name": "string", "n": "int", "friend": "Item?",
                    "tags": "string[]", "items": "Item[]"}},
]  # fmt: skip

Step = Callable[[Realm], None]


def item(realm: Realm, key: str, name: str = "", **values: Any) -> Any:
    return realm.create("Item", {"_id": key, "name": name or key, "n": 0, **values})


def base_state(realm: Realm) -> None:
    x, y = item(realm, "x"), item(realm, "y")
    item(realm, "list", items=[x, y], tags=["a", "b", "c"])


class Reset:
    """A local realm at a synced base with unsynced ``local`` changes, and the
    server's fresh copy of the same base with ``server`` changes; ``run`` resets."""

    def __init__(self, tmp: Path, local: Step, server: Step, schema: Any = None) -> None:
        self.tmp = tmp
        self.realm = Realm.open(tmp / "local.realm", schema=schema or SCHEMA,
                                record_history=True)  # fmt: skip
        with self.realm.write(record=False):
            base_state(self.realm)
        acked = max(c.client_version for c in self.realm.history())
        set_sync_values(self.realm, {"client_file_ident": 7, "client_file_salt": 70,
                                     "server_version": 5, "upload_ack": acked})  # fmt: skip
        with self.realm.write():
            local(self.realm)
        fresh = Realm.open(tmp / "fresh.realm", schema=SCHEMA, record_history=True)
        with fresh.write(record=False):
            base_state(fresh)
        with fresh.write(record=False):
            server(fresh)
        set_sync_values(fresh, {"client_file_ident": 9, "client_file_salt": 90,
                                "server_version": 12})  # fmt: skip
        fresh.close()

    def run(self, mode: ClientResetMode = ClientResetMode.RECOVER) -> ClientResetResult:
        backup = self.tmp / "backup.realm"
        write_backup(self.realm, str(backup))
        return adopt_fresh_copy(self.realm, self.tmp / "fresh.realm", backup, mode, 223)

    def get(self, key: str) -> Any:
        return self.realm.object_for_primary_key("Item", key)

    def keys(self, prop: str = "items") -> list[Any]:
        owner = self.get("list")
        return [v._id if hasattr(v, "_id") else v for v in owner[prop]]


def nothing(realm: Realm) -> None:
    pass


def test_objects_created_locally_are_recovered_and_uploaded(tmp_path: Path) -> None:
    reset = Reset(tmp_path, lambda r: item(r, "new", n=5), nothing)
    result = reset.run()
    assert reset.get("new").n == 5
    assert result.unrecovered == [] and result.unsynced_changesets == 1
    (changeset,) = reset.realm.history()
    assert ins.CreateObject("Item", "new") in changeset.instructions
    # The new identity and cursors, and the history is based on the fresh copy.
    assert get_sync_value(reset.realm, "client_file_ident") == "9"
    assert get_sync_value(reset.realm, "client_file_salt") == "90"
    assert get_sync_value(reset.realm, "upload_ack") == "0"
    assert changeset.last_integrated_server_version == 12


def test_a_change_to_an_object_deleted_on_the_server_is_not_recovered(tmp_path: Path) -> None:
    def local(r: Realm) -> None:
        r.object_for_primary_key("Item", "x").name = "renamed"

    reset = Reset(tmp_path, local, lambda r: r.delete(r.object_for_primary_key("Item", "x")))
    result = reset.run()
    assert reset.get("x") is None
    [lost] = result.unrecovered
    assert lost.instruction == ins.Set("Item", "x", ("name",), "renamed")
    assert lost.reason == "the object was deleted on the server"


def test_an_object_deleted_on_the_server_and_recreated_locally_exists(tmp_path: Path) -> None:
    def local(r: Realm) -> None:
        r.delete(r.object_for_primary_key("Item", "x"))
        item(r, "x", "again", n=3)

    reset = Reset(tmp_path, local, lambda r: r.delete(r.object_for_primary_key("Item", "x")))
    result = reset.run()
    assert (reset.get("x").name, reset.get("x").n) == ("again", 3)
    assert result.unrecovered == []


def test_a_local_delete_is_applied(tmp_path: Path) -> None:
    reset = Reset(tmp_path, lambda r: r.delete(r.object_for_primary_key("Item", "y")),
                  lambda r: setattr(r.object_for_primary_key("Item", "y"), "n", 9))  # fmt: skip
    reset.run()
    assert reset.get("y") is None and reset.keys() == ["x"]


def test_the_local_value_wins_a_conflicting_field_update(tmp_path: Path) -> None:
    def local(r: Realm) -> None:
        r.object_for_primary_key("Item", "x").name = "local"

    def server(r: Realm) -> None:
        x = r.object_for_primary_key("Item", "x")
        x.name, x.n = "server", 4

    reset = Reset(tmp_path, local, server)
    reset.run()
    assert (reset.get("x").name, reset.get("x").n) == ("local", 4)


def test_a_list_insert_keeps_its_index_or_goes_to_the_end(tmp_path: Path) -> None:
    def local(r: Realm) -> None:
        tags = r.object_for_primary_key("Item", "list").tags
        tags.insert(1, "L1")
        tags.append("L2")  # at local index 4; the server's list is shorter

    def server(r: Realm) -> None:
        del r.object_for_primary_key("Item", "list").tags[0]

    reset = Reset(tmp_path, local, server)
    result = reset.run()
    assert reset.keys("tags") == ["b", "L1", "c", "L2"]
    assert result.recovery is not None and result.recovery.copied_lists == []


def test_operations_on_elements_the_recovery_inserted_are_replayed(tmp_path: Path) -> None:
    def local(r: Realm) -> None:
        tags = r.object_for_primary_key("Item", "list").tags
        tags.insert(0, "one")
        tags.insert(0, "two")
        tags[1] = "ONE"
        tags.move(0, 1)
        del tags[0]

    reset = Reset(tmp_path, local, lambda r: r.object_for_primary_key("Item", "list")
                  .tags.append("server"))  # fmt: skip
    result = reset.run()
    assert reset.keys("tags") == ["two", "a", "b", "c", "server"]
    assert result.recovery is not None and result.recovery.copied_lists == []


def test_changing_a_list_element_from_before_copies_the_local_list(tmp_path: Path) -> None:
    """The server's list may have moved: the local list as it was wins."""

    def local(r: Realm) -> None:
        tags = r.object_for_primary_key("Item", "list").tags
        del tags[1]  # "b"
        tags.append("mine")

    def server(r: Realm) -> None:
        tags = r.object_for_primary_key("Item", "list").tags
        tags.move(0, 2)
        tags.append("theirs")

    reset = Reset(tmp_path, local, server)
    result = reset.run()
    assert reset.keys("tags") == ["a", "c", "mine"]
    assert result.recovery is not None
    assert result.recovery.copied_lists == ["Item['list'].tags"]


def test_a_copied_list_leaves_out_objects_deleted_on_the_server(tmp_path: Path) -> None:
    def local(r: Realm) -> None:
        items = r.object_for_primary_key("Item", "list").items
        items.move(0, 1)  # [y, x]

    reset = Reset(tmp_path, local, lambda r: r.delete(r.object_for_primary_key("Item", "y")))
    result = reset.run()
    assert reset.keys() == ["x"]
    assert any("no longer exists" in u.reason for u in result.unrecovered)


def test_a_link_to_an_object_deleted_on_the_server_is_not_recovered(tmp_path: Path) -> None:
    def local(r: Realm) -> None:
        r.object_for_primary_key("Item", "x").friend = r.object_for_primary_key("Item", "y")

    reset = Reset(tmp_path, local, lambda r: r.delete(r.object_for_primary_key("Item", "y")))
    result = reset.run()
    assert reset.get("x").friend is None
    [lost] = result.unrecovered
    assert "Item['y']" in lost.reason or "Item[y]" in lost.reason.replace("'", "")


def test_a_class_the_server_does_not_have_is_uploaded_again(tmp_path: Path) -> None:
    extra = [*SCHEMA, {"name": "Note", "primaryKey": "_id", "properties": {"_id": "string"}}]
    reset = Reset(tmp_path, lambda r: r.create("Note", {"_id": "n"}), nothing, schema=extra)
    reset.run()
    instructions = [i for c in reset.realm.history() for i in c.instructions]
    add = instructions.index(ins.AddClass("Note", "_id", "string", False, False))
    assert add < instructions.index(ins.CreateObject("Note", "n"))
    assert reset.realm.object_for_primary_key("Note", "n") is not None


def test_discard_local_makes_the_realm_the_servers_copy(tmp_path: Path) -> None:
    def local(r: Realm) -> None:
        item(r, "new")
        r.object_for_primary_key("Item", "x").name = "local"

    reset = Reset(tmp_path, local, lambda r: item(r, "server"))
    result = reset.run(ClientResetMode.DISCARD_LOCAL)
    assert reset.get("new") is None and reset.get("x").name == "x"
    assert reset.get("server") is not None
    assert history_row_count(reset.realm) == 0
    assert {u.instruction for u in result.unrecovered} >= {ins.CreateObject("Item", "new")}


def test_objects_in_both_states_keep_their_handles_and_listeners_see_the_change(
    tmp_path: Path,
) -> None:
    reset = Reset(tmp_path, nothing, lambda r: setattr(r.object_for_primary_key("Item", "x"),
                                                       "name", "server"))  # fmt: skip
    x = reset.get("x")
    seen: list[Any] = []
    x.add_listener(lambda obj, change: seen.append(change))
    reset.run()
    reset.realm.refresh()
    assert x.is_valid and x.name == "server"
    assert seen


def test_a_failing_recovery_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []

    def failing(self: Any, instruction: Any) -> None:
        calls.append(instruction)
        if len(calls) == 2:
            raise RuntimeError("boom")
        from studio.core.replay import apply_instructions

        apply_instructions(self.target, [instruction])

    monkeypatch.setattr("studio.sync.client.recovery._Recovery.apply", failing)
    reset = Reset(tmp_path, lambda r: [item(r, "n1"), item(r, "n2")],
                  lambda r: item(r, "server"))  # fmt: skip
    before = sorted(o._id for o in reset.realm.objects("Item"))
    with pytest.raises(ClientResetError, match="boom"):
        reset.run()
    assert sorted(o._id for o in reset.realm.objects("Item")) == before
    assert get_sync_value(reset.realm, "client_file_ident") == "7"
    assert history_row_count(reset.realm) >= 1
    assert (tmp_path / "fresh.realm").exists()  # kept for the caller to retry or delete
