"""The realm as of a past server version (issue 16, time travel), without Qt or a
server: changesets replayed into a temporary realm, forward by the delta only, back
from the nearest kept state, and what a version changed with old -> new values."""

from __future__ import annotations

from pathlib import Path

from studio.core import Realm
from studio.primitives import instructions as ins
from studio.sync.changeset import encode_changeset
from studio.ui.server.past_states import StateBuilder


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


def test_new_objects_replay_as_they_are_and_rewrites_fold_first(tmp_path: Path) -> None:
    from studio.sync.changeset import decode_changeset
    from studio.ui.server.past_states import rewrites_much

    creates = {1: history(1)[1]}
    for v in range(2, 41):
        creates[v] = _changeset(v, ins.CreateObject("Counter", v),
                                ins.Set("Counter", v, ("count",), v),
                                ins.Set("Counter", v, ("label",), f"n{v}"))
    assert not rewrites_much([decode_changeset(b) for b in creates.values()])
    assert rewrites_much([decode_changeset(b) for b in history(40).values()])
    builder = StateBuilder(tmp_path / "past")
    try:
        state = builder.build(30, creates)
        with Realm.open(state.path, read_only=True) as realm:
            assert sorted(o["count"] for o in realm.objects("Counter")) == [0, *range(2, 31)]
            assert realm.object_for_primary_key("Counter", 30)["label"] == "n30"
        assert [c.new for c in state.changes] == ["created", "30", "'n30'"]
    finally:
        builder.close()
