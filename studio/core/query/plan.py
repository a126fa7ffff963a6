"""A Results' query plan: the chain of filters, sorts, distincts and limits, as SQL.

This is the contract between ``studio.core.results`` and the query language:
Results only calls the methods below. The plan is immutable; each step returns a
new plan.

Steps apply left to right, as in Realm: a sort reorders (a later sort is primary,
the earlier order breaks its ties); DISTINCT keeps the first object of each group
in the current order; LIMIT keeps the first n. A filter after a DISTINCT or LIMIT
filters what they kept, so the SQL nests: each DISTINCT/LIMIT ends a *stage*
whose surviving keys feed the next stage as ``t0."@key" IN (<previous stage>)``.

Ordering: every SELECT orders by the sort keys and then by the object key, so
an order is always total and the same in SQL and in :meth:`compare_sort_rows`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from studio.core.errors import QueryError
from studio.core.query import functions as _functions  # noqa: F401  (registers SQL functions)
from studio.core.query import nodes
from studio.core.query.compiler import CompiledFilter, compile_filter, drives_index
from studio.core.query.context import Context
from studio.core.query.ordering import SortExpr, compare_rows, key_expressions
from studio.core.query.parser import parse, parse_keypath
from studio.core.schema import ObjectSchema
from studio.core.storage import KEY, class_table

# Above this many keys, a key list is passed as one JSON parameter (SQLite limits the
# number of parameters of a statement).
_INLINE_KEYS = 200


@dataclass(frozen=True, slots=True)
class SortKey:
    keypath: str
    ascending: bool = True


@dataclass(frozen=True, slots=True)
class _Filter:
    """A predicate with its arguments, compiled for scan mode; ``drives_index`` when one of
    its AND terms lets SQLite pick few rows by an index (then it is recompiled in probe
    mode, see :func:`compile_filter`)."""

    predicate: nodes.Predicate
    args: tuple[Any, ...]
    query: str
    prefix: str
    compiled: CompiledFilter
    drives_index: bool


@dataclass(frozen=True, slots=True)
class _Sort:
    keys: tuple[tuple[nodes.KeyPath, bool], ...]


@dataclass(frozen=True, slots=True)
class _Distinct:
    paths: tuple[nodes.KeyPath, ...]


@dataclass(frozen=True, slots=True)
class _Limit:
    count: int


_Step = _Filter | _Sort | _Distinct | _Limit


@dataclass(frozen=True, slots=True)
class _Stage:
    filters: tuple[CompiledFilter, ...]
    sorts: tuple[tuple[nodes.KeyPath, bool], ...]  # effective order, most significant first
    barrier: _Distinct | _Limit | None


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the steps compile to (computed once per plan)."""

    stages: tuple[_Stage, ...]
    probe_filters: tuple[CompiledFilter, ...]  # the last stage's filters for a few keys
    sort_exprs: tuple[SortExpr, ...]
    sort_joins: tuple[str, ...]
    dependencies: frozenset[str]
    touches_root: bool


