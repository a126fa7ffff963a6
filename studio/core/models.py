"""Python classes as schema sugar.

A class deriving from :class:`Model` describes one object class with type
annotations; ``Realm.open(path, schema=[Person, Dog])`` accepts such classes
wherever it accepts Realm JS's JSON form, and ``realm.objects(Person)``,
``realm.create(Person, ...)`` and ``realm.object_for_primary_key(Person, ...)``
take the class for its name. Objects are still :class:`RealmObject` (the class
describes the schema; it is not instantiated)::

    class Dog(Model):
        name: str
        owners = Backlinks("Person", "dogs")

    class Address(EmbeddedModel):
        street: str

    class Person(Model):
        __primary_key__ = "_id"
        _id: ObjectId = ObjectId            # a function as default: a new id per object
        name: Annotated[str, Indexed]
        age: int | None                     # optional
        dogs: list[Dog]
        best: Dog | None                    # a to-one link (always optional)
        tags: set[str]
        scores: dict[str, int]
        address: Address | None
        done: bool = False                  # a value as default

Annotations: ``bool int float str bytes datetime ObjectId uuid.UUID
Decimal Any`` (mixed), ``X | None`` (optional), another model (a link or an
embedded object), ``list[X]``, ``set[X]``, ``dict[str, X]``,
``Annotated[X, Indexed]``, and ``Annotated[float, Float32]`` for Realm's
single-precision float (a plain ``float`` is a double). Annotations may be
strings (``from __future__ import annotations``): they are resolved when the
schema is read, when every class exists. The class name is the Python name unless ``__realm_name__``
says otherwise.
"""

from __future__ import annotations

import types
import typing
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from studio.core.errors import SchemaError
from studio.core.property_types import MIXED, PROPERTY_TYPES
from studio.primitives.objectid import ObjectId

# The Python class a model annotates a property with, for each type (float needs Float32).
_PRIMITIVES: dict[Any, str] = {
    **{t.value_classes[0]: t.name for t in PROPERTY_TYPES.values() if t.value_classes},
    Any: MIXED,
}


class Indexed:
    """``Annotated[str, Indexed]``: the property gets an index."""


class Float32:
    """``Annotated[float, Float32]``: Realm's single-precision ``float`` (a plain
    ``float`` is a ``double``)."""


class Backlinks:
    """A computed backlink: the objects of ``object_type`` whose ``property``
    links to this one (assign it in the class body, no annotation)."""

    def __init__(self, object_type: str | type[Model], property: str) -> None:
        self.object_type = object_type
        self.property = property


class Model:
    """Base of a class that describes an object class (see the module docstring)."""

    __realm_name__: ClassVar[str | None] = None
    __primary_key__: ClassVar[str | None] = None
    __embedded__: ClassVar[bool] = False

    def __init__(self) -> None:
        raise TypeError(
            f"{type(self).__name__} describes a schema; create objects with "
            f"realm.create({type(self).__name__}, {{...}})"
        )


class EmbeddedModel(Model):
    """Base of an embedded class (owned by one parent object)."""

    __embedded__: ClassVar[bool] = True


def is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, Model) and value not in (
        Model,
        EmbeddedModel,
    )


def realm_name(model: type[Model] | str) -> str:
    """The class name a model (or a name) stands for."""
    if isinstance(model, str):
        return model
    if not is_model(model):
        raise SchemaError(f"expected a class name or a Model subclass, got {model!r}")
    return model.__realm_name__ or model.__name__


