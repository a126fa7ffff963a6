"""The state of one compilation: SQL scopes, path cursors and typed operands.

A query compiles to SQL over the root class table aliased ``t0``. Key paths add
joins: a to-one link is a ``LEFT JOIN`` in the scope where the path starts (it
never changes the row count, and a missing target reads as NULL, which is
Realm's "a null link's property compares as null"); a path through a list, set,
dictionary or backlinks opens a child scope that becomes an ``IN``/``EXISTS``
subquery (ANY/ALL/NONE) or an aggregate subquery (``@count``, ``@sum``...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.core.errors import QueryError
from studio.core.schema import ObjectSchema
from studio.core.storage import KEY, class_table


class Scope:
    """One SELECT level: its FROM items, extra WHERE terms, and lexical bindings.

    ``from_items[0]`` is ``"<table> AS <alias>"`` (empty for the stage scope, whose
    root table the plan writes); later items are complete JOIN clauses. None of
    these carry parameters: dictionary keys are inlined as SQL string literals.
    """

    __slots__ = ("default_cursor", "from_items", "join_cache", "parent", "variables", "where")

    def __init__(self, parent: Scope | None) -> None:
        self.parent = parent
        self.from_items: list[str] = []
        self.where: list[str] = []
        self.join_cache: dict[tuple[str, ...], str] = {}
        self.variables: dict[str, ObjectCursor | Val] = {}
        self.default_cursor: ObjectCursor | Val | None = None

    def lookup_variable(self, name: str) -> ObjectCursor | Val | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.variables:
                return scope.variables[name]
            scope = scope.parent
        return None

    def lexical_default(self) -> ObjectCursor | Val:
        """What an unprefixed key path starts from: the root object, or inside a
        SUBQUERY the element (Realm resolves bare names against the element)."""
        scope: Scope | None = self
        while scope is not None:
            if scope.default_cursor is not None:
                return scope.default_cursor
            scope = scope.parent
        raise AssertionError("no root scope")

    def from_sql(self) -> str:
        return " ".join(self.from_items)

    @property
    def joins(self) -> list[str]:
        """The JOIN clauses (for the stage scope: all items)."""
        return self.from_items


@dataclass(slots=True)
class ObjectCursor:
    """A position on an object while walking a key path.

    ``key_sql`` evaluates to the object's key (NULL through a null link);
    ``alias`` is the alias of its class table row once joined.
    """

    scope: Scope
    class_name: str
    key_sql: str
    alias: str | None
    nullable: bool
    inner: bool  # the key is known to exist: join the class table with JOIN, not LEFT JOIN


@dataclass(slots=True)
class Multi:
    """A path through collections: the child scope that enumerates its elements.

    The elements of the outer object are the rows of ``scope`` where
    ``corr_inner = outer_key``.
    """

    scope: Scope
    corr_inner: str
    outer_key: str
    outer_nullable: bool

    @property
    def from_root(self) -> bool:
        """Whether the collection hangs off the statement's own row (not a SUBQUERY element
        or another collection's element), so an uncorrelated ``IN`` form is possible."""
        parent = self.scope.parent
        return parent is not None and parent.parent is None


@dataclass(slots=True)
class Val:
    """A typed SQL value expression (a property, aggregate, count, ...).

    ``type`` is a value type (see :mod:`types`). ``tag_sql`` is the mixed type tag.
    ``multi`` is set when the value is one of many (a path through a collection).
    """

    type: str
    sql: str
    pos: int
    params: list[Any] = field(default_factory=list)
    object_class: str | None = None
    tag_sql: str | None = None
    nullable: bool = True
    multi: Multi | None = None
    quantifier: str | None = None
    object_collection: bool = False  # elements of a list/set of objects (never null)
    is_property: bool = True  # a stored property (not an aggregate or count): sortable
    # For ``collection.@count`` of the statement's own row: where its rows are, so that a
    # comparison with a constant can avoid counting per object (see compare.count_cond).
    count_source: CountSource | None = None


