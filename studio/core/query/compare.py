"""One comparison between two values, as SQL (before ANY/ALL/NONE is applied).

The fast path is plain SQLite: ``=``, ``<``, ``IN``, ``GLOB`` (case-sensitive
string operators; index-friendly for BEGINSWITH), ``LIKE``/``NOCASE`` for
``[c]`` with ASCII patterns (SQLite folds ASCII only, which is then exact). The
Python functions of :mod:`functions` handle non-ASCII case folding, ``[d]``,
binary data operators, and mixed-against-property comparisons.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from studio.core.property_types import PROPERTY_TYPES
from studio.core.query.context import FALSE, TRUE, Cond, Context, CountSource, Val, conjunction
from studio.core.query.functions import (
    CASE,
    COMPARE_CODES,
    DIACRITICS,
    STRING_OP_CODES,
    fold,
    glob_escape,
    like_escape,
    like_to_glob,
    realm_like_to_sql_like,
)
from studio.core.query.types import (
    EQUALITY_OPS,
    NUMERIC_CONSTANTS,
    NUMERIC_TYPES,
    ORDERED_TYPES,
    ORDERING_OPS,
    STATIC_TAGS,
    STRING_OP_TYPES,
    STRING_OPS,
    TYPE_NAMES,
    Const,
    bytes_of,
    const_fits,
    date_bound,
    decimal_param,
    describe_const,
    describe_type,
    is_nan,
    numeric_param,
    string_of,
    types_comparable,
)
from studio.core.values import MixedTag

SQL_OPS = {"==": "=", "!=": "IS NOT", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_STRING_TYPES = frozenset({"string", "data"})


def _flags(case_insensitive: bool, diacritic_insensitive: bool) -> int:
    return (CASE if case_insensitive else 0) | (DIACRITICS if diacritic_insensitive else 0)


def _check_operator(
    ctx: Context, op: str, value_type: str, flags: int, op_pos: int, other_is_string: bool,
    object_class: str | None = None,
) -> None:
    """Refuse operators that a type does not have (as Realm does)."""
    described = describe_type(value_type, object_class)
    if op in ORDERING_OPS and value_type not in ORDERED_TYPES:
        raise ctx.error(
            f"operator '{op}' is not supported for {described}; use == or !=", op_pos
        )
    if op in STRING_OPS and value_type not in STRING_OP_TYPES:
        raise ctx.error(
            f"{op} needs a string or binary property, found {described}", op_pos
        )
    if flags and value_type not in STRING_OP_TYPES and not (
        value_type == "mixed" and other_is_string
    ):
        raise ctx.error(
            f"[c]/[d] apply to strings and binary data, not to {described}", op_pos
        )


# -- against a constant --------------------------------------------------------------------


def compare_to_const(
    ctx: Context, op: str, value: Val, const: Const, case_insensitive: bool,
    diacritic_insensitive: bool, op_pos: int,
) -> Cond:
    """``value op const`` for a single value (``op`` is never IN here)."""
    flags = _flags(case_insensitive, diacritic_insensitive)
    value_type = value.type
    if not const_fits(value_type, value.object_class, const):
        raise ctx.error(
            f"cannot compare {describe_type(value_type, value.object_class)} with "
            f"{describe_const(const)}",
            const.pos,
        )
    if const.kind == "null":
        if op not in EQUALITY_OPS:
            raise ctx.error(f"null can only be compared with == or !=, not {op}", const.pos)
        if value.object_collection:
            raise ctx.error("a list of objects cannot be compared with null", const.pos)
        negate = " NOT" if op == "!=" else ""
        return Cond(f"{value.sql} IS{negate} NULL", value.params, False)
    if value_type == "mixed":
        if const.kind in NUMERIC_CONSTANTS and is_nan(const):
            return _with_params(value, _mixed_nan(ctx, op, value, flags, op_pos))
        return _with_params(value, _mixed_const(ctx, op, value, const, flags, op_pos))
    _check_operator(ctx, op, value_type, flags, op_pos, const.kind == "string",
                    value.object_class)
    if const.kind in NUMERIC_CONSTANTS and is_nan(const):
        # Realm compares a typed number with a NaN constant as IEEE doubles do: nothing
        # equals or orders against NaN (not even a stored NaN), so != is always true,
        # also for null. NaN is a value, not null.
        return TRUE if op == "!=" else FALSE
    if value.count_source is not None and op in SQL_OPS:
        cond = count_cond(value.count_source, op, numeric_param(const), ctx.probe)
        if cond is not None:
            return cond
    cond = _typed_const(ctx, op, value, const, flags)
    return _with_params(value, cond)


_PY_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge}
_NEGATED_OPS = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def count_cond(source: CountSource, op: str, n: float, probe: bool) -> Cond | None:
    """``collection.@count op n`` without counting each object's collection, or None
    when the plain correlated count is best (probe mode on sets, dictionaries and
    backlinks, or a non-finite n)."""
    if not math.isfinite(n):
        return None
    if source.is_list:
        # count >= k  <=>  a row at position k-1 exists (positions are 0..n-1).
        if op in (">", ">=", "<", "<="):
            k = math.floor(n) + 1 if op in (">", "<=") else math.ceil(n)
            cond = _at_least(source, k, probe)
            return cond if op in (">", ">=") else cond.negated()
        if n != int(n) or n < 0:
            return FALSE if op == "==" else TRUE
        k = int(n)
        equal = conjunction([_at_least(source, k, probe),
                             _at_least(source, k + 1, probe).negated()])
        return equal if op == "==" else equal.negated()
    if probe:
        return None
    return _grouped_count(source, op, n)


def _at_least(source: CountSource, k: int, probe: bool) -> Cond:
    if k <= 0:
        return TRUE
    rows = f"{source.table} AS {source.alias}"
    if probe:
        return Cond(f"EXISTS (SELECT 1 FROM {rows} WHERE {source.corr} = {source.key_sql} "
                    f"AND {source.alias}.pos = ?)", [k - 1], False)
    return Cond(f"{source.key_sql} IN (SELECT {source.corr} FROM {rows} "
                f"WHERE {source.alias}.pos = ?)", [k - 1], True)


def _grouped_count(source: CountSource, op: str, n: float) -> Cond:
    """One GROUP BY over the collection table. Objects with an empty collection have no
    group, so when 0 satisfies the comparison the result is "not among the groups that
    fail it" instead."""
    zero_matches = _PY_OPS[op](0, n)
    having = _NEGATED_OPS[op] if zero_matches else op
    sql = (f"{source.key_sql} IN (SELECT {source.corr} FROM {source.table} AS {source.alias} "
           f"GROUP BY {source.corr} HAVING count(*) {SQL_OPS[having]} ?)")
    cond = Cond(sql, [n], True)
    return cond.negated() if zero_matches else cond