def schema_of(model: type[Model]) -> dict[str, Any]:
    """The Realm JS JSON form of ``model``."""
    name = realm_name(model)
    # Each class's annotations are read in its module; models defined anywhere
    # (also inside functions) can name each other.
    names = {**_TYPING_NAMES, **{cls.__name__: cls for cls in _all_models()}}
    try:
        hints = typing.get_type_hints(model, localns=names, include_extras=True)
    except NameError as exc:
        raise SchemaError(
            f"class {name}: an annotation names something that does not exist ({exc}); "
            "define every model before opening the realm"
        ) from None
    properties: dict[str, Any] = {}
    for attr, hint in hints.items():
        if attr.startswith("__") or get_origin(hint) is ClassVar:
            continue
        spec = _property(name, attr, hint)
        if attr in model.__dict__:
            spec["default"] = model.__dict__[attr]
        properties[attr] = spec
    for attr, value in model.__dict__.items():
        if isinstance(value, Backlinks):
            properties[attr] = {
                "type": "linkingObjects",
                "objectType": realm_name(value.object_type),
                "property": value.property,
            }
    out: dict[str, Any] = {"name": name, "properties": properties}
    if model.__primary_key__ is not None:
        out["primaryKey"] = model.__primary_key__
    if model.__embedded__:
        out["embedded"] = True
    return out


def _typing_names() -> dict[str, Any]:
    # What annotations commonly name, for classes whose module is not
    # importable (code run with exec, e.g. the Studio's generated models).
    return {
        "Annotated": Annotated, "Any": Any, "ClassVar": ClassVar, "datetime": datetime,
        "Decimal": Decimal, "uuid": uuid, "ObjectId": ObjectId, "Indexed": Indexed,
        "Float32": Float32,
    }  # fmt: skip


def _all_models() -> list[type[Model]]:
    out: list[type[Model]] = []
    pending: list[type[Model]] = [Model]
    while pending:
        for sub in pending.pop().__subclasses__():
            out.append(sub)
            pending.append(sub)
    return out


def _property(class_name: str, attr: str, hint: Any) -> dict[str, Any]:
    where = f"{class_name}.{attr}"
    hint, extras = _annotations(hint)
    indexed = Indexed in extras
    base, optional = _unwrap_optional(hint)
    base, more = _annotations(base)
    extras |= more
    origin = get_origin(base)
    if origin in (list, set):
        (inner,) = get_args(base) or (None,)
        suffix = "[]" if origin is list else "<>"
        spec: dict[str, Any] = {"type": _element(where, inner) + suffix}
    elif origin is dict:
        args = get_args(base)
        if len(args) != 2 or args[0] is not str:
            raise SchemaError(f"{where}: a dictionary is dict[str, X] (string keys)")
        spec = {"type": _element(where, args[1]) + "{}"}
    elif is_model(base):
        spec = {"type": realm_name(base) + "?"}
    elif base in _PRIMITIVES:
        spec = {"type": _primitive(base, extras) + ("?" if optional and base is not Any else "")}
    else:
        raise SchemaError(f"{where}: cannot store {hint!r}; {_SUPPORTED}")
    if indexed:
        spec["indexed"] = True
    return spec


def _element(where: str, hint: Any) -> str:
    hint, extras = _annotations(hint)
    base, optional = _unwrap_optional(hint)
    base, more = _annotations(base)
    extras |= more
    if is_model(base):
        return realm_name(base)
    if base in _PRIMITIVES:
        return _primitive(base, extras) + ("?" if optional and base is not Any else "")
    raise SchemaError(f"{where}: cannot store collections of {hint!r}; {_SUPPORTED}")


def _annotations(hint: Any) -> tuple[Any, set[Any]]:
    """``Annotated[X, ...]`` -> X and its markers (classes or instances)."""
    if get_origin(hint) is not Annotated:
        return hint, set()
    base, *extras = get_args(hint)
    return base, {extra if isinstance(extra, type) else type(extra) for extra in extras}


def _primitive(base: Any, extras: set[Any]) -> str:
    if Float32 in extras:
        if base is not float:
            raise SchemaError(f"Float32 marks a float, not {base!r}")
        return "float"
    return _PRIMITIVES[base]


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return args[0], True
        raise SchemaError(f"a property has one type (or that type | None), got {hint!r}")
    return hint, False


_SUPPORTED = (
    "use bool, int, float, str, bytes, datetime, ObjectId, uuid.UUID, Decimal, Any, "
    "another Model, X | None, list[X], set[X] or dict[str, X]"
)


_TYPING_NAMES: dict[str, Any] = _typing_names()
