"""CSV cells (and the JSON inside collection cells) as the values ``create`` takes.

Scalars read with their type's text parser from the registry
(:mod:`studio.core.property_types`); see :mod:`studio.core.csv_import` for the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from studio.core.errors import BadValueError
from studio.core.export_files import KEY_FIELD
from studio.core.property_types import PROPERTY_TYPES
from studio.core.schema import Property
from studio.core.text_codecs import parse_float, parse_int

if TYPE_CHECKING:
    from studio.core.objects import RealmObject
    from studio.core.realm import Realm

PENDING: Any = object()  # a link to an object that a later row of the import creates

TEXT_PARSERS: dict[str, Callable[[str], Any]] = {n: t.parse for n, t in PROPERTY_TYPES.items()}


class ValueReader:
    """Turns cell text (and the JSON inside collection cells) into values for ``create``.

    Links are looked up in the realm inside the batch's transaction. While ``checking``
    (the first pass), a link may also name an object that a file of this import will
    create: ``pending`` holds the primary keys (and, for classes without one, the
    ``_key`` values) that the files define, and such a link reads as ``PENDING``.
    ``key_maps`` maps a keyless class's ``_key`` values in the files to the object
    keys the import gave them, so links to those objects survive the round trip.
    """

    def __init__(self, realm: Realm) -> None:
        self.realm = realm
        self.schemas = {s.name: s for s in realm.schema}
        self.checking = False
        self.pending: dict[str, set[Any]] = {}
        self.key_maps: dict[str, dict[int, int]] = {}

    def _link(self, target_name: str, ref: Any, from_text: bool) -> Any:
        target = self.schemas[target_name]
        found: RealmObject | None
        if target.primary_key is None:
            if from_text:
                ref = parse_int(ref)
            if not isinstance(ref, int) or isinstance(ref, bool):
                raise BadValueError(
                    f"a link to {target_name} (no primary key) is its object key, got {ref!r:.60}"
                )
            mapping = self.key_maps.get(target_name)
            key = ref if mapping is None else mapping.get(ref)
            found = None if key is None else self.realm.object_for_key(target_name, key)
            what = f"{KEY_FIELD} {ref}" if mapping is not None else f"object key {ref}"
        else:
            pk = target.get_property(target.primary_key)
            if from_text:
                ref = None if ref == "" and pk.optional else TEXT_PARSERS[pk.type](ref)
            else:
                ref = self.from_json(pk, ref)
            found = self.realm.object_for_primary_key(target_name, ref)
            what = f"primary key {ref!r:.60}"
        if found is None:
            if self.checking and ref in self.pending.get(target_name, ()):
                return PENDING
            raise BadValueError(f"there is no {target_name} with {what}")
        return found

    def _embedded(self, target_name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise BadValueError(
                f"an embedded {target_name} is a JSON object, got {json.dumps(value)[:60]}"
            )
        schema = self.schemas[target_name]
        return {name: self.from_json(schema.get_property(name), item)
                for name, item in value.items()}

    def _mixed(self, value: Any) -> Any:
        if isinstance(value, dict):
            if "class" in value and ("primaryKey" in value or KEY_FIELD in value):
                name = value["class"]
                if name not in self.schemas:
                    raise BadValueError(f"a mixed link names class {name!r}, which is not here")
                ref = value.get("primaryKey", value.get(KEY_FIELD))
                return self._link(name, ref, from_text=False)
            raise BadValueError("a mixed value cannot be a JSON object (except a link)")
        if isinstance(value, list):
            raise BadValueError("a mixed value cannot be a JSON array")
        return value

    def from_json(self, prop: Property, value: Any) -> Any:
        """One element (or scalar) given as a JSON value, for ``prop``'s base type."""
        if value is None:
            return None
        kind = prop.type
        if kind == "object":
            target = prop.object_type or ""
            if self.schemas[target].embedded:
                return self._embedded(target, value)
            return self._link(target, value, from_text=False)
        if kind == "mixed":
            return self._mixed(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
        elif kind == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif kind in ("float", "double"):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                return parse_float(value)
        elif kind == "decimal128" and isinstance(value, int | float) and not isinstance(
            value, bool
        ):
            return Decimal(str(value))
        elif isinstance(value, str):
            return TEXT_PARSERS[kind](value)
        raise BadValueError(f"expected {kind}, got {json.dumps(value)[:60]}")

    def _json_cell(self, text: str, shape: type, what: str) -> Any:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadValueError(f"expected {what} as JSON text: {exc.msg}") from None
        if not isinstance(value, shape):
            raise BadValueError(f"expected {what} as JSON text, got {text!r:.60}")
        return value

    def cell(self, prop: Property, text: str) -> Any:
        """The value of one cell for ``prop``."""
        if prop.collection is not None:
            if text.strip() == "":
                return {} if prop.collection == "dictionary" else []
            if prop.collection == "dictionary":
                items = self._json_cell(text, dict, "a dictionary (a JSON object)")
                return {key: self.from_json(prop, item) for key, item in items.items()}
            elements = self._json_cell(text, list, f"a {prop.collection} (a JSON array)")
            return [self.from_json(prop, item) for item in elements]
        if prop.type in ("string", "data") and text == "" and not prop.optional:
            return PROPERTY_TYPES[prop.type].default  # "" or b""
        if prop.type == "string":
            return None if text == "" else text
        if text.strip() == "":
            if prop.optional:
                return None
            raise BadValueError(f"a value is required ({prop.type_string}), the cell is empty")
        if prop.type == "mixed":
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                return text  # hand-written CSV: plain text in a mixed column is a string
            return self._mixed(value)
        if prop.type == "object":
            target = prop.object_type or ""
            if self.schemas[target].embedded:
                return self._embedded(target, self._json_cell(text, dict, "an embedded object"))
            return self._link(target, text, from_text=True)
        return TEXT_PARSERS[prop.type](text)
