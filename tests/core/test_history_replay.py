"""Replaying a recorded history on an empty realm reproduces the same state."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from studio.core import ObjectId, Realm
from studio.core.history import decode_instructions, encode_instructions
from studio.core.replay import apply_instructions

SCHEMA = [
    {
        "name": "Thing",
        "primaryKey": "_id",
        "properties": {
            "_id": "int",
            "b": "bool",
            "i": "int",
            "f": "float",
            "d": "double",
            "s": "string",
            "bin": "data",
            "when": "date",
            "oid": "objectId?",
            "u": "uuid?",
            "dec": "decimal128?",
            "m": "mixed",
            "opt": "int?",
            "link": "Thing?",
            "spot": "Spot?",
            "ints": "int[]",
            "links": "Thing[]",
            "spots": "Spot[]",
            "tags": "string<>",
            "scores": "double{}",
            "places": "Spot{}",
        },
    },
    {
        "name": "Spot",
        "embedded": True,
        "properties": {"label": "string", "n": "int?", "inner": "Spot?"},
    },
]


def random_primitive(rng: random.Random, kind: str) -> Any:
    if kind == "b":
        return rng.random() < 0.5
    if kind in ("i", "opt"):
        return rng.randint(-(2**63), 2**63 - 1) if rng.random() < 0.1 else rng.randint(-50, 50)
    if kind in ("f", "d"):
        return rng.choice([0.0, -1.5, 1e300, float("inf"), rng.random()])
    if kind == "s":
        return rng.choice(["", "a", "ünï", "x" * 50, "nul\x00byte"])
    if kind == "bin":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(5)))
    if kind == "when":
        return datetime(2020, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(10**12))
    if kind == "oid":
        return ObjectId(bytes(rng.randrange(256) for _ in range(12)))
    if kind == "u":
        return uuid.UUID(int=rng.getrandbits(128))
    if kind == "dec":
        return Decimal(rng.randint(-(10**20), 10**20)) / Decimal(1000)
    raise AssertionError(kind)


def random_mixed(rng: random.Random) -> Any:
    kind = rng.choice(["b", "i", "d", "s", "bin", "when", "oid", "u", "dec", "none"])
    return None if kind == "none" else random_primitive(rng, kind)


def random_spot(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    spot: dict[str, Any] = {"label": rng.choice(["a", "b", "c"]), "n": rng.choice([None, 1, 2])}
    if depth < 1 and rng.random() < 0.3:
        spot["inner"] = random_spot(rng, depth + 1)
    return spot


def random_transaction(realm: Realm, rng: random.Random, next_id: list[int]) -> None:
    things = list(realm.objects("Thing"))
    for _ in range(rng.randint(1, 6)):
        op = rng.choice(["create", "create", "set", "list", "set_ops", "dict", "delete", "embed"])
        if op == "create" or not things:
            values: dict[str, Any] = {"_id": next_id[0]}
            next_id[0] += 1
            for kind in ("b", "i", "f", "d", "s", "bin", "when"):
                values[kind] = random_primitive(rng, kind)
            if rng.random() < 0.5:
                values["oid"] = random_primitive(rng, "oid")
                values["u"] = random_primitive(rng, "u")
                values["dec"] = random_primitive(rng, "dec")
            values["m"] = random_mixed(rng)
            values["ints"] = [rng.randint(0, 9) for _ in range(rng.randrange(4))]
            values["tags"] = rng.sample(["x", "y", "z"], rng.randrange(4))
            values["scores"] = {k: rng.random() for k in rng.sample(["p", "q"], rng.randrange(3))}
            if rng.random() < 0.4:
                values["spot"] = random_spot(rng)
            if things and rng.random() < 0.5:
                values["link"] = rng.choice(things)
                values["links"] = rng.sample(things, min(len(things), 2))
            if rng.random() < 0.3:
                values["spots"] = [random_spot(rng) for _ in range(2)]
            things.append(realm.create("Thing", values))
            continue
        thing = rng.choice(things)
        if op == "set":
            kind = rng.choice(["b", "i", "f", "s", "bin", "when", "oid", "u", "dec", "opt", "m",
                               "link"])
            if kind == "m":
                thing[kind] = random_mixed(rng) if rng.random() < 0.8 else rng.choice(things)
            elif kind == "link":
                thing.link = rng.choice([None, *things])
            elif kind in ("oid", "u", "dec", "opt") and rng.random() < 0.3:
                thing[kind] = None
            else:
                thing[kind] = random_primitive(rng, kind)
            if rng.random() < 0.2:
                thing.increment("i", rng.randint(-3, 3))
        elif op == "list":
            lst = thing.ints if rng.random() < 0.6 else thing.links
            size = len(lst)
            action = rng.choice(["append", "insert", "set", "del", "move", "clear"])
            value = rng.randint(0, 9) if lst.property_schema.type == "int" else rng.choice(things)
            if action == "append" or size == 0:
                lst.append(value)
            elif action == "insert":
                lst.insert(rng.randrange(size + 1), value)
            elif action == "set":
                lst[rng.randrange(size)] = value
            elif action == "del":
                del lst[rng.randrange(size)]
            elif action == "move":
                lst.move(rng.randrange(size), rng.randrange(size))
            else:
                lst.clear()
        elif op == "set_ops":
            if rng.random() < 0.6:
                thing.tags.add(rng.choice(["x", "y", "z", "w"]))
            else:
                thing.tags.discard(rng.choice(["x", "y", "z"]))
        elif op == "dict":
            if rng.random() < 0.6:
                thing.scores[rng.choice(["p", "q", "r"])] = rng.random()
            elif "p" in thing.scores:
                del thing.scores["p"]
            if rng.random() < 0.3:
                thing.places[rng.choice(["home", "work"])] = random_spot(rng)
        elif op == "embed":
            if thing.spot is not None and rng.random() < 0.5:
                thing.spot.label = rng.choice(["d", "e"])
                if thing.spot.inner is not None:
                    thing.spot.inner.n = rng.randint(0, 5)
            elif rng.random() < 0.5:
                thing.spot = random_spot(rng) if rng.random() < 0.8 else None
            elif len(thing.spots):
                thing.spots[0].label = "changed"
            else:
                thing.spots.append(random_spot(rng))
        elif op == "delete":
            realm.delete(thing)
            things.remove(thing)


def dump(realm: Realm) -> list[dict[str, Any]]:
    out = []
    for thing in realm.objects("Thing").sorted("_id"):
        values = thing.to_dict()
        out.append(values)
    return out


def replay_into(tmp: Path, source: Realm) -> Realm:
    target = Realm.open(tmp / "replica.realm")
    for changeset in source.history():
        with target.write():
            apply_instructions(target, changeset.instructions)
    return target


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), transactions=st.integers(1, 12))
def test_replaying_history_reproduces_state(tmp_path_factory: Any, seed: int,
                                            transactions: int) -> None:
    tmp = tmp_path_factory.mktemp("replay")
    rng = random.Random(seed)
    source = Realm.open(tmp / "source.realm", schema=SCHEMA, record_history=True)
    next_id = [0]
    for _ in range(transactions):
        with source.write():
            random_transaction(source, rng, next_id)
    replica = replay_into(tmp, source)
    assert [c.name for c in replica.schema] == [c.name for c in source.schema]
    assert dump(replica) == dump(source)
    assert len(replica.objects("Spot")) == len(source.objects("Spot"))
    source.close()
    replica.close()


def test_history_records_one_changeset_per_transaction(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "h.realm", schema=SCHEMA, record_history=True)
    with realm.write():
        realm.create("Thing", {"_id": 1, "b": True, "i": 1, "f": 1.0, "d": 2.0, "s": "s",
                               "bin": b"", "when": datetime(2021, 1, 1, tzinfo=UTC)})
    with realm.write():
        realm.object_for_primary_key("Thing", 1).i = 5  # type: ignore[union-attr]
    history = realm.history()
    assert len(history) == 3  # the schema, then the two transactions
    assert type(history[1].instructions[0]).__name__ == "CreateObject"
    last = history[2].instructions
    assert len(last) == 1 and last[0].path == ("i",) and last[0].value == 5  # type: ignore[union-attr]
    assert [c.client_version for c in history] == sorted(c.client_version for c in history)
    realm.close()


def test_instruction_encoding_round_trips() -> None:
    from studio.primitives import instructions as ins

    items: list[ins.Instruction] = [
        ins.AddClass("A", "_id", "objectId", False, False),
        ins.AddProperty("A", "x", "int?", True),
        ins.CreateObject("A", ObjectId("6001c033600510df3bbfd864")),
        ins.Set("A", 1, ("x",), Decimal("1.5")),
        ins.Set("A", "k", ("e", 2, "y"), ins.EMBEDDED),
        ins.ListInsert("A", uuid.UUID(int=5), ("l",), 0, ins.Link("B", 7)),
        ins.DictSet("A", 1, ("d",), "key", b"\x00\xff"),
        ins.Set("A", 1, ("t",), datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ins.AddInteger("A", 1, ("n",), -3),
    ]
    assert decode_instructions(encode_instructions(items)) == items


def test_recording_off_writes_no_history(tmp_path: Path) -> None:
    realm = Realm.open(tmp_path / "plain.realm", schema=SCHEMA)
    with realm.write():
        realm.create("Thing", {"_id": 1, "b": True, "i": 1, "f": 1.0, "d": 2.0, "s": "s",
                               "bin": b"", "when": datetime(2021, 1, 1, tzinfo=UTC)})
    assert realm.history() == []
    realm.close()
