"""Hypothesis strategies for instructions, values and changesets."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from studio.primitives.instructions import (
    EMBEDDED,
    AddClass,
    AddInteger,
    AddProperty,
    Changeset,
    Clear,
    CreateObject,
    DictErase,
    DictSet,
    EraseObject,
    Instruction,
    Link,
    ListErase,
    ListInsert,
    ListMove,
    ListSet,
    SetErase,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.primitives.objectid import ObjectId
from studio.sync.values import INT64_MAX, INT64_MIN, value_key

names = st.text(min_size=1, max_size=12)
# A few fixed names so string interning gets exercised.
class_names = st.one_of(st.sampled_from(["Person", "Dog", "Item"]), names)
prop_names = st.one_of(st.sampled_from(["name", "age", "items", "tags"]), names)
indexes = st.one_of(st.integers(0, 5), st.integers(0, INT64_MAX))
int64 = st.integers(INT64_MIN, INT64_MAX)

primary_keys = st.one_of(
    st.none(),
    int64,
    st.text(max_size=20),
    st.binary(min_size=12, max_size=12).map(ObjectId),
    st.uuids(),
)

dates = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    int64,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.binary(max_size=30),
    dates,
    st.binary(min_size=12, max_size=12).map(ObjectId),
    st.uuids(),
    st.decimals(allow_nan=True, allow_infinity=True).filter(lambda d: not d.is_snan()),
    st.builds(Link, class_names, primary_keys),
)
values = st.one_of(scalars, st.just(EMBEDDED))

paths = st.tuples(prop_names).flatmap(
    lambda head: st.lists(st.one_of(prop_names, indexes), max_size=4).map(
        lambda rest: (*head, *rest)
    )
)


def _object(cls: Any, *extra: Any) -> Any:
    return st.builds(cls, class_names, primary_keys, *extra)


instructions: st.SearchStrategy[Instruction] = st.one_of(
    st.builds(
        AddClass,
        class_names,
        st.none(),
        st.none(),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(
        AddClass,
        class_names,
        prop_names,
        st.sampled_from(["int", "string", "objectId", "uuid"]),
        st.booleans(),
        st.just(False),
    ),
    st.builds(
        AddProperty,
        class_names,
        prop_names,
        st.sampled_from(["int?", "string", "Person[]", "string<>", "int{}", "mixed"]),
        st.booleans(),
        st.one_of(st.none(), class_names),
        st.one_of(st.none(), prop_names),
    ),
    _object(CreateObject),
    _object(EraseObject),
    _object(SetValue, paths, values),
    _object(AddInteger, paths, int64),
    _object(ListInsert, paths, indexes, values),
    _object(ListSet, paths, indexes, values),
    _object(ListErase, paths, indexes),
    _object(ListMove, paths, indexes, indexes),
    _object(Clear, paths),
    _object(SetInsert, paths, scalars),
    _object(SetErase, paths, scalars),
    _object(DictSet, paths, st.text(max_size=10), values),
    _object(DictErase, paths, st.text(max_size=10)),
)

changesets = st.builds(
    Changeset,
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, INT64_MAX),
    st.lists(instructions, max_size=12).map(tuple),
)

_VALUE_FIELDS = {"value", "primary_key", "delta"}


def instruction_key(ins: Instruction) -> tuple[Any, ...]:
    """Exact identity of an instruction (NaN-safe, bool/int-strict)."""
    out: list[Any] = [type(ins).__name__]
    for name in ins.__slots__:  # type: ignore[attr-defined]
        v = getattr(ins, name)
        if name in _VALUE_FIELDS:
            out.append(value_key(v))
        elif name == "path":
            out.append(tuple((type(e).__name__, e) for e in v))
        else:
            out.append((type(v).__name__, v))
    return tuple(out)


def changeset_key(cs: Changeset) -> tuple[Any, ...]:
    return (
        cs.origin_file_ident,
        cs.client_version,
        cs.last_integrated_server_version,
        cs.timestamp_ms,
        tuple(instruction_key(i) for i in cs.instructions),
    )
