"""The realm as of a past server version (issue 16, time travel), without Qt or a
server: changesets replayed into a temporary realm, forward by the delta only, back
from the nearest kept state, and what a version changed with old -> new values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.core import Realm
from studio.primitives import ObjectId
from studio.primitives import instructions as ins
from studio.sync.changeset import decode_changeset, encode_changeset
from studio.sync.errors import CompactionError
from studio.sync.squash import SquashedState
from studio.ui.server.past_states import Change, StateBuilder, by_object, shown


def _changeset(version: int, *instructions: ins.Instruction) -> bytes:
    return encode_changeset(ins.Changeset(7, version, 0, 1_700_000_000_000,
                                          tuple(instructions)))


def history(count: int) -> dict[int, bytes]:
    """Version 1 adds a class and an object, each later version sets its count."""
    out = {1: _changeset(
        1,
        ins.AddClass("Counter", "id", "int", False, False),
        ins.AddProperty("Counter", "id", "int"),
        ins.AddProperty("Counter", "count", "int"),
        ins.AddProperty("Counter", "label", "string?"),
        ins.CreateObject("Counter", 1),
        ins.Set("Counter", 1, ("count",), 0),
    )}
    for v in range(2, count + 1):
        out[v] = _changeset(v, ins.Set("Counter", 1, ("count",), v * 10),
                            ins.Set("Counter", 1, ("label",), f"v{v}"))
    return out


def _count(path: Path) -> int:
    with Realm.open(path, read_only=True) as realm:
        return int(realm.object_for_primary_key("Counter", 1)["count"])


def test_states_forward_by_the_delta_and_back_from_a_kept_state(tmp_path: Path) -> None:
    changesets = history(30)
    builder = StateBuilder(tmp_path / "past")
    try:
        at_10 = builder.build(10, changesets)
        assert _count(at_10.path) == 100 and builder.applied == 10
        at_20 = builder.build(20, changesets)
        assert _count(at_20.path) == 200 and builder.applied == 20  # only 11..20 applied
        at_15 = builder.build(15, changesets)  # back: from the state kept at 10
        assert _count(at_15.path) == 150 and builder.applied == 25
        assert builder.build(10, changesets) is at_10  # kept: nothing applied
        assert _count(at_10.path) == 100 and _count(at_20.path) == 200  # files stay apart
        # what version 15 changed, object by object, old -> new
        (count, label) = at_15.changes
        assert (count.class_name, count.key, count.old, count.new) == ("Counter", "1",
                                                                       "140", "150")
        assert count.what == "Set Counter[1].count = 150"
        assert (label.old, label.new) == ("'v14'", "'v15'")
        first = builder.build(1, changesets).changes
        assert [c.new for c in first if c.key] == ["created", "0"]
        assert first[0].key == "" and first[0].what.startswith("AddClass Counter")
    finally:
        builder.close()
    assert not (tmp_path / "past").exists()


def _replayed(tmp_path: Path, changesets: dict[int, bytes], upto: int) -> list[Any]:
    """The realm's objects after a plain replay, one changeset after the other."""
    from studio.core.synced import apply_remote

    with Realm.open(tmp_path / "replayed.realm") as realm:
        for v in range(1, upto + 1):
            apply_remote(realm, decode_changeset(changesets[v]).instructions)
        return _contents(realm)


def _contents(realm: Realm) -> list[Any]:
    return sorted((o["id"], o["count"], o["label"], o["next"]["id"] if o["next"] else None,
                   list(o["tags"])) for o in realm.objects("Node"))


