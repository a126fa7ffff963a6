"""Links from other objects to objects about to be deleted, so that undoing the
delete can put them back.

Deleting an object nulls the links that point at it (to-one links and mixed
values become null, list and set entries go away, dictionary values become
null), and Realm keeps no record of them. Before a delete, :func:`find`
records each one (which object, which property, where in a list or under
which dictionary key); after the objects are created again,
:func:`restore` puts each link back at its place, pointing at the new object.
Holders found with a query where the query language can express it, by
scanning the class otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from studio.ui.formatting import is_object, object_key


@dataclass(frozen=True, slots=True)
class IncomingLink:
    holder_class: str
    holder_key: int
    prop: str
    kind: str
    """"one" (a link or mixed value), "list", "set" or "dictionary"."""
    place: int | str | None
    """The list index or dictionary key the link was at."""
    target_key: int


def find(realm: Any, class_name: str, targets: Iterable[Any]) -> list[IncomingLink]:
    """Every link to ``targets`` (objects of ``class_name``) from any object."""
    targets = list(targets)
    out: list[IncomingLink] = []
    for cls in realm.schema:
        if cls.embedded:
            continue  # an embedded holder has no stable key to find it by again
        for prop in cls.properties:
            if prop.is_backlink:
                continue
            links_here = prop.type == "object" and prop.object_type == class_name
            if not (links_here or prop.type == "mixed"):
                continue
            for target in targets:
                for holder in _holders(realm, cls.name, prop, target):
                    out.extend(_places(cls.name, holder, prop, target))
    return out


def restore(realm: Any, links: Iterable[IncomingLink], new_keys: Mapping[int, int],
            class_name: str) -> int:
    """Put ``links`` back (``new_keys``: old key -> key of the object created
    again, for the targets and for holders that were deleted with them);
    returns how many were restored. Holders that are gone are skipped."""
    restored = 0
    # Ascending list positions restore every index exactly.
    ordered = sorted(links, key=lambda link: (link.kind != "list", _index_of(link)))
    for link in ordered:
        new_key = new_keys.get(link.target_key)
        target = realm.object_for_key(class_name, new_key) if new_key is not None else None
        holder_key = link.holder_key
        if link.holder_class == class_name:
            holder_key = new_keys.get(holder_key, holder_key)
        holder = realm.object_for_key(link.holder_class, holder_key)
        if target is None or holder is None:
            continue
        if link.kind == "one":
            holder[link.prop] = target
        elif link.kind == "list":
            values = holder[link.prop]
            assert isinstance(link.place, int)
            values.insert(min(link.place, len(values)), target)
        elif link.kind == "set":
            holder[link.prop].add(target)
        else:
            holder[link.prop][link.place] = target
        restored += 1
    return restored


def _index_of(link: IncomingLink) -> int:
    return link.place if isinstance(link.place, int) else 0


def _holders(realm: Any, class_name: str, prop: Any, target: Any) -> list[Any]:
    objects = realm.objects(class_name)
    name = prop.name
    query = {
        None: f"{name} == $0",
        "list": f"ANY {name} == $0",
        "set": f"ANY {name} == $0",
        "dictionary": f"ANY {name}.@values == $0",
    }[prop.collection]
    try:
        return list(objects.filtered(query, target))
    except Exception:
        # Not expressible for this property (e.g. some mixed forms): look at each.
        return [obj for obj in objects if _places(class_name, obj, prop, target)]


def _places(class_name: str, holder: Any, prop: Any, target: Any) -> list[IncomingLink]:
    value = holder[prop.name]
    key = object_key(holder)
    target_key = object_key(target)
    if key is None or target_key is None:
        return []

    def make(kind: str, place: int | str | None) -> IncomingLink:
        return IncomingLink(class_name, key, prop.name, kind, place, target_key)

    if prop.collection is None:
        return [make("one", None)] if _same(value, target) else []
    if prop.collection == "list":
        return [make("list", i) for i, v in enumerate(value) if _same(v, target)]
    if prop.collection == "set":
        return [make("set", None)] if any(_same(v, target) for v in value) else []
    return [make("dictionary", k) for k, v in value.items() if _same(v, target)]


def _same(value: Any, target: Any) -> bool:
    return (
        is_object(value)
        and value.object_schema.name == target.object_schema.name
        and object_key(value) == object_key(target)
    )
