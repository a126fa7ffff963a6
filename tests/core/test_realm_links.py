"""Links, collections of objects, embedded objects, linkingObjects and delete semantics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.core import (
    InvalidatedObjectError,
    ObjectId,
    Realm,
    RealmObject,
    SchemaError,
    ValueTypeError,
)

GRAPH: list[dict[str, Any]] = [
    {
        "name": "Owner",
        "primaryKey": "name",
        "properties": {
            "name": "string",
            "dog": "Dog?",
            "dogs": "Dog[]",
            "dog_set": "Dog<>",
            "dog_map": "Dog{}",
            "anything": "mixed",
            "anything_list": "mixed[]",
            "address": "Address?",
            "addresses": "Address[]",
            "address_map": "Address{}",
        },
    },
    {
        "name": "Dog",
        "properties": {
            "name": "string",
            "age": "int?",
            "owners": {"type": "linkingObjects", "objectType": "Owner", "property": "dog"},
            "keepers": {"type": "linkingObjects", "objectType": "Owner", "property": "dogs"},
        },
    },
    {
        "name": "Address",
        "embedded": True,
        "properties": {"street": "string", "location": "Location?", "notes": "string[]"},
    },
    {"name": "Location", "embedded": True, "properties": {"lat": "double", "lng": "double"}},
]


@pytest.fixture
def realm(tmp_path: Path) -> Any:
    r = Realm.open(tmp_path / "graph.realm", schema=GRAPH)
    yield r
    r.close()


def _dogs(realm: Realm, *names: str) -> list[RealmObject]:
    return [realm.create("Dog", {"name": n}) for n in names]


# -- to-one links and nested create -----------------------------------------------------------


def test_nested_dicts_create_linked_objects(people: Realm) -> None:
    with people.write():
        ann = people.create("Person", {
            "_id": ObjectId(), "name": "Ann", "dog": {"name": "Rex"},
            "friends": [{"_id": ObjectId(), "name": "Bob"}, {"_id": ObjectId(), "name": "Cy"}],
            "address": {"street": "Main St", "city": "Oslo"},
        })
    assert ann.dog.name == "Rex" and isinstance(ann.dog, RealmObject)
    assert [f.name for f in ann.friends] == ["Bob", "Cy"]
    assert len(people.objects("Person")) == 3 and len(people.objects("Dog")) == 1
    assert ann.address.street == "Main St" and ann.address.city == "Oslo"
    assert people.objects("Dog")[0] == ann.dog


def test_design_example_runs(people: Realm) -> None:
    with people.write():
        other = people.create("Person", {"_id": ObjectId(), "name": "Bob"})
        p = people.create("Person", {"_id": ObjectId(), "name": "Ann", "dog": {"name": "Rex"}})
        p["age"] = 41
        p.age = 42
        p["friends"].append(other)
    assert p["age"] == 42 == p.age
    assert list(p.friends) == [other]


def test_failed_nested_create_leaves_nothing(people: Realm) -> None:
    with people.write():
        with pytest.raises(ValueTypeError):
            people.create("Person", {"_id": ObjectId(), "name": "Ann", "dog": {"name": "Rex"},
                                     "friends": [{"_id": ObjectId(), "name": 5}]})
        assert len(people.objects("Dog")) == 0 and len(people.objects("Person")) == 0
    assert len(people.objects("Dog")) == 0 and len(people.objects("Person")) == 0


def test_reassign_and_clear_link(realm: Realm) -> None:
    with realm.write():
        a, b = _dogs(realm, "a", "b")
        o = realm.create("Owner", {"name": "o", "dog": a})
    with realm.write():
        o.dog = b
    assert o.dog == b and len(realm.objects("Dog")) == 2  # the old target is not deleted
    with realm.write():
        o.dog = None
    assert o.dog is None


def test_link_type_and_realm_are_checked(realm: Realm, tmp_path: Path) -> None:
    with realm.write():
        o = realm.create("Owner", {"name": "o"})
        with pytest.raises(ValueTypeError, match="Dog"):
            o.dog = o
        with pytest.raises(ValueTypeError):
            o.dog = "Rex"
        with pytest.raises(ValueTypeError):
            o.dogs.append(o)
    other = Realm.open(realm.path)
    try:
        dog_elsewhere = None
        with other.write():
            dog_elsewhere = other.create("Dog", {"name": "x"})
        with realm.write(), pytest.raises(ValueTypeError, match="another"):
            o.dog = dog_elsewhere
    finally:
        other.close()


# -- collections of objects --------------------------------------------------------------------


def test_list_of_objects_operations(realm: Realm) -> None:
    with realm.write():
        a, b, c, d = _dogs(realm, "a", "b", "c", "d")
        o = realm.create("Owner", {"name": "o", "dogs": [a, b]})
        dogs = o.dogs
        dogs.append(c)
        dogs.insert(0, d)
        assert [x.name for x in dogs] == ["d", "a", "b", "c"]
        assert dogs[-1] == c and dogs[0] == d and [x.name for x in dogs[1:3]] == ["a", "b"]
        dogs.move(0, 3)
        assert [x.name for x in dogs] == ["a", "b", "c", "d"]
        dogs[1] = a
        assert [x.name for x in dogs] == ["a", "a", "c", "d"]
        assert dogs.pop() == d
        dogs.remove(a)
        assert [x.name for x in dogs] == ["a", "c"]
        del dogs[0]
        assert dogs.index(c) == 0 and c in dogs and a not in dogs
        with pytest.raises(IndexError):
            dogs[5]
        with pytest.raises(IndexError):
            dogs[5] = a
        o.dogs = [b, b]
        assert [x.name for x in o.dogs] == ["b", "b"]
        o.dogs.clear()
        assert len(o.dogs) == 0
    assert len(realm.objects("Dog")) == 4  # links to objects never delete them


def test_set_and_dict_of_objects(realm: Realm) -> None:
    with realm.write():
        a, b = _dogs(realm, "a", "b")
        o = realm.create("Owner", {"name": "o", "dog_set": [a, a, b], "dog_map": {"x": a}})
        assert len(o.dog_set) == 2
        o.dog_set.add(a)
        assert len(o.dog_set) == 2
        o.dog_set.remove(a)
        assert list(o.dog_set) == [b]
        with pytest.raises(KeyError):
            o.dog_set.remove(a)
        o.dog_set.discard(a)
        o.dog_map["y"] = b
        o.dog_map["x"] = None
        assert o.dog_map.to_dict() == {"x": None, "y": b}
        del o.dog_map["x"]
        assert list(o.dog_map) == ["y"] and len(o.dog_map) == 1
        with pytest.raises(KeyError):
            o.dog_map["nope"]
        for bad in ("$x", "a.b"):
            with pytest.raises(ValueTypeError):
                o.dog_map[bad] = a


# -- embedded objects --------------------------------------------------------------------------


def test_embedded_cannot_be_created_alone(realm: Realm) -> None:
    with realm.write():
        with pytest.raises(SchemaError, match="embedded"):
            realm.create("Address", {"street": "x"})
        with pytest.raises(SchemaError, match="embedded"):
            realm.create("Location", {"lat": 1.0, "lng": 2.0})
    assert len(realm.objects("Address")) == 0


def test_embedded_objects_are_created_from_dicts(realm: Realm) -> None:
    with realm.write():
        o = realm.create("Owner", {
            "name": "o",
            "address": {"street": "s", "location": {"lat": 1.0, "lng": 2.0}, "notes": ["n"]},
            "addresses": [{"street": "a"}, {"street": "b"}],
            "address_map": {"home": {"street": "h"}},
        })
    assert o.address.location.lat == 1.0 and list(o.address.notes) == ["n"]
    assert [a.street for a in o.addresses] == ["a", "b"]
    assert o.address_map["home"].street == "h"
    assert len(realm.objects("Address")) == 4 and len(realm.objects("Location")) == 1
    assert o.to_dict()["address"] == {
        "street": "s", "location": {"lat": 1.0, "lng": 2.0}, "notes": ["n"]}


def test_embedded_object_cannot_be_shared(realm: Realm) -> None:
    with realm.write():
        o = realm.create("Owner", {"name": "o", "address": {"street": "s"}})
        p = realm.create("Owner", {"name": "p"})
        with pytest.raises(ValueTypeError, match="embedded"):
            p.address = o.address
        with pytest.raises(ValueTypeError):
            p.addresses.append(o.address)


def test_embedded_edits_in_place(realm: Realm) -> None:
    with realm.write():
        o = realm.create("Owner", {"name": "o", "address": {"street": "s"}})
        o.address.street = "t"
        o.address.location = {"lat": 3.0, "lng": 4.0}
    assert o.address.street == "t" and o.address.location.lng == 4.0


def test_replacing_or_removing_embedded_deletes_it(realm: Realm) -> None:
    with realm.write():
        o = realm.create("Owner", {
            "name": "o", "address": {"street": "s", "location": {"lat": 1.0, "lng": 1.0}},
            "addresses": [{"street": "a"}, {"street": "b"}, {"street": "c"}],
            "address_map": {"k": {"street": "k"}},
        })
        old = o.address
    assert len(realm.objects("Address")) == 5
    with realm.write():
        o.address = {"street": "new"}
    assert not old.is_valid
    assert len(realm.objects("Address")) == 5 and len(realm.objects("Location")) == 0
    with realm.write():
        o.address = None
        del o.addresses[0]
        o.addresses[0] = {"street": "B"}
        o.address_map["k"] = {"street": "K"}
    assert sorted(a.street for a in realm.objects("Address")) == ["B", "K", "c"]
    with realm.write():
        o.addresses.clear()
        del o.address_map["k"]
    assert len(realm.objects("Address")) == 0


def test_embedded_deleted_with_parent(realm: Realm) -> None:
    with realm.write():
        o = realm.create("Owner", {
            "name": "o", "address": {"street": "s", "location": {"lat": 1.0, "lng": 1.0}},
            "addresses": [{"street": "a", "location": {"lat": 2.0, "lng": 2.0}}],
            "address_map": {"k": {"street": "k"}},
        })
        keep = realm.create("Owner", {"name": "keep", "address": {"street": "kept"}})
        embedded = [o.address, o.address.location, o.addresses[0], o.address_map["k"]]
    with realm.write():
        realm.delete(o)
    assert [a.street for a in realm.objects("Address")] == ["kept"]
    assert len(realm.objects("Location")) == 0
    assert not any(e.is_valid for e in embedded)
    assert keep.address.street == "kept"


# -- linkingObjects -------------------------------------------------------------------------


def test_linking_objects_follow_links_live(realm: Realm) -> None:
    with realm.write():
        rex, fido = _dogs(realm, "rex", "fido")
        a = realm.create("Owner", {"name": "a", "dog": rex, "dogs": [rex, fido]})
        b = realm.create("Owner", {"name": "b", "dog": rex})
    assert sorted(o.name for o in rex.owners) == ["a", "b"]
    assert len(fido.owners) == 0
    assert list(rex.keepers) == [a] and list(fido.keepers) == [a]
    assert a in rex.owners
    with realm.write():
        b.dog = fido
        a.dogs.remove(fido)
    assert list(rex.owners) == [a] and list(fido.owners) == [b]
    assert len(fido.keepers) == 0
    with realm.write():
        realm.delete(a)
    assert len(rex.owners) == 0 and len(rex.keepers) == 0


def test_linking_objects_are_read_only(realm: Realm) -> None:
    with realm.write():
        (rex,) = _dogs(realm, "rex")
        with pytest.raises(SchemaError, match="linkingObjects"):
            rex.owners = []
        with pytest.raises(SchemaError):
            realm.create("Dog", {"name": "x", "owners": []})
    assert "owners" not in rex.to_dict()


# -- delete semantics ---------------------------------------------------------------------------


def test_delete_nulls_links_and_removes_from_collections(realm: Realm) -> None:
    with realm.write():
        a, b = _dogs(realm, "a", "b")
        o = realm.create("Owner", {
            "name": "o", "dog": a, "dogs": [a, b, a, b], "dog_set": [a, b],
            "dog_map": {"x": a, "y": b}, "anything": a, "anything_list": [a, 1],
        })
        p = realm.create("Owner", {"name": "p", "dog": a, "dogs": [a]})
    with realm.write():
        realm.delete(a)
    assert o.dog is None and p.dog is None
    assert [d.name for d in o.dogs] == ["b", "b"] and len(p.dogs) == 0
    assert list(o.dog_set) == [b]
    assert o.dog_map.to_dict() == {"x": None, "y": b}  # dictionary values become null
    assert o.anything is None
    assert o.anything_list[1] == 1 and o.anything_list[0] is None
    assert not a.is_valid and b.is_valid


def test_deleted_object_is_invalid(realm: Realm) -> None:
    with realm.write():
        (a,) = _dogs(realm, "a")
        realm.delete(a)
        with pytest.raises(InvalidatedObjectError):
            a.name  # noqa: B018
        with pytest.raises(InvalidatedObjectError):
            a.name = "x"
        with pytest.raises(InvalidatedObjectError):
            realm.delete(a)
    assert not a.is_valid
    assert "deleted" in repr(a)


def test_delete_results_and_lists(realm: Realm) -> None:
    with realm.write():
        dogs = _dogs(realm, "a", "b", "c", "d", "e")
        for i, d in enumerate(dogs):
            d.age = i
        o = realm.create("Owner", {"name": "o", "dogs": dogs})
    with realm.write():
        realm.delete(realm.objects("Dog").filtered("age >= 3"))
    assert sorted(d.name for d in realm.objects("Dog")) == ["a", "b", "c"]
    assert [d.name for d in o.dogs] == ["a", "b", "c"]
    with realm.write():
        realm.delete([dogs[0], dogs[1]])
    assert [d.name for d in realm.objects("Dog")] == ["c"]
    with realm.write():
        realm.delete(o.dogs)
    assert len(realm.objects("Dog")) == 0 and len(o.dogs) == 0
    with realm.write(), pytest.raises(ValueTypeError):
        realm.delete("Dog")  # type: ignore[arg-type]


def test_delete_inside_transaction_is_rolled_back_with_it(realm: Realm) -> None:
    with realm.write():
        (a,) = _dogs(realm, "a")
        o = realm.create("Owner", {"name": "o", "dog": a, "dogs": [a]})
    with pytest.raises(RuntimeError), realm.write():
        realm.delete(a)
        raise RuntimeError("undo")
    assert a.is_valid and o.dog == a and list(o.dogs) == [a]