def _with_params(value: Val, cond: Cond) -> Cond:
    if not value.params:
        return cond
    return Cond(cond.sql, [*value.params, *cond.params], cond.nullable)


def _typed_const(ctx: Context, op: str, value: Val, const: Const, flags: int) -> Cond:
    expr = value.sql
    value_type = value.type
    sql_op = SQL_OPS.get(op, "")
    nullable = op != "!="
    if value_type in NUMERIC_TYPES:
        if value_type == "decimal128":
            return Cond(f"{expr} COLLATE DECIMAL {sql_op} ?", [decimal_param(const)], nullable)
        return Cond(f"{expr} {sql_op} ?", [numeric_param(const)], nullable)
    if value_type == "string":
        return string_cond(expr, op, string_of(const), flags)
    if value_type == "data":
        return data_cond(expr, op, bytes_of(const), flags)
    if value_type == "date":
        return date_cond(expr, op, int(const.value))
    if value_type in PROPERTY_TYPES:  # bool, objectId, uuid: compared in their stored form
        stored = PROPERTY_TYPES[value_type].encode(const.value)
        return Cond(f"{expr} {sql_op} ?", [stored], nullable)
    if value_type == "object":
        class_name, key = const.value
        if class_name != value.object_class:
            raise ctx.error(
                f"cannot compare a link to {value.object_class} with an object of class "
                f"{class_name}",
                const.pos,
            )
        return Cond(f"{expr} {sql_op} ?", [key], nullable)
    if value_type == "typename":
        return _type_name_cond(ctx, op, value, const)
    raise ctx.error(f"cannot compare {describe_type(value_type)}", const.pos)


