"""Arithmetic in comparisons: ``price * quantity > 100``, ``age + 1 == $0``.

Realm's rules (realm-core ``OperationNode`` and ``Mixed::operator+`` ...): both sides
must be numbers (int, float, double, decimal128 properties, aggregates, numeric
constants); the result has the wider type (int < double < decimal128); a null side
makes the result null; int division truncates toward zero and an int divided by
zero is INT64_MAX (INT64_MIN for a negative dividend), so a query never fails on
the data; double division by zero follows IEEE (inf, NaN). Two constants are
folded at compile time.

``+ - *`` on int and double are plain SQL. Division and decimal128 use the Python
functions ``rql_div`` and ``rql_decimal_op`` (SQLite would return NULL for x/0 and
would compute decimal128 text in binary floating point).
"""

from __future__ import annotations

import decimal
import math
import sqlite3
from decimal import Decimal
from typing import Any

from studio.core.query.context import Context, Val
from studio.core.query.types import (
    INT64_MAX,
    INT64_MIN,
    NUMERIC_CONSTANTS,
    NUMERIC_TYPES,
    Const,
    describe_const,
    describe_type,
    numeric_param,
    to_decimal,
)
from studio.core.storage import add_connection_hook

ARITHMETIC_OPS = ("+", "-", "*", "/")
_OP_CODES = {"+": 0, "-": 1, "*": 2, "/": 3}
# Realm computes decimal128 with 34 significant digits; no trap: x/0 is +-Infinity.
_DECIMAL_CONTEXT = decimal.Context(prec=34, traps=[])


def combine(ctx: Context, op: str, left: Val | Const, right: Val | Const, op_pos: int
            ) -> Val | Const:
    """``left op right`` as a value (or a constant when both sides are constants)."""
    for side in (left, right):
        if not _numeric(side):
            raise ctx.error(
                f"cannot perform '{op}' on {_describe(left)} and {_describe(right)}; "
                "arithmetic needs numbers (int, float, double, decimal128)",
                op_pos,
            )
    if isinstance(left, Const) and isinstance(right, Const):
        return _fold(op, left, right)
    multi = [v for v in (left, right) if isinstance(v, Val) and v.multi is not None]
    if len(multi) > 1:
        raise ctx.error("arithmetic between two lists is not supported; use SUBQUERY",
                        op_pos)
    result_type = _result_type(left, right)
    (left_sql, left_params), (right_sql, right_params) = (
        _sql_of(side, result_type) for side in (left, right)
    )
    params = [*left_params, *right_params]
    if result_type == "decimal128":
        sql = f"rql_decimal_op({_OP_CODES[op]}, {left_sql}, {right_sql})"
    elif op == "/":
        sql = f"rql_div({left_sql}, {right_sql})"
    else:
        sql = f"({left_sql} {op} {right_sql})"
    ranging = multi[0] if multi else None
    first = left if isinstance(left, Val) else right
    return Val(
        result_type, sql, first.pos, params, nullable=True,
        multi=ranging.multi if ranging else None,
        quantifier=ranging.quantifier if ranging else None,
        is_property=False,
    )


def _numeric(side: Val | Const) -> bool:
    if isinstance(side, Const):
        return side.kind in NUMERIC_CONSTANTS or side.kind == "null"
    return side.type in NUMERIC_TYPES


def _describe(side: Val | Const) -> str:
    if isinstance(side, Const):
        return describe_const(side)
    return describe_type(side.type, side.object_class)


def _result_type(left: Val | Const, right: Val | Const) -> str:
    kinds = set()
    for side in (left, right):
        if isinstance(side, Const):
            kinds.add({"decimal": "decimal128", "float": "double"}.get(side.kind, "int"))
        else:
            kinds.add("double" if side.type == "float" else side.type)
    if "decimal128" in kinds:
        return "decimal128"
    return "double" if "double" in kinds else "int"


def _sql_of(side: Val | Const, result_type: str) -> tuple[str, list[Any]]:
    if isinstance(side, Val):
        if side.type in ("float", "double"):
            # A stored NaN is the TEXT 'NaN' (docs/storage-layout.md), which SQLite would
            # read as 0 in arithmetic; SQLite has no NaN, so it is NULL here.
            return f"nullif({side.sql}, 'NaN')", list(side.params)
        return side.sql, list(side.params)
    if side.kind == "null":
        return "NULL", []
    if result_type == "decimal128":
        return "?", [str(to_decimal(side))]
    return "?", [numeric_param(side)]


def _fold(op: str, left: Const, right: Const) -> Const:
    """Two constants: computed now, with the same rules as the SQL functions."""
    if "null" in (left.kind, right.kind):
        return Const("null", None, left.pos)
    if "decimal" in (left.kind, right.kind):
        value = decimal_op(_OP_CODES[op], str(to_decimal(left)), str(to_decimal(right)))
        return Const("decimal", Decimal(value or "NaN"), left.pos)
    a, b = numeric_param(left), numeric_param(right)
    result = _apply(op, a, b)
    if result is None:  # 0.0 / 0.0
        return Const("float", math.nan, left.pos)
    kind = "int" if isinstance(result, int) else "float"
    return Const(kind, result, left.pos)


def _apply(op: str, a: int | float, b: int | float) -> int | float | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    quotient: int | float | None = divide(a, b)
    return quotient


def divide(a: Any, b: Any) -> Any:
    """``rql_div``: Realm's division (see the module docstring)."""
    if a is None or b is None or isinstance(a, str | bytes) or isinstance(b, str | bytes):
        return None
    if isinstance(a, int) and isinstance(b, int):
        if b == 0:
            return INT64_MIN if a < 0 else INT64_MAX
        quotient = abs(a) // abs(b)
        return quotient if (a < 0) == (b < 0) else -quotient
    a, b = float(a), float(b)
    if b == 0.0:
        if a == 0.0 or a != a:
            return None  # NaN: SQLite would store it as NULL anyway
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def decimal_op(code: int, a: Any, b: Any) -> str | None:
    """``rql_decimal_op``: decimal128 arithmetic on stored texts or numbers, as canonical
    decimal text (the decimal128 storage form)."""
    if a is None or b is None:
        return None
    try:
        x, y = _to_decimal(a), _to_decimal(b)
    except decimal.InvalidOperation:
        return None
    ops = (_DECIMAL_CONTEXT.add, _DECIMAL_CONTEXT.subtract, _DECIMAL_CONTEXT.multiply,
           _DECIMAL_CONTEXT.divide)
    return str(ops[code](x, y))


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, bytes):
        raise decimal.InvalidOperation
    return Decimal(value)


def register(conn: sqlite3.Connection) -> None:
    """Define the arithmetic functions on ``conn`` (a connection hook of the store)."""
    conn.create_function("rql_div", 2, divide, deterministic=True)
    conn.create_function("rql_decimal_op", 3, decimal_op, deterministic=True)


add_connection_hook(register)
