"""Python values to and from their SQLite storage form, by property type.

The per-type encoders, decoders, SQL types and defaults are in the registry
(:mod:`studio.core.property_types`); this module builds the checked, nullable
converters a class's columns use and handles mixed values (a value in its own
type's encoding plus a :class:`MixedTag` column). The tables below are views of the
registry for the modules that look a type up by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from studio.core.errors import ValueTypeError
from studio.core.property_types import (
    LINK,
    MIXED,
    PROPERTY_TYPES,
    PropertyType,
    type_of_tag,
    type_of_value,
)
from studio.core.storage_codecs import EPOCH as EPOCH
from studio.core.storage_codecs import MixedTag as MixedTag
from studio.core.storage_codecs import compare_decimal_text as compare_decimal_text
from studio.core.storage_codecs import date_from_storage as date_from_storage
from studio.core.storage_codecs import date_to_storage as date_to_storage
from studio.core.storage_codecs import decimal_to_storage as decimal_to_storage

MIXED_TAG_TYPE_NAMES: dict[int, str] = {
    MixedTag.NULL: "null",
    **{tag: t.name for tag in MixedTag if (t := type_of_tag(tag)) is not None},
    MixedTag.LINK: LINK,
}

ENCODERS: dict[str, Callable[[Any], Any]] = {n: t.encode for n, t in PROPERTY_TYPES.items()}
DECODERS: dict[str, Callable[[Any], Any] | None] = {
    n: t.decode for n, t in PROPERTY_TYPES.items()
}
SQL_TYPES: dict[str, str] = {
    **{n: t.sql_type for n, t in PROPERTY_TYPES.items()},
    LINK: "INTEGER",  # the target's object key
    MIXED: "",  # no affinity: the column holds any type's storage form
}
DEFAULT_VALUES: dict[str, Any] = {n: t.default for n, t in PROPERTY_TYPES.items()}
"""What a required property holds when sync creates an object before setting its values."""


def make_encoder(type_name: str, optional: bool) -> Callable[[Any], Any]:
    """A function that checks a Python value for a primitive type and returns its storage form."""
    encode = ENCODERS[type_name]
    if not optional:
        def required(value: Any) -> Any:
            if value is None:
                raise ValueTypeError(f"a value of type {type_name} is required, got None")
            return encode(value)
        return required

    def nullable(value: Any) -> Any:
        return None if value is None else encode(value)
    return nullable


def make_decoder(type_name: str) -> Callable[[Any], Any] | None:
    """A function from storage form to Python value, or None where they are the same."""
    decode = DECODERS[type_name]
    if decode is None:
        return None

    def nullable(value: Any) -> Any:
        return None if value is None else decode(value)
    return nullable


def _mixed_type(value: Any) -> PropertyType:
    found = type_of_value(value)
    if found is None:
        raise ValueTypeError(
            f"a mixed value must be null, bool, int, float, str, bytes, datetime, ObjectId, "
            f"UUID, Decimal or an object; got {type(value).__name__}"
        )
    return found


def mixed_tag_of(value: Any) -> MixedTag:
    """The tag of a primitive value in a mixed property (the caller handles links)."""
    if value is None:
        return MixedTag.NULL
    return _mixed_type(value).mixed_tag


def encode_mixed_primitive(value: Any) -> tuple[Any, int]:
    if value is None:
        return None, 0
    found = _mixed_type(value)
    return found.encode(value), int(found.mixed_tag)


_TAG_DECODERS: dict[int, Callable[[Any], Any]] = {
    tag: t.decode for tag in MixedTag if (t := type_of_tag(tag)) is not None and t.decode
}


def decode_mixed_primitive(value: Any, tag: int | None) -> Any:
    if not tag:
        return None
    decode = _TAG_DECODERS.get(tag)
    return value if decode is None else decode(value)


def encode_query_value(value: Any) -> Any:
    """Storage form of a query argument whose property type is not known (best effort)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    encoded, _ = encode_mixed_primitive(value)
    return encoded