def string_cond(expr: str, op: str, needle: str, flags: int) -> Cond:
    """A string operator against a constant string."""
    if op == "!=":
        if not flags:
            return Cond(f"{expr} IS NOT ?", [needle], False)
        return string_cond(expr, "==", needle, flags).negated()
    if op in ORDERING_OPS:
        return Cond(f"{expr} {op} ?", [needle], True)
    if not flags:
        if op == "==":
            return Cond(f"{expr} = ?", [needle], True)
        if op == "CONTAINS":
            return Cond(f"instr({expr}, ?) > 0", [needle], True)
        # GLOB is case-sensitive and, for a prefix, uses an index on the column.
        pattern = {
            "BEGINSWITH": glob_escape(needle) + "*",
            "ENDSWITH": "*" + glob_escape(needle),
            "LIKE": like_to_glob(needle),
        }[op]
        return Cond(f"{expr} GLOB ?", [pattern], True)
    if flags == CASE and needle.isascii():
        # SQLite's NOCASE and LIKE fold ASCII letters only; with an ASCII pattern that is
        # exactly Realm's case-insensitive match (see functions.py).
        if op == "==":
            # COLLATE goes on the left: SQLite 3.40 loses a collation written on the right
            # when it merges ORed equalities into one IN (found by the IN[c] tests).
            return Cond(f"{expr} COLLATE NOCASE = ?", [needle], True)
        like = {
            "BEGINSWITH": like_escape(needle) + "%",
            "ENDSWITH": "%" + like_escape(needle),
            "CONTAINS": "%" + like_escape(needle) + "%",
            "LIKE": realm_like_to_sql_like(needle),
        }[op]
        escape = " ESCAPE '\\'" if "\\" in like else ""
        return Cond(f"{expr} LIKE ?{escape}", [like], True)
    folded_expr = f"rql_fold({expr}, {flags})"
    folded = fold(needle, flags)
    if op == "==":
        return Cond(f"{folded_expr} = ?", [folded], True)
    if op == "CONTAINS":
        return Cond(f"instr({folded_expr}, ?) > 0", [folded], True)
    pattern = {
        "BEGINSWITH": glob_escape(folded) + "*",
        "ENDSWITH": "*" + glob_escape(folded),
        "LIKE": like_to_glob(folded),
    }[op]
    return Cond(f"{folded_expr} GLOB ?", [pattern], True)


def data_cond(expr: str, op: str, needle: bytes, flags: int) -> Cond:
    """An operator on binary data against constant bytes."""
    if (not flags and op in ("==", "!=")) or op in ORDERING_OPS:
        return Cond(f"{expr} {SQL_OPS[op]} ?", [needle], op != "!=")
    if op == "!=":
        return data_cond(expr, "==", needle, flags).negated()
    code = STRING_OP_CODES[op]
    return Cond(f"rql_strop({code}, {flags}, {expr}, ?)", [needle], False)


def date_cond(expr: str, op: str, nanos: int) -> Cond:
    """Compare a date column (microseconds) with a nanosecond constant, exactly."""
    bound_op, micros = date_bound(nanos, op)
    if bound_op == "never":
        return FALSE
    if bound_op == "always":
        return TRUE
    return Cond(f"{expr} {SQL_OPS[bound_op]} ?", [micros], bound_op != "!=")


def _type_name_cond(ctx: Context, op: str, value: Val, const: Const) -> Cond:
    if op not in EQUALITY_OPS:
        raise ctx.error(f"@type can only be compared with == or != (or IN), not {op}",
                        const.pos)
    tags = TYPE_NAMES.get(str(const.value).lower())
    if tags is None:
        raise ctx.error(
            f"unknown type name {const.value!r} for @type; expected one of "
            + ", ".join(sorted(TYPE_NAMES)),
            const.pos,
        )
    negate = " NOT" if op == "!=" else ""
    return Cond(f"{value.sql}{negate} IN ({', '.join(str(t) for t in tags)})", [], False)


