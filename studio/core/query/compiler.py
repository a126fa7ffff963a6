"""Predicates to SQL: boolean structure, operands, IN/BETWEEN, ANY/ALL/NONE, SUBQUERY.

Every compiled condition treats SQL NULL as false, as WHERE does. NOT is
compiled as ``(x) IS NOT 1`` when ``x`` may be NULL, which is then the exact
negation (``NOT (null_prop < 5)`` is true in Realm, as here).

A comparison through a collection is compiled, for ANY, to
``owner_key IN (SELECT owner FROM <collection> ... WHERE <cond>)`` when the
condition only involves the collection's own rows (SQLite then evaluates the
subquery once and can use an index on the value), or to a correlated
``EXISTS (...)`` when it compares with another property of the outer object.
ALL is "no element fails", NONE is "no element matches".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from studio.core.query import nodes
from studio.core.query.arithmetic import combine
from studio.core.query.compare import compare_to_const, compare_values, in_list
from studio.core.query.context import (
    FALSE,
    TRUE,
    Cond,
    Context,
    Multi,
    ObjectCursor,
    Scope,
    Val,
    conjunction,
)
from studio.core.query.fulltext import text_search
from studio.core.query.geo import geo_within, shape_from_argument, shape_from_node
from studio.core.query.paths import (
    missing_argument,
    resolve_collection,
    resolve_value,
    subquery_scope,
)
from studio.core.query.types import Const, ConstError, const_from_python
from studio.core.schema import ObjectSchema

_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_LITERAL_KINDS = {"infinity": "float", "nan": "float"}


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A predicate compiled against the root class table ``t0``.

    ``joins`` are LEFT JOIN clauses the WHERE term needs in the FROM of the
    statement (to-one links from the root object); they take no parameters.
    """

    where: str
    params: tuple[Any, ...]
    joins: tuple[str, ...]
    dependencies: frozenset[str]
    touches_root: bool


def compile_filter(
    schema: Mapping[str, ObjectSchema],
    class_name: str,
    predicate: nodes.Predicate,
    args: Sequence[Any],
    query: str,
    prefix: str,
    probe: bool = False,
) -> CompiledFilter:
    """Compile a parsed predicate into a WHERE term over ``t0`` (aliases start with ``prefix``).

    ``probe`` says few rows will be tested (an index or a key list selects them): then
    collections are looked up per row; otherwise each collection table is read once.
    """
    ctx = Context(schema, class_name, query, args, prefix, probe)
    scope = ctx.root_scope()
    cond = compile_predicate(ctx, predicate, scope)
    return CompiledFilter(
        cond.sql,
        tuple(cond.params),
        tuple(scope.joins),
        frozenset(ctx.dependencies),
        ctx.touches_root,
    )


def compile_predicate(ctx: Context, predicate: nodes.Predicate, scope: Scope) -> Cond:
    if isinstance(predicate, nodes.Comparison):
        return _comparison(ctx, predicate, scope)
    if isinstance(predicate, nodes.And):
        return conjunction([compile_predicate(ctx, p, scope) for p in predicate.items])
    if isinstance(predicate, nodes.Or):
        return conjunction([compile_predicate(ctx, p, scope) for p in predicate.items], "OR")
    if isinstance(predicate, nodes.Not):
        return compile_predicate(ctx, predicate.item, scope).negated()
    if isinstance(predicate, nodes.Between):
        return _between(ctx, predicate, scope)
    if isinstance(predicate, nodes.GeoWithin):
        return _geo_within(ctx, predicate, scope)
    return TRUE if predicate.value else FALSE


# -- operands ------------------------------------------------------------------------------


def _operand(ctx: Context, operand: nodes.Operand, scope: Scope) -> Val | Const:
    if isinstance(operand, nodes.Literal):
        kind = _LITERAL_KINDS.get(operand.kind, operand.kind)
        text = operand.text if kind in ("int", "float") else None
        return Const(kind, operand.value, operand.pos, text)
    if isinstance(operand, nodes.Argument):
        return _argument(ctx, operand)
    if isinstance(operand, nodes.ListLiteral):
        items = tuple(_operand(ctx, item, scope) for item in operand.items)
        return Const("list", items, operand.pos)
    if isinstance(operand, nodes.KeyPath):
        return resolve_value(ctx, operand, scope)
    if isinstance(operand, nodes.Arithmetic):
        left = _operand(ctx, operand.left, scope)
        right = _operand(ctx, operand.right, scope)
        return combine(ctx, operand.op, left, right, operand.op_pos)
    return _subquery(ctx, operand, scope)


