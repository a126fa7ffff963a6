"""Every registry type's values cross the sync wire format unchanged
(studio.core.property_types and studio.sync.changeset): a type added to the registry
without its wire encoding fails here."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from studio.core.property_types import PROPERTY_TYPES, PropertyType
from studio.primitives.instructions import Changeset, CreateObject, Set
from studio.sync.changeset import decode_changeset, encode_changeset


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN, -0.0 not 0.0 and the Python type kept (True is not 1)."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        if math.copysign(1, a) != math.copysign(1, b):
            return False
    if isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_nan() and b.is_nan():
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("ptype", list(PROPERTY_TYPES.values()), ids=list(PROPERTY_TYPES))
def test_examples_cross_the_wire(ptype: PropertyType) -> None:
    instructions = [CreateObject("T", 1)]
    instructions += [Set("T", 1, (f"p{i}",), value) for i, value in enumerate(ptype.examples)]
    changeset = Changeset(7, 3, 1, 1_700_000_000_000, tuple(instructions))
    decoded = decode_changeset(encode_changeset(changeset))
    values = [ins.value for ins in decoded.instructions[1:]]  # type: ignore[attr-defined]
    assert all(same(a, b) for a, b in zip(values, ptype.examples, strict=True)), values
    if ptype.primary_key:
        for key in ptype.examples:
            pk = decode_changeset(encode_changeset(
                Changeset(7, 3, 1, 0, (CreateObject("T", key),)))).instructions[0]
            assert same(pk.primary_key, key)  # type: ignore[attr-defined]
