"""The data sets of the query tests, built with raw SQL in the storage layout.

People (keys 1..6 in this order, which is also the default result order):

| label | name  | nick  | age  | rank | height | weight | score  | alive | born       | m      |
|-------|-------|-------|------|------|--------|--------|--------|-------|------------|--------|
| Ann   | Ann   | annie | 30   | 1    | 1.70   | 60.5   | 10.50  | True  | 1990-01-01 | 5      |
| Bob   | Bob   | None  | 25   | 2    | 1.80   | None   | 2      | False | 2000-06-15 | 5.0    |
| Cid   | Cid   | C     | None | 3    | None   | 80.0   | None   | None  | None       | "5"    |
| Dora  | Dora  | dora  | 40   | 4    | 1.60   | 55.0   | 100.25 | True  | 1985-03-03 | D(5.0) |
| Emile | Émile | ÉMILE | 30   | 5    | 1.75   | 70.0   | -1     | False | 2020-02-29 | True   |
| Eve   | eve   | EVE   | 18   | 6    | None   | None   | 0.001  | None  | 1970-01-01 | None   |

(Bob was born at 12:30 UTC; the others at midnight.)

| label | dog  | friends       | tags        | nums    | optnums | dnums    | mixes    |
|-------|------|---------------|-------------|---------|---------|----------|----------|
| Ann   | Rex  | Bob, Cid      | red, blue   | 1, 2, 3 | 1, None | 1.5      | 1, "a"   |
| Bob   | Fido | Ann           | green       | 4, 5    |         |          | 2.5      |
| Cid   | None |               |             |         | None    |          |          |
| Dora  | Rex  | Ann, Bob, Eve | red         | 10      | 3       | 0.1, 0.2 | D(3)     |
| Emile | None | Dora          | Ärger, blue | 3, 3    |         |          | True     |
| Eve   | Spot | Eve           |             |         |         |          |          |

| label | scores                   | pets            | address          | addresses          |
|-------|--------------------------|-----------------|------------------|--------------------|
| Ann   | math 90, art 70          | first: Rex      | Main St / Oslo   | A / Oslo, B / None |
| Bob   | math 50                  |                 | Elm / None       |                    |
| Dora  | math 100, art 100, pe 20 | a: Rex, b: Fido | Main St / Bergen | C / Bergen         |
| Emile | art 60                   |                 | None             |                    |
(Cid and Eve: none of these.)

oid/uid: Ann 1, Bob 2, Dora 3, Emile 4, others None. photo: Ann b"\\x01\\x02abc",
Bob b"abc", Dora b"", Emile b"\\xff", others None.

Dogs: Rex (age 5, toys ball 2.5, bone 1.0), Fido (3, no toys), Spot (7, ball 4.0).
Clubs: Chess (members Ann, Bob; leader Ann), Go (Ann, Dora, Ann; leader Dora), Empty.
Boxes (class Box): one object per kind of mixed value, see build_boxes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rql_fixtures import RawRealm, oid, uid, utc

SCHEMA: list[dict[str, Any]] = [
    {
        "name": "Person",
        "properties": {
            "name": {"type": "string", "indexed": True},
            "nick": "string?",
            "age": "int?",
            "rank": "int",
            "height": "double?",
            "weight": "float?",
            "score": "decimal128?",
            "alive": "bool?",
            "born": "date?",
            "oid": "objectId?",
            "uid": "uuid?",
            "photo": "data?",
            "m": "mixed",
            "dog": "Dog?",
            "friends": "Person[]",
            "tags": "string<>",
            "nums": "int[]",
            "optnums": "int?[]",
            "dnums": "decimal128[]",
            "mixes": "mixed[]",
            "scores": "int{}",
            "pets": "Dog{}",
            "address": "Address?",
            "addresses": "Address[]",
            "clubs": {"type": "linkingObjects", "objectType": "Club", "property": "members"},
        },
    },
    {
        "name": "Dog",
        "properties": {
            "name": "string",
            "age": "int",
            "toys": "Toy[]",
            "owners": {"type": "linkingObjects", "objectType": "Person", "property": "dog"},
        },
    },
    {"name": "Toy", "properties": {"name": "string", "price": "double"}},
    {
        "name": "Address",
        "embedded": True,
        "properties": {"street": "string", "city": "string?"},
    },
    {
        "name": "Club",
        "properties": {"name": "string", "members": "Person[]", "leader": "Person?"},
    },
    {
        "name": "Box",
        "properties": {"label": "string", "m": "mixed", "ms": "mixed<>", "md": "mixed{}"},
    },
]


def build_people() -> RawRealm:
    db = RawRealm(SCHEMA)
    ball = db.add("Toy", "ball", name="ball", price=2.5)
    bone = db.add("Toy", "bone", name="bone", price=1.0)
    ball2 = db.add("Toy", "ball2", name="ball", price=4.0)
    rex = db.add("Dog", "Rex", name="Rex", age=5, toys=[ball, bone])
    fido = db.add("Dog", "Fido", name="Fido", age=3, toys=[])
    spot = db.add("Dog", "Spot", name="Spot", age=7, toys=[ball2])

    def address(street: str, city: str | None) -> Any:
        return db.add("Address", None, street=street, city=city)

    ann = db.add(
        "Person", "Ann", name="Ann", nick="annie", age=30, rank=1, height=1.70, weight=60.5,
        score=Decimal("10.50"), alive=True, born=utc(1990, 1, 1), oid=oid(1), uid=uid(1),
        photo=b"\x01\x02abc", m=5, dog=rex, tags={"red", "blue"}, nums=[1, 2, 3],
        optnums=[1, None], dnums=[Decimal("1.5")], mixes=[1, "a"],
        scores={"math": 90, "art": 70}, pets={"first": rex},
        address=address("Main St", "Oslo"),
        addresses=[address("A", "Oslo"), address("B", None)],
    )
    bob = db.add(
        "Person", "Bob", name="Bob", nick=None, age=25, rank=2, height=1.80, weight=None,
        score=Decimal("2"), alive=False, born=utc(2000, 6, 15, 12, 30), oid=oid(2), uid=uid(2),
        photo=b"abc", m=5.0, dog=fido, tags={"green"}, nums=[4, 5], optnums=[], dnums=[],
        mixes=[2.5], scores={"math": 50}, pets={}, address=address("Elm", None), addresses=[],
    )
    cid = db.add(
        "Person", "Cid", name="Cid", nick="C", age=None, rank=3, height=None, weight=80.0,
        m="5", optnums=[None],
    )
    dora = db.add(
        "Person", "Dora", name="Dora", nick="dora", age=40, rank=4, height=1.60, weight=55.0,
        score=Decimal("100.25"), alive=True, born=utc(1985, 3, 3), oid=oid(3), uid=uid(3),
        photo=b"", m=Decimal("5.0"), dog=rex, tags={"red"}, nums=[10], optnums=[3],
        dnums=[Decimal("0.1"), Decimal("0.2")], mixes=[Decimal("3")],
        scores={"math": 100, "art": 100, "pe": 20}, pets={"a": rex, "b": fido},
        address=address("Main St", "Bergen"), addresses=[address("C", "Bergen")],
    )
    emile = db.add(
        "Person", "Emile", name="Émile", nick="ÉMILE", age=30, rank=5, height=1.75,
        weight=70.0, score=Decimal("-1"), alive=False, born=utc(2020, 2, 29), oid=oid(4),
        uid=uid(4), photo=b"\xff", m=True, tags={"Ärger", "blue"}, nums=[3, 3],
        mixes=[True], scores={"art": 60},
    )
    eve = db.add(
        "Person", "Eve", name="eve", nick="EVE", age=18, rank=6, score=Decimal("0.001"),
        born=utc(1970, 1, 1), m=None, dog=spot,
    )
    db.set_collection(ann, "friends", [bob, cid])
    db.set_collection(bob, "friends", [ann])
    db.set_collection(dora, "friends", [ann, bob, eve])
    db.set_collection(emile, "friends", [dora])
    db.set_collection(eve, "friends", [eve])
    db.add("Club", "Chess", name="Chess", members=[ann, bob], leader=ann)
    db.add("Club", "Go", name="Go", members=[ann, dora, ann], leader=dora)
    db.add("Club", "Empty", name="Empty", members=[])
    del cid
    return db


def build_boxes() -> RawRealm:
    db = RawRealm(SCHEMA)
    rex = db.add("Dog", "Rex", name="Rex", age=5)
    values: list[tuple[str, Any]] = [
        ("i5", 5), ("f5", 5.0), ("d5", Decimal("5")), ("f25", 2.5), ("dbig", Decimal("1e3")),
        ("s5", "5"), ("sa", "abc"), ("sA", "ABC"), ("su", "Äbc"), ("t", True), ("f", False),
        ("date", utc(2020, 1, 1)), ("data", b"abc"), ("oid", oid(9)), ("uid", uid(9)),
        ("link", rex), ("null", None), ("neg", -3),
    ]
    for label, value in values:
        db.add("Box", label, label=label, m=value)
    db.add("Box", "coll", label="coll", m=None, ms={1, "x", 2.5}, md={"a": 1, "b": "text"})
    return db