def _argument(ctx: Context, arg: nodes.Argument) -> Const:
    if arg.index >= len(ctx.args):
        raise ctx.error(missing_argument(arg.index, len(ctx.args)), arg.pos)
    try:
        return const_from_python(ctx.args[arg.index], arg.pos)
    except ConstError as exc:
        raise ctx.error(f"argument ${arg.index}: {exc}", arg.pos) from None


def _subquery(ctx: Context, node: nodes.Subquery, scope: Scope) -> Val:
    position = resolve_collection(ctx, node.collection, scope)
    sub_scope, element = subquery_scope(ctx, position, node.pos)
    if scope.lookup_variable(node.variable) is not None:
        raise ctx.error(
            f"variable {node.variable} is already defined by an enclosing SUBQUERY",
            node.pos,
        )
    sub_scope.variables[node.variable] = element
    sub_scope.default_cursor = element
    cond = compile_predicate(ctx, node.predicate, sub_scope)
    where = " AND ".join([*sub_scope.where, f"({cond.sql})"])
    sql = f"(SELECT count(*) FROM {sub_scope.from_sql()} WHERE {where})"
    return Val("int", sql, node.pos, list(cond.params), nullable=False, multi=position.multi,
               is_property=False)


# -- comparisons ---------------------------------------------------------------------------


def _comparison(ctx: Context, node: nodes.Comparison, scope: Scope) -> Cond:
    if node.op == "TEXT":
        query_text = _operand(ctx, node.right, scope)
        if not isinstance(query_text, Const):
            raise ctx.error("TEXT needs a string of words to search for", node.op_pos)
        return text_search(ctx, node, query_text, scope)
    left = _operand(ctx, node.left, scope)
    right = _operand(ctx, node.right, scope)
    listed = _listed_side(node)
    if listed is not None:
        return _list_comparison(ctx, node, left, right, listed)
    return _compare_operands(ctx, node, left, right)


def _listed_side(node: nodes.Comparison) -> str | None:
    """Which side is a list of constants compared item by item (``ANY {1, 2} == age``,
    ``age < ALL $0``, ``{1, 2} == age``): "left", "right" or None. A plain list after
    IN keeps its own compiled form (one SQL ``IN``)."""
    for side, operand in (("left", node.left), ("right", node.right)):
        quantified = isinstance(operand, nodes.ListLiteral | nodes.Argument) and (
            operand.quantifier is not None
        )
        plain_list = isinstance(operand, nodes.ListLiteral) and not (
            side == "right" and node.op == "IN"
        )
        if quantified or plain_list:
            return side
    return None


def _list_comparison(ctx: Context, node: nodes.Comparison, left: Val | Const,
                     right: Val | Const, side: str) -> Cond:
    """Realm's comparison of a list of constants with a value: ANY (the default) is true
    when one item compares true, ALL when every item does, NONE when none does."""
    listed, other = (left, right) if side == "left" else (right, left)
    operand = node.left if side == "left" else node.right
    assert isinstance(operand, nodes.ListLiteral | nodes.Argument) and isinstance(listed, Const)
    quantifier = operand.quantifier or "ANY"
    if listed.kind != "list":
        raise ctx.error(
            f"{quantifier} before an argument needs a list argument (a list, tuple or set); "
            f"found {listed.kind}",
            listed.pos,
        )
    if isinstance(other, Const):
        raise ctx.error("cannot compare two constants; one side must be a property",
                        node.pos)
    if side == "right" and node.op == "IN":
        raise ctx.error(f"IN takes a plain list {{a, b}}; write '{quantifier} {{...}}' "
                        "on the left of ==", listed.pos)
    if other.multi is not None and node.op != "IN":
        raise ctx.error("comparing two lists is not supported; use IN with a list property "
                        "(ALL {1, 2} IN nums)", node.op_pos)
    conds: list[Cond] = []
    for item in listed.value:
        if item.kind == "list":
            raise ctx.error("a list inside a list is not supported", item.pos)
        pair = (item, other) if side == "left" else (other, item)
        conds.append(_compare_operands(ctx, node, *pair))
    if quantifier == "ALL":
        return conjunction(conds) if conds else TRUE
    found = conjunction(conds, "OR") if conds else FALSE
    return found.negated() if quantifier == "NONE" else found


