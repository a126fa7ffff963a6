"""Sort and distinct expressions, and the Python twin of SQLite's ORDER BY.

A sort key path compiles to one SQL expression, or two for a mixed property:
a type rank (null < bool < numbers < string < data < date < objectId < uuid <
link, as Realm orders mixed values) and the value (decimal128 members as REAL so
all numbers interleave). Strings sort in code point order (SQLite's BINARY
collation), decimal128 numerically (the DECIMAL collation), NULL first when
ascending. :func:`compare_rows` reproduces exactly that order for the rows of
``QueryPlan.sort_values_sql`` so the store can place a changed object without
re-running the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from studio.core.query import nodes
from studio.core.query.context import Context, Scope
from studio.core.query.paths import resolve_value
from studio.core.values import MixedTag, compare_decimal_text

# Realm's order of types for mixed values.
_MIXED_RANK = {
    MixedTag.NULL: 0, MixedTag.BOOL: 1, MixedTag.INT: 2, MixedTag.FLOAT: 2,
    MixedTag.DECIMAL: 2, MixedTag.STRING: 3, MixedTag.DATA: 4, MixedTag.DATE: 5,
    MixedTag.OBJECT_ID: 6, MixedTag.UUID: 7, MixedTag.LINK: 8,
}


@dataclass(frozen=True, slots=True)
class SortExpr:
    """One ORDER BY term: SQL, direction, and the collation SQLite applies to it."""

    sql: str
    ascending: bool
    collation: str | None = None

    @property
    def order_sql(self) -> str:
        return f"{self.sql} {'ASC' if self.ascending else 'DESC'}"


def key_expressions(
    ctx: Context, scope: Scope, path: nodes.KeyPath, ascending: bool, clause: str
) -> list[SortExpr]:
    """The ORDER BY (or PARTITION BY) terms for one key path, joined into ``scope``."""
    for element in path.elements:
        if element.subscript is not None or element.name.startswith(("@", "$")):
            raise ctx.error(
                f"{clause} needs a key path of properties (through to-one links), "
                f"found '{element.name}'",
                element.pos,
            )
    if path.quantifier is not None:
        raise ctx.error(f"{clause} does not take ANY, ALL or NONE", path.pos)
    value = resolve_value(ctx, path, scope)
    if value.multi is not None:
        raise ctx.error(
            f"cannot {clause.lower()} by '{path.text}': it goes through a list, set, "
            "dictionary or backlinks",
            path.pos,
        )
    if value.type == "object" or not value.is_property:
        raise ctx.error(
            f"cannot {clause.lower()} by '{path.text}': the key path must end in a "
            "property that holds a value, not a link",
            path.elements[-1].pos,
        )
    if value.type == "mixed":
        tag = f"coalesce({value.tag_sql}, 0)"
        cases = " ".join(f"WHEN {tag_value} THEN {rank}"
                         for tag_value, rank in _MIXED_RANK.items())
        rank_sql = f"CASE {tag} {cases} ELSE 9 END"
        value_sql = (f"CASE WHEN {tag} = {MixedTag.DECIMAL} THEN rql_decimal_real({value.sql}) "
                     f"ELSE {value.sql} END")
        return [SortExpr(rank_sql, ascending), SortExpr(value_sql, ascending)]
    if value.type == "decimal128":
        return [SortExpr(f"{value.sql} COLLATE DECIMAL", ascending, "DECIMAL")]
    return [SortExpr(value.sql, ascending)]


def _storage_class(value: Any) -> int:
    # SQLite orders NULL < INTEGER/REAL < TEXT < BLOB.
    if value is None:
        return 0
    if isinstance(value, int | float):
        return 1
    if isinstance(value, str):
        return 2
    return 3


def compare_sql_values(a: Any, b: Any, collation: str | None = None) -> int:
    """Compare two values as SQLite's ORDER BY does (BINARY, or DECIMAL for text)."""
    class_a, class_b = _storage_class(a), _storage_class(b)
    if class_a != class_b:
        return -1 if class_a < class_b else 1
    if class_a == 0:
        return 0
    if class_a == 2 and collation == "DECIMAL":
        return compare_decimal_text(a, b)
    # Python compares int with float exactly, str by code point (= UTF-8 byte order, which
    # BINARY uses) and bytes as memcmp does.
    return int(a > b) - int(a < b)


def compare_rows(a: Sequence[Any], b: Sequence[Any], exprs: Sequence[SortExpr]) -> int:
    """Order two ``(key, v1, ..., vn)`` rows exactly as ``ORDER BY e1, ..., en, key``."""
    for i, expr in enumerate(exprs, start=1):
        # A short row (the object vanished) sorts as if its values were NULL.
        result = compare_sql_values(a[i] if i < len(a) else None,
                                    b[i] if i < len(b) else None, expr.collation)
        if result:
            return result if expr.ascending else -result
    return int(a[0] > b[0]) - int(a[0] < b[0])