def _mixed_nan(ctx: Context, op: str, value: Val, flags: int, op_pos: int) -> Cond:
    """``mixed op NaN`` with Realm's Mixed order: NaN equals NaN and is below every other
    number (stored NaNs are the TEXT 'NaN' under a float or decimal128 tag)."""
    if flags or op in STRING_OPS:
        raise ctx.error(f"{op if op in STRING_OPS else '[c]/[d]'} on a mixed property needs "
                        "a string, found a number", op_pos)
    numeric = f"{value.tag_sql} IN ({MixedTag.INT}, {MixedTag.FLOAT}, {MixedTag.DECIMAL})"
    nan = f"({value.tag_sql} IN ({MixedTag.FLOAT}, {MixedTag.DECIMAL}) AND {value.sql} IS 'NaN')"
    if op in ("==", "<="):
        return Cond(nan, [], False)
    if op == "!=":
        return Cond(f"NOT {nan}", [], False)
    if op == ">=":
        return Cond(numeric, [], False)
    if op == ">":
        return Cond(f"({numeric} AND NOT {nan})", [], False)
    return FALSE


def _mixed_const(
    ctx: Context, op: str, value: Val, const: Const, flags: int, op_pos: int
) -> Cond:
    """``mixed op const``: only values of a comparable type can match (numbers match
    across int, double and decimal128)."""
    if op == "!=":
        return _mixed_const(ctx, "==", value, const, flags, op_pos).negated()
    expr, tag = value.sql, value.tag_sql
    kind = const.kind
    sql_op = SQL_OPS.get(op, "")
    if (flags or op in STRING_OPS) and kind not in ("string", "data"):
        raise ctx.error(
            f"{op if op in STRING_OPS else '[c]/[d]'} on a mixed property needs a string, "
            f"found {describe_const(const)}",
            const.pos,
        )
    if kind in NUMERIC_CONSTANTS:
        return Cond(
            f"(({tag} IN ({MixedTag.INT}, {MixedTag.FLOAT}) AND {expr} {sql_op} ?) OR "
            f"({tag} = {MixedTag.DECIMAL} AND {expr} COLLATE DECIMAL {sql_op} ?))",
            [numeric_param(const), decimal_param(const)],
            True,
        )
    if kind == "string":
        inner = string_cond(expr, op, str(const.value), flags)
        return Cond(f"({tag} = {MixedTag.STRING} AND {inner.sql})", inner.params, True)
    if kind == "data":
        inner = data_cond(expr, op, bytes(const.value), flags)
        return Cond(f"({tag} = {MixedTag.DATA} AND {inner.sql})", inner.params, True)
    if kind == "date":
        inner = date_cond(expr, op, int(const.value))
        if inner.sql in ("0", "1"):
            return inner if inner.sql == "0" else Cond(f"{tag} = {MixedTag.DATE}", [], True)
        return Cond(f"({tag} = {MixedTag.DATE} AND {inner.sql})", inner.params, True)
    if op in ORDERING_OPS and kind in ("uuid", "object"):
        raise ctx.error(
            f"operator '{op}' is not supported for {describe_const(const)}; use == or !=",
            op_pos,
        )
    param: Any
    if kind in PROPERTY_TYPES:  # bool, objectId, uuid: compared in their stored form
        const_type = PROPERTY_TYPES[kind]
        tag_value, param = const_type.mixed_tag, const_type.encode(const.value)
    else:  # object
        class_name, key = const.value
        tag_value, param = MixedTag.LINK, f"{class_name}\x1f{key}"
    return Cond(f"({tag} = {tag_value} AND {expr} {sql_op} ?)", [param], True)


# -- between two non-constant values -------------------------------------------------------