class QueryPlan:
    """Filters and orderings over one class, compiled to SQL on the class table ``t0``."""

    __slots__ = ("_shape", "_steps", "class_name", "schema")

    def __init__(
        self,
        schema: Mapping[str, ObjectSchema],
        class_name: str,
        steps: tuple[_Step, ...] = (),
    ) -> None:
        if class_name not in schema:
            raise QueryError(f"no class '{class_name}' in the schema")
        self.schema = schema
        self.class_name = class_name
        self._steps = steps
        self._shape: _Shape | None = None

    # -- building -------------------------------------------------------------------------

    def filtered(self, query: str, args: Sequence[Any] = ()) -> QueryPlan:
        """Add a filter in Realm Query Language (with its SORT/DISTINCT/LIMIT modifiers)."""
        parsed = parse(query)
        steps = list(self._steps)
        if parsed.predicate is not None:
            prefix = f"f{len(steps)}_"
            compiled = compile_filter(
                self.schema, self.class_name, parsed.predicate, args, query, prefix
            )
            index = drives_index(self.schema, self.class_name, parsed.predicate)
            steps.append(_Filter(parsed.predicate, tuple(args), query, prefix, compiled, index))
        for modifier in parsed.modifiers:
            if isinstance(modifier, nodes.SortModifier):
                self._check_paths(query, [(p, "SORT") for p, _ in modifier.keys])
                steps.append(_Sort(modifier.keys))
            elif isinstance(modifier, nodes.DistinctModifier):
                self._check_paths(query, [(p, "DISTINCT") for p in modifier.paths])
                steps.append(_Distinct(modifier.paths))
            else:
                steps.append(_Limit(modifier.count))
        return QueryPlan(self.schema, self.class_name, tuple(steps))

    def sorted(self, keys: Sequence[SortKey]) -> QueryPlan:
        """Sort by key paths (through to-one links); a later sort is the primary order."""
        parsed: list[tuple[nodes.KeyPath, bool]] = []
        for key in keys:
            path = parse_keypath(key.keypath)
            self._check_paths(key.keypath, [(path, "SORT")])
            parsed.append((path, key.ascending))
        if not parsed:
            return self
        return QueryPlan(self.schema, self.class_name, (*self._steps, _Sort(tuple(parsed))))

    def distinct(self, keypaths: Sequence[str]) -> QueryPlan:
        """Keep the first object (in the current order) of each distinct combination."""
        paths: list[nodes.KeyPath] = []
        for keypath in keypaths:
            path = parse_keypath(keypath)
            self._check_paths(keypath, [(path, "DISTINCT")])
            paths.append(path)
        if not paths:
            return self
        return QueryPlan(self.schema, self.class_name, (*self._steps, _Distinct(tuple(paths))))

    def limited(self, count: int) -> QueryPlan:
        """Keep the first ``count`` objects in the current order."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise QueryError(f"a limit must be a non-negative int, got {count!r}")
        return QueryPlan(self.schema, self.class_name, (*self._steps, _Limit(count)))

    def _check_paths(self, text: str, paths: Sequence[tuple[nodes.KeyPath, str]]) -> None:
        """Compile sort/distinct paths once so a bad one fails now, with its position."""
        ctx = Context(self.schema, self.class_name, text)
        scope = ctx.root_scope()
        for path, clause in paths:
            key_expressions(ctx, scope, path, True, clause)

    # -- what Results asks ------------------------------------------------------------------

    @property
    def dependencies(self) -> frozenset[str]:
        """Classes besides the root whose changes can change this plan's membership or order."""
        return self.shape.dependencies

    @property
    def is_incremental(self) -> bool:
        """True when one object's membership and place depend only on that object's row
        (and the classes in :attr:`dependencies`), so a change can be applied without
        re-running the whole query. False with DISTINCT or LIMIT, and when a path leads
        back to objects of the root class (their changes move other objects)."""
        shape = self.shape
        return len(shape.stages) == 1 and not shape.touches_root

    @property
    def filters_objects(self) -> bool:
        """False when every object of the class passes (no filter, only sorts and the
        like): a change then needs no query to tell whether an object belongs."""
        return any(isinstance(step, _Filter) for step in self._steps)

    @property
    def sort_keys(self) -> tuple[SortKey, ...]:
        """The effective sort order, most significant first (without the final key)."""
        stages = self.shape.stages
        return tuple(SortKey(_path_text(path), ascending) for path, ascending in stages[-1].sorts)

    @property
    def steps_description(self) -> str:
        """A readable summary of the chain (for debugging and the Studio's query bar)."""
        parts = []
        for step in self._steps:
            if isinstance(step, _Filter):
                parts.append(f"filter({step.compiled.where})")
            elif isinstance(step, _Sort):
                parts.append("sort(" + ", ".join(
                    f"{_path_text(p)} {'ASC' if a else 'DESC'}" for p, a in step.keys) + ")")
            elif isinstance(step, _Distinct):
                parts.append("distinct(" + ", ".join(_path_text(p) for p in step.paths) + ")")
            else:
                parts.append(f"limit({step.count})")
        return " -> ".join(parts)

    def select_keys_sql(self) -> tuple[str, list[Any]]:
        """SELECT of the object keys of the results, in order.

        The statement always starts ``SELECT t0."@key" FROM "class_<Name>" AS t0 `` and its
        joins never repeat a row (to-one links only), so Results may select other columns
        of ``t0`` instead of the key.
        """
        shape = self.shape
        from_sql, where, params = self._stage_body(len(shape.stages) - 1, shape.sort_joins)
        order = ", ".join([*(e.order_sql for e in shape.sort_exprs), f"t0.{KEY}"])
        return f"SELECT t0.{KEY} FROM {from_sql} WHERE {where} ORDER BY {order}", params

    def count_sql(self) -> tuple[str, list[Any]]:
        from_sql, where, params = self._stage_body(len(self.shape.stages) - 1, ())
        if where == "1":
            # Without a WHERE clause SQLite counts a table from its b-tree pages, which is
            # far cheaper than stepping through every row.
            return f"SELECT count(*) FROM {from_sql}", params
        return f"SELECT count(*) FROM {from_sql} WHERE {where}", params

    def match_keys_sql(self, keys: Sequence[int]) -> tuple[str, list[Any]]:
        """SELECT of those of ``keys`` that pass every filter (order not given)."""
        shape = self.shape
        # A few given keys: test them with per-row lookups, never by reading whole tables.
        from_sql, where, params = self._stage_body(len(shape.stages) - 1, (),
                                                   shape.probe_filters)
        key_sql, key_params = _keys_clause(keys)
        sql = f"SELECT t0.{KEY} FROM {from_sql} WHERE t0.{KEY} IN ({key_sql}) AND ({where})"
        return sql, [*key_params, *params]

    def compare_sort_rows(self, a: Sequence[Any], b: Sequence[Any]) -> int:
        """Order two rows of :meth:`sort_values_sql` exactly as :meth:`select_keys_sql` does.

        A row is ``(key, v1, ..., vn)`` with one value per sort *expression*: a mixed
        property sorts by two (type rank, value), so n may exceed ``len(sort_keys)``.
        """
        return compare_rows(a, b, self.shape.sort_exprs)

    def sort_values_sql(self, keys: Sequence[int]) -> tuple[str, list[Any]]:
        """SELECT key, sort value 1, ..., sort value n for ``keys``."""
        shape = self.shape
        exprs = "".join(f", {e.sql}" for e in shape.sort_exprs)
        key_sql, key_params = _keys_clause(keys)
        joins = "".join(f" {j}" for j in shape.sort_joins)
        sql = (
            f"SELECT t0.{KEY}{exprs} FROM {class_table(self.class_name)} AS t0{joins} "
            f"WHERE t0.{KEY} IN ({key_sql})"
        )
        return sql, key_params

    # -- assembling SQL -------------------------------------------------------------------

    @property
    def shape(self) -> _Shape:
        if self._shape is None:
            self._shape = self._compute_shape()
        return self._shape

    def _compute_shape(self) -> _Shape:
        stages: list[_Stage] = []
        filters: list[_Filter] = []
        sorts: list[tuple[nodes.KeyPath, bool]] = []
        dependencies: set[str] = set()
        touches_root = False
        after_limit = False
        for step in self._steps:
            if isinstance(step, _Filter):
                filters.append(step)
                dependencies |= step.compiled.dependencies
                touches_root |= step.compiled.touches_root
            elif isinstance(step, _Sort):
                newer = {_path_text(path) for path, _ in step.keys}
                sorts = [*step.keys, *(k for k in sorts if _path_text(k[0]) not in newer)]
            else:
                stages.append(_Stage(self._stage_filters(filters, after_limit), tuple(sorts),
                                     step))
                after_limit = isinstance(step, _Limit)
                filters = []
        stages.append(_Stage(self._stage_filters(filters, after_limit), tuple(sorts), None))
        probe_filters = self._stage_filters(filters, True)
        # Which classes sorting and distinct look at.
        ctx = Context(self.schema, self.class_name, "", (), "s")
        scope = ctx.root_scope()
        exprs: list[SortExpr] = []
        for path, ascending in stages[-1].sorts:
            exprs.extend(key_expressions(ctx, scope, path, ascending, "SORT"))
        for stage in stages[:-1]:
            probe = Context(self.schema, self.class_name, "", (), "p")
            probe_scope = probe.root_scope()
            for path, _ in stage.sorts:
                key_expressions(probe, probe_scope, path, True, "SORT")
            if isinstance(stage.barrier, _Distinct):
                for path in stage.barrier.paths:
                    key_expressions(probe, probe_scope, path, True, "DISTINCT")
            dependencies |= probe.dependencies
            touches_root |= probe.touches_root
        dependencies |= ctx.dependencies
        touches_root |= ctx.touches_root
        return _Shape(tuple(stages), probe_filters, tuple(exprs), tuple(scope.joins),
                      frozenset(dependencies), touches_root)

    def _stage_filters(
        self, filters: Sequence[_Filter], few_rows: bool
    ) -> tuple[CompiledFilter, ...]:
        """The filters of one stage, in probe mode when few rows will be tested: after a
        LIMIT, or when one of the stage's filters lets an index select the rows."""
        if not (few_rows or any(f.drives_index for f in filters)):
            return tuple(f.compiled for f in filters)
        return tuple(
            compile_filter(self.schema, self.class_name, f.predicate, f.args, f.query,
                           f.prefix, probe=True)
            for f in filters
        )

    def _stage_body(
        self, index: int, extra_joins: Sequence[str],
        filters: Sequence[CompiledFilter] | None = None,
    ) -> tuple[str, str, list[Any]]:
        """FROM (with joins) and WHERE of stage ``index``, including earlier stages."""
        stage = self.shape.stages[index]
        joins: list[str] = []
        where: list[str] = []
        params: list[Any] = []
        for compiled in stage.filters if filters is None else filters:
            joins.extend(compiled.joins)
            where.append(f"({compiled.where})")
            params.extend(compiled.params)
        joins.extend(extra_joins)
        if index > 0:
            previous_sql, previous_params = self._barrier_sql(index - 1)
            where.append(f"t0.{KEY} IN ({previous_sql})")
            params.extend(previous_params)
        from_sql = f"{class_table(self.class_name)} AS t0" + "".join(f" {j}" for j in joins)
        return from_sql, " AND ".join(where) or "1", params

    def _barrier_sql(self, index: int) -> tuple[str, list[Any]]:
        """The keys that survive stage ``index``'s DISTINCT or LIMIT."""
        stage = self.shape.stages[index]
        ctx = Context(self.schema, self.class_name, "", (), f"b{index}_")
        scope = ctx.root_scope()
        exprs: list[SortExpr] = []
        for path, ascending in stage.sorts:
            exprs.extend(key_expressions(ctx, scope, path, ascending, "SORT"))
        partition: list[SortExpr] = []
        if isinstance(stage.barrier, _Distinct):
            for path in stage.barrier.paths:
                partition.extend(key_expressions(ctx, scope, path, True, "DISTINCT"))
        from_sql, where, params = self._stage_body(index, scope.joins)
        order = ", ".join([*(e.order_sql for e in exprs), f"t0.{KEY}"])
        if isinstance(stage.barrier, _Limit):
            sql = (f"SELECT t0.{KEY} FROM {from_sql} WHERE {where} ORDER BY {order} "
                   f"LIMIT {stage.barrier.count}")
            return sql, params
        groups = ", ".join(e.sql for e in partition)
        sql = (
            f"SELECT k FROM (SELECT t0.{KEY} AS k, row_number() OVER "
            f"(PARTITION BY {groups} ORDER BY {order}) AS rn FROM {from_sql} WHERE {where}) "
            "WHERE rn = 1"
        )
        return sql, params


def _path_text(path: nodes.KeyPath) -> str:
    return path.text


def _keys_clause(keys: Sequence[int]) -> tuple[str, list[Any]]:
    if len(keys) <= _INLINE_KEYS:
        return ",".join("?" * len(keys)) or "NULL", list(keys)
    return "SELECT value FROM json_each(?)", [json.dumps([int(k) for k in keys])]