@dataclass(frozen=True, slots=True)
class CountSource:
    """The rows counted by ``collection.@count``: ``table AS alias`` where ``corr`` equals
    ``key_sql`` (the owner's key). ``is_list``: a list table, whose positions are
    0..n-1 (docs/storage-layout.md), so "at least k elements" is "a row at pos k-1"."""

    table: str
    alias: str
    corr: str
    key_sql: str
    is_list: bool


@dataclass(slots=True)
class Cond:
    """A compiled boolean SQL expression. ``nullable`` when it may yield NULL, which
    every consumer treats as false (WHERE, AND, OR, EXISTS all do)."""

    sql: str
    params: list[Any]
    nullable: bool

    def negated(self) -> Cond:
        # With NULL meaning false, "x IS NOT 1" is the exact negation of x.
        if self.nullable:
            return Cond(f"({self.sql}) IS NOT 1", self.params, False)
        if self.sql == "1":
            return FALSE
        if self.sql == "0":
            return TRUE
        return Cond(f"NOT ({self.sql})", self.params, False)


TRUE = Cond("1", [], False)
FALSE = Cond("0", [], False)


def conjunction(conds: Sequence[Cond], word: str = "AND") -> Cond:
    """``a AND b AND ...`` (or OR), dropping neutral constants."""
    neutral, absorbing = ("1", "0") if word == "AND" else ("0", "1")
    kept: list[Cond] = []
    for cond in conds:
        if cond.sql == absorbing:
            return cond
        if cond.sql != neutral:
            kept.append(cond)
    if not kept:
        return TRUE if word == "AND" else FALSE
    if len(kept) == 1:
        return kept[0]
    params: list[Any] = []
    for cond in kept:
        params.extend(cond.params)
    sql = f" {word} ".join(f"({c.sql})" for c in kept)
    return Cond(sql, params, any(c.nullable for c in kept))


class Context:
    """Everything one compilation needs: schema, root class, arguments, query text,
    alias allocation, and what it learns (classes it depends on)."""

    __slots__ = ("_count", "args", "dependencies", "prefix", "probe", "query", "root_class",
                 "schema", "touches_root")

    def __init__(
        self,
        schema: Mapping[str, ObjectSchema],
        root_class: str,
        query: str,
        args: Sequence[Any] = (),
        prefix: str = "q",
        probe: bool = False,
    ) -> None:
        self.schema = schema
        self.root_class = root_class
        self.query = query
        self.args = args
        self.prefix = prefix
        # Probe mode: few candidate rows (an index picks them), so per-row correlated
        # subqueries are cheapest. Scan mode: every row is visited, so collections are
        # read once with uncorrelated IN (...) subqueries instead.
        self.probe = probe
        self._count = 0
        self.dependencies: set[str] = set()
        self.touches_root = False

    def alias(self) -> str:
        self._count += 1
        return f"{self.prefix}{self._count}"

    def error(self, message: str, pos: int) -> QueryError:
        return QueryError(message, pos, self.query)

    def depend_on(self, class_name: str) -> None:
        """Record that membership or order depends on objects of ``class_name``."""
        if class_name == self.root_class:
            self.touches_root = True
        else:
            self.dependencies.add(class_name)

    def root_scope(self) -> Scope:
        scope = Scope(None)
        scope.default_cursor = ObjectCursor(
            scope, self.root_class, f"t0.{KEY}", "t0", nullable=False, inner=True
        )
        return scope

    def ensure_alias(self, cursor: ObjectCursor) -> str:
        """Join the cursor's class table (once per scope and key expression)."""
        if cursor.alias is not None:
            return cursor.alias
        cache_key = ("object", cursor.class_name, cursor.key_sql)
        alias = cursor.scope.join_cache.get(cache_key)
        if alias is None:
            alias = self.alias()
            join = "JOIN" if cursor.inner else "LEFT JOIN"
            cursor.scope.from_items.append(
                f"{join} {class_table(cursor.class_name)} AS {alias} "
                f"ON {alias}.{KEY} = {cursor.key_sql}"
            )
            cursor.scope.join_cache[cache_key] = alias
        cursor.alias = alias
        return alias


def sql_string(text: str) -> str:
    """An SQL string literal (used for dictionary keys, which are part of the query text)."""
    return "'" + text.replace("'", "''") + "'"