def _nodes(count: int) -> dict[int, bytes]:
    """Objects with plain fields, a link, a list; erased and re-linked along the way."""
    out = {1: _changeset(
        1,
        ins.AddClass("Node", "id", "int", False, False),
        ins.AddProperty("Node", "id", "int"),
        ins.AddProperty("Node", "count", "int"),
        ins.AddProperty("Node", "label", "string?"),
        ins.AddProperty("Node", "next", "Node?"),
        ins.AddProperty("Node", "tags", "string[]"),
    )}
    for v in range(2, count + 1):
        steps: list[ins.Instruction] = [
            ins.CreateObject("Node", v), ins.Set("Node", v, ("count",), v),
            ins.Set("Node", v, ("label",), f"n{v}"),
            ins.ListInsert("Node", v, ("tags",), 0, f"t{v}")]
        if v > 2:
            steps.append(ins.Set("Node", v, ("next",), ins.Link("Node", v - 1)))
        if v % 7 == 0:
            steps += [ins.EraseObject("Node", v - 3), ins.AddInteger("Node", v - 1, ("count",), 5)]
        out[v] = _changeset(v, *steps)
    return out


def test_from_empty_the_folded_state_is_written_in_bulk_as_a_replay_builds_it(
        tmp_path: Path) -> None:
    changesets = _nodes(40)
    builder = StateBuilder(tmp_path / "past")
    try:
        state = builder.build(30, changesets)
        with Realm.open(state.path, read_only=True) as realm:
            built = _contents(realm)
        assert built == _replayed(tmp_path, changesets, 30)
        assert len(built) == 25 and (5, 5, "n5", None, ["t5"]) in built  # 4 and 11 erased
        assert [c.new for c in state.changes][:4] == ["created", "30", "'n30'", "'t30'"]
        assert builder.build(35, changesets).version == 35  # forward: the delta replayed
        assert builder.applied == 35
    finally:
        builder.close()


def test_a_history_the_fold_refuses_is_replayed_as_the_store_applies_it(
        tmp_path: Path) -> None:
    changesets = _nodes(10)
    # A Set on an object that does not exist: the store ignores it, the fold refuses it.
    changesets[11] = _changeset(11, ins.Set("Node", 999, ("count",), 1))
    changesets[12] = _changeset(12, ins.Set("Node", 10, ("count",), 12))
    with pytest.raises(CompactionError):
        SquashedState().fold([decode_changeset(changesets[v]) for v in range(1, 12)])
    builder = StateBuilder(tmp_path / "past")
    try:
        builder.add({v: changesets[v] for v in range(1, 13)})  # decoded ahead, as fetched
        state = builder.build(12)
        with Realm.open(state.path, read_only=True) as realm:
            assert _contents(realm) == _replayed(tmp_path, changesets, 12)
        assert builder.applied == 12
    finally:
        builder.close()


def test_changes_are_grouped_by_object_with_old_and_new_per_property() -> None:
    changes = (
        Change("Chat", "", "AddClass Chat", "", ""),
        Change("Message", "'a'", "Create", "", "created", "a"),
        Change("Message", "'a'", "Set text", "", "'hi'", "a", "text"),
        Change("Message", "'a'", "Set n", "", "1", "a", "n"),
        Change("Message", "'b'", "Set text", "'x'", "'y'", "b", "text"),
        Change("Message", "'b'", "Set text", "'y'", "'z'", "b", "text"),
        Change("Message", "'c'", "Erase", "existed", "erased", "c"),
    )
    grouped = by_object(changes)
    assert [(g.class_name, g.key, g.kind) for g in grouped] == [
        ("Chat", "", "schema"), ("Message", "'a'", "created"),
        ("Message", "'b'", "changed"), ("Message", "'c'", "deleted")]
    assert grouped[1].properties == (("text", "", "'hi'"), ("n", "", "1"))
    assert grouped[2].properties == (("text", "'x'", "'z'"),)  # first old, last new
    assert grouped[1].primary_key == "a"


def test_collections_are_counted_in_plain_english() -> None:
    assert shown(["one"]) == "1 item"
    assert shown(["one", "two"]) == "2 items"


def test_links_are_named_as_the_tables_name_objects() -> None:
    key = ObjectId("6b177bfe6e33220d9d6140a9")
    assert shown(ins.Link("Message", key)) == "Message 6b177bfe6e33220d9d6140a9"
    assert shown(True) == "true"