def _compare_operands(ctx: Context, node: nodes.Comparison, left: Val | Const,
                      right: Val | Const) -> Cond:
    op = node.op
    ci, di = node.case_insensitive, node.diacritic_insensitive
    if isinstance(left, Const) and isinstance(right, Const):
        raise ctx.error("cannot compare two constants; one side must be a property",
                        node.pos)
    if op == "IN":
        return _in(ctx, node, left, right)
    if isinstance(left, Const):
        assert isinstance(right, Val)
        if op not in _FLIPPED:
            raise ctx.error(
                f"the left side of {op} must be a property, found a constant", left.pos
            )
        left, right, op = right, left, _FLIPPED[op]
    assert isinstance(left, Val)
    if isinstance(right, Const):
        if right.kind == "list":
            raise ctx.error(
                f"a list can only follow IN or BETWEEN, not {op}", right.pos
            )
        cond = compare_to_const(ctx, op, left, right, ci, di, node.op_pos)
        return _quantify(ctx, left, None, cond)
    _check_single_multi(ctx, left, right, node.op_pos)
    cond = compare_values(ctx, op, left, right, ci, di, node.op_pos)
    return _quantify(ctx, left, right, cond)


def _in(ctx: Context, node: nodes.Comparison, left: Val | Const, right: Val | Const) -> Cond:
    ci, di = node.case_insensitive, node.diacritic_insensitive
    if isinstance(right, Const):
        if right.kind != "list":
            raise ctx.error(
                "IN needs a list: {a, b}, a list argument or a list property; found a "
                "single value",
                right.pos,
            )
        assert isinstance(left, Val)
        cond = in_list(ctx, left, right.value, ci, di, node.op_pos)
        return _quantify(ctx, left, None, cond)
    if right.multi is None:
        raise ctx.error(
            "IN needs a list: {a, b}, a list argument or a list property; "
            "this key path has a single value",
            right.pos,
        )
    if isinstance(left, Const):
        if left.kind == "list":
            raise ctx.error("a list cannot be on the left of IN", left.pos)
        cond = compare_to_const(ctx, "==", right, left, ci, di, node.op_pos)
        return _quantify(ctx, right, None, cond)
    _check_single_multi(ctx, left, right, node.op_pos)
    cond = compare_values(ctx, "==", left, right, ci, di, node.op_pos)
    return _quantify(ctx, left, right, cond)


def _between(ctx: Context, node: nodes.Between, scope: Scope) -> Cond:
    value = _operand(ctx, node.operand, scope)
    if not isinstance(value, Val):
        raise ctx.error("the left side of BETWEEN must be a property", node.pos)
    bounds = _operand(ctx, node.bounds, scope)
    assert isinstance(bounds, Const)
    if bounds.kind != "list" or len(bounds.value) != 2:
        raise ctx.error("BETWEEN needs two values: {low, high}", bounds.pos)
    low, high = bounds.value
    for bound in (low, high):
        if bound.kind in ("null", "list"):
            raise ctx.error("the bounds of BETWEEN must be values, not null or lists",
                            bound.pos)
    cond = conjunction([
        compare_to_const(ctx, ">=", value, low, False, False, node.op_pos),
        compare_to_const(ctx, "<=", value, high, False, False, node.op_pos),
    ])
    return _quantify(ctx, value, None, cond)


def _geo_within(ctx: Context, node: nodes.GeoWithin, scope: Scope) -> Cond:
    if isinstance(node.shape, nodes.Argument):
        arg = node.shape
        if arg.index >= len(ctx.args):
            raise ctx.error(missing_argument(arg.index, len(ctx.args)), arg.pos)
        shape = shape_from_argument(ctx, ctx.args[arg.index], arg.pos)
    else:
        def number(operand: nodes.Literal | nodes.Argument) -> float:
            const = _operand(ctx, operand, scope)
            assert isinstance(const, Const)
            if const.kind not in ("int", "float"):
                raise ctx.error(f"a geo coordinate must be a number; found {const.kind}",
                                const.pos)
            return float(const.value)

        shape = shape_from_node(ctx, node.shape, number)
    return geo_within(ctx, node, scope, shape)