def compare_values(
    ctx: Context, op: str, left: Val, right: Val, case_insensitive: bool,
    diacritic_insensitive: bool, op_pos: int,
) -> Cond:
    """``left op right`` where both sides come from the objects (no constant)."""
    flags = _flags(case_insensitive, diacritic_insensitive)
    lt, rt = left.type, right.type
    if not types_comparable(lt, rt) or ("typename" in (lt, rt) and lt != rt):
        raise ctx.error(
            f"cannot compare {describe_type(lt, left.object_class)} with "
            f"{describe_type(rt, right.object_class)}",
            op_pos,
        )
    stringish = lt in _STRING_TYPES or rt in _STRING_TYPES
    for side in (left, right):
        if side.type != "mixed":
            _check_operator(ctx, op, side.type, flags, op_pos, stringish, side.object_class)
    if lt == "object" and rt == "object" and left.object_class != right.object_class:
        raise ctx.error(
            f"cannot compare a link to {left.object_class} with a link to {right.object_class}",
            op_pos,
        )
    params = [*left.params, *right.params]
    plain_numbers = lt in NUMERIC_TYPES and rt in NUMERIC_TYPES and (
        (lt == "decimal128") == (rt == "decimal128")
    )
    simple = (lt == rt and lt != "mixed") or plain_numbers
    if simple and not flags and op not in STRING_OPS:
        collate = " COLLATE DECIMAL" if lt == "decimal128" else ""
        if op == "==":
            return Cond(f"{left.sql}{collate} IS {right.sql}", params, False)
        if op == "!=":
            return Cond(f"{left.sql}{collate} IS NOT {right.sql}", params, False)
        return Cond(f"{left.sql}{collate} {op} {right.sql}", params, True)
    if op in STRING_OPS or flags:
        code = STRING_OP_CODES["==" if op == "!=" else op]
        sql = f"rql_strop({code}, {flags}, {left.sql}, {right.sql})"
        guards = [f"{v.tag_sql} IN ({MixedTag.STRING}, {MixedTag.DATA})"
                  for v in (left, right) if v.type == "mixed"]
        cond = Cond(" AND ".join([*guards, sql]), params, False)
        return cond.negated() if op == "!=" else cond
    code = COMPARE_CODES[op]
    sql = (f"rql_compare({code}, {_mixed_operand(left)}, {_tag_of(left)}, "
           f"{_mixed_operand(right)}, {_tag_of(right)})")
    return Cond(sql, params, False)


def _tag_of(value: Val) -> str:
    if value.type == "mixed":
        return value.tag_sql or "0"
    return str(STATIC_TAGS[value.type])


def _mixed_operand(value: Val) -> str:
    """The value as a mixed column would store it (links as ``Class\\x1fkey``)."""
    if value.type == "object":
        return f"'{value.object_class}' || char(31) || {value.sql}"
    return value.sql


def in_list(
    ctx: Context, value: Val, items: tuple[Const, ...], case_insensitive: bool,
    diacritic_insensitive: bool, op_pos: int,
) -> Cond:
    """``value IN {a, b, ...}``: one SQL ``IN (...)`` where possible, else ORed equalities."""
    if not items:
        return FALSE
    flags = _flags(case_insensitive, diacritic_insensitive)
    for item in items:
        if item.kind == "list":
            raise ctx.error("a list inside a list is not supported", item.pos)
    simple_type = value.type in NUMERIC_TYPES - {"decimal128"} or value.type in (
        "bool", "date", "objectId", "uuid", "object"
    ) or (value.type == "string" and not flags)
    non_null = [item for item in items if item.kind != "null"]
    if simple_type and len(non_null) > 1:
        conds = [compare_to_const(ctx, "==", _plain(value), item, False, False, op_pos)
                 for item in non_null]
        # Every condition is "<expr> = ?" (dates: maybe "0"): collect the parameters.
        params = [c.params[0] for c in conds if c.sql != "0"]
        marks = ", ".join("?" * len(params))
        sql = f"{value.sql} IN ({marks})" if params else "0"
        cond = Cond(sql, [*value.params, *params], True)
        if len(non_null) != len(items):
            cond = conjunction([cond, Cond(f"{value.sql} IS NULL", value.params, False)], "OR")
        return cond
    conds = [
        compare_to_const(ctx, "==", value, item, case_insensitive, diacritic_insensitive, op_pos)
        for item in items
    ]
    return conjunction(conds, "OR")


def _plain(value: Val) -> Val:
    """The value without its own parameters (for collecting IN parameters)."""
    return Val(value.type, value.sql, value.pos, [], value.object_class, value.tag_sql,
               value.nullable, None, None, value.object_collection)