def _check_single_multi(ctx: Context, left: Val, right: Val, op_pos: int) -> None:
    if left.multi is not None and right.multi is not None:
        raise ctx.error(
            "comparing two lists is not supported; use SUBQUERY or ANY on one side", op_pos
        )


def _quantify(ctx: Context, value: Val, other: Val | None, cond: Cond) -> Cond:
    """Apply ANY/ALL/NONE for the operand that ranges over a collection (if any)."""
    ranging = value if value.multi is not None else other
    if ranging is None or ranging.multi is None:
        for side in (value, other):
            if side is not None and side.quantifier in ("ALL", "NONE"):
                raise ctx.error(
                    f"{side.quantifier} needs a key path through a list, set, dictionary "
                    "or backlinks",
                    side.pos,
                )
        return cond
    quantifier = ranging.quantifier or "ANY"
    for side in (value, other):
        if side is not None and side is not ranging and side.quantifier in ("ALL", "NONE"):
            raise ctx.error(f"{side.quantifier} needs a key path through a list", side.pos)
    # Comparing with another property of the outer object needs a correlated EXISTS; so
    # does a collection of a SUBQUERY element, and probe mode prefers it.
    correlated = other is not None or ctx.probe or not ranging.multi.from_root
    if quantifier == "ALL":
        return _any(ranging.multi, cond.negated(), correlated).negated()
    found = _any(ranging.multi, cond, correlated)
    return found.negated() if quantifier == "NONE" else found


def _any(multi: Multi, cond: Cond, correlated: bool) -> Cond:
    scope = multi.scope
    where = " AND ".join([*scope.where, f"({cond.sql})"]) if cond.sql != "1" else (
        " AND ".join(scope.where) or "1"
    )
    if correlated:
        sql = (f"EXISTS (SELECT 1 FROM {scope.from_sql()} "
               f"WHERE {multi.corr_inner} = {multi.outer_key} AND {where})")
        return Cond(sql, cond.params, False)
    sql = (f"{multi.outer_key} IN (SELECT {multi.corr_inner} FROM {scope.from_sql()} "
           f"WHERE {where})")
    return Cond(sql, cond.params, True)


_INDEX_OPS = frozenset({"==", "IN", "<", "<=", ">", ">=", "BEGINSWITH"})
_CONSTANTS = (nodes.Literal, nodes.Argument, nodes.ListLiteral)


def drives_index(schema: Mapping[str, ObjectSchema], class_name: str,
                 predicate: nodes.Predicate) -> bool:
    """Whether a top-level AND term compares an indexed property (an index, primary key or
    link column, possibly through to-one links) with a constant, so SQLite will visit few
    rows of the root class."""
    terms = list(predicate.items) if isinstance(predicate, nodes.And) else [predicate]
    for term in terms:
        if isinstance(term, nodes.Comparison):
            if term.op not in _INDEX_OPS or term.case_insensitive or term.diacritic_insensitive:
                continue
            sides = (term.left, term.right)
        elif isinstance(term, nodes.Between):
            sides = (term.operand, term.bounds)
        else:
            continue
        paths = [s for s in sides if isinstance(s, nodes.KeyPath)]
        if len(paths) != 1 or not any(isinstance(s, _CONSTANTS) for s in sides):
            continue
        if paths[0].quantifier is None and _indexed_path(schema, class_name, paths[0]):
            return True
    return False


def _indexed_path(schema: Mapping[str, ObjectSchema], class_name: str,
                  path: nodes.KeyPath) -> bool:
    """A path of to-one links (always indexed) ending in an indexed property: SQLite can
    find the matching rows from the last class's index back through the link indexes."""
    cls: ObjectSchema | None = schema[class_name]
    for i, element in enumerate(path.elements):
        prop = cls.get(element.name) if cls is not None else None
        if prop is None or prop.collection is not None or prop.is_backlink:
            return False
        if element.subscript is not None:
            return False
        if i == len(path.elements) - 1:
            return prop.indexed or prop.is_primary_key or prop.type == "object"
        if prop.type != "object":
            return False
        cls = schema.get(prop.object_type or "")
    return False


__all__ = ["CompiledFilter", "ObjectCursor", "compile_filter", "compile_predicate",
           "drives_index"]
