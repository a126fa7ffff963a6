"""Key paths: from ``dog.owner.name`` or ``friends.@avg.age`` to typed SQL values.

A path is walked element by element from a cursor (the root object, or a
SUBQUERY variable). To-one links and dictionary lookups join in the current
scope; the first list, set, dictionary or backlink opens a child scope (the
elements, as in Realm an implicit ANY) and later ones join into that same
scope, so ``friends.dogs.name`` ranges over every dog of every friend. A
collection directly followed by an aggregate (``@count @size @sum @avg @min
@max``) becomes a scalar subquery instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.query import nodes
from studio.core.query.context import (
    Context,
    CountSource,
    Multi,
    ObjectCursor,
    Scope,
    Val,
    sql_string,
)
from studio.core.query.types import NUMERIC_TYPES, describe_type
from studio.core.schema import ObjectSchema, Property
from studio.core.storage import KEY, class_table, collection_table, column, tag_column

AGGREGATES = frozenset({"@sum", "@avg", "@min", "@max"})
COUNTS = frozenset({"@count", "@size"})
MIN_MAX_TYPES = NUMERIC_TYPES | {"date", "mixed"}


@dataclass(slots=True)
class Collection:
    """A collection reached from an object: a list/set/dictionary property or backlinks.

    ``table`` is the SQL table enumerated; ``corr`` the column (of alias ``{a}``)
    equal to the owning object's key. ``element`` says what one row is.
    """

    prop: Property          # the collection property, or for backlinks the origin link
    owner: str              # class owning the property (for backlinks: the origin class)
    backlink: bool
    label: str              # for messages

    @property
    def of_objects(self) -> bool:
        return self.prop.type == "object"

    @property
    def is_dictionary(self) -> bool:
        return not self.backlink and self.prop.collection == "dictionary"


@dataclass(slots=True)
class CollectionPosition:
    """Returned by :func:`resolve_collection`: the collection a SUBQUERY ranges over."""

    cursor: ObjectCursor
    collection: Collection
    multi: Multi | None


class _Walker:
    """Walks one key path; see the module docstring."""

    def __init__(self, ctx: Context, path: nodes.KeyPath, scope: Scope) -> None:
        self.ctx = ctx
        self.path = path
        self.elements = path.elements
        self.i = 0
        self.scope = scope
        self.multi: Multi | None = None

    # -- entry points -------------------------------------------------------------------

    def value(self) -> Val:
        position = self.start()
        while True:
            if isinstance(position, Val):
                return self.finish_value(position)
            if self.i == len(self.elements):
                return self.object_value(position)
            position = self.step(position, want_collection=False)  # type: ignore[assignment]

    def collection(self) -> CollectionPosition:
        position: ObjectCursor | Val | CollectionPosition = self.start()
        while True:
            if isinstance(position, CollectionPosition):
                return position
            if isinstance(position, Val) or self.i == len(self.elements):
                last = self.elements[-1]
                raise self.ctx.error(
                    f"SUBQUERY needs a list, set, dictionary or backlinks of objects; "
                    f"'{self.path.text}' is not one",
                    last.pos,
                )
            position = self.step(position, want_collection=True)

    # -- walking ------------------------------------------------------------------------

    def start(self) -> ObjectCursor | Val:
        first = self.elements[0]
        if first.name.startswith("$"):
            bound = self.scope.lookup_variable(first.name)
            if bound is None:
                raise self.ctx.error(
                    f"unknown variable {first.name}; variables are defined by "
                    "SUBQUERY(collection, $x, predicate)",
                    first.pos,
                )
            self.i = 1
            return _copy(bound)
        return _copy(self.scope.lexical_default())

    def step(
        self, cursor: ObjectCursor, want_collection: bool
    ) -> ObjectCursor | Val | CollectionPosition:
        element = self.elements[self.i]
        name = element.name
        cls = self.ctx.schema[cursor.class_name]
        if name == "@links":
            return self.backlinks(cursor, element, want_collection)
        if name.startswith("@"):
            raise self.ctx.error(
                f"'{name}' must follow a list, set, dictionary or backlinks, "
                f"not an object of class {cls.name}",
                element.pos,
            )
        prop = cls.get(name)
        if prop is None:
            raise self.ctx.error(
                f"class {cls.name} has no property '{name}'"
                + _known_properties(cls),
                element.pos,
            )
        if element.subscript is not None and prop.collection != "dictionary":
            raise self.ctx.error(
                f"'[...]' only applies to dictionaries; '{name}' is {prop.type_string}",
                element.pos,
            )
        self.i += 1
        if prop.is_backlink:
            origin = self.ctx.schema[prop.object_type or ""]
            origin_prop = origin.get(prop.origin_property or "")
            assert origin_prop is not None  # validate_schema checked it
            collection = Collection(origin_prop, origin.name, True, name)
            return self.enter_collection(cursor, collection, element, want_collection)
        if prop.collection is not None:
            collection = Collection(prop, cls.name, False, name)
            return self.enter_collection(cursor, collection, element, want_collection)
        alias = self.ctx.ensure_alias(cursor)
        if prop.type == "object":
            target = prop.object_type or ""
            self.ctx.depend_on(target)
            return ObjectCursor(
                cursor.scope, target, f"{alias}.{column(name)}", None, nullable=True, inner=False
            )
        return Val(
            prop.type,
            f"{alias}.{column(name)}",
            element.pos,
            tag_sql=f"{alias}.{tag_column(name)}" if prop.type == "mixed" else None,
            nullable=prop.optional or cursor.nullable or prop.type == "mixed",
            multi=self.multi,
        )

    def backlinks(
        self, cursor: ObjectCursor, element: nodes.PathElement, want_collection: bool
    ) -> Val | ObjectCursor | CollectionPosition:
        following = self.elements[self.i + 1 :]
        if following and following[0].name in COUNTS:
            if len(following) > 1:
                raise self.ctx.error(
                    "nothing may follow @links.@count", following[1].pos
                )
            self.i += 2
            return self.all_backlinks_count(cursor, element.pos)
        if len(following) < 2 or following[0].name.startswith("@"):
            at = following[0].pos if following else element.pos
            raise self.ctx.error(
                "expected @links.<Class>.<property> or @links.@count", at
            )
        class_element, prop_element = following[0], following[1]
        origin = self.ctx.schema.get(class_element.name)
        if origin is None:
            raise self.ctx.error(f"no class '{class_element.name}' in the schema",
                                 class_element.pos)
        origin_prop = origin.get(prop_element.name)
        if origin_prop is None:
            raise self.ctx.error(
                f"class {origin.name} has no property '{prop_element.name}'",
                prop_element.pos,
            )
        if origin_prop.type != "object" or origin_prop.object_type != cursor.class_name:
            raise self.ctx.error(
                f"{origin.name}.{origin_prop.name} does not link to {cursor.class_name}",
                prop_element.pos,
            )
        self.i += 3
        label = f"@links.{origin.name}.{origin_prop.name}"
        collection = Collection(origin_prop, origin.name, True, label)
        return self.enter_collection(cursor, collection, prop_element, want_collection)

    # -- collections --------------------------------------------------------------------

    def enter_collection(
        self,
        cursor: ObjectCursor,
        collection: Collection,
        element: nodes.PathElement,
        want_collection: bool,
    ) -> ObjectCursor | Val | CollectionPosition:
        if collection.of_objects:
            self.ctx.depend_on(collection.owner if collection.backlink else
                               collection.prop.object_type or "")
        rest = self.elements[self.i :]
        following = rest[0].name if rest else None
        if collection.is_dictionary:
            if element.subscript is not None:
                return self.dictionary_value(cursor, collection, self.subscript_key(element))
            if following is not None and not following.startswith("@"):
                self.i += 1
                return self.dictionary_value(cursor, collection, following)
            if following == "@keys":
                self.i += 1
                return self.flatten(cursor, collection, rest[0], keys=True)
            if following == "@values":
                self.i += 1
                rest = self.elements[self.i :]
                following = rest[0].name if rest else None
        if want_collection and following is None:
            return CollectionPosition(cursor, collection, self.multi)
        if following in COUNTS:
            if len(rest) > 1:
                raise self.ctx.error(f"nothing may follow {following}", rest[1].pos)
            self.i += 1
            return self.count(cursor, collection, rest[0].pos)
        if following in AGGREGATES:
            self.i += 1
            return self.aggregate(cursor, collection, rest[0])
        return self.flatten(cursor, collection, element)

    def open_rows(self, collection: Collection, scope: Scope) -> tuple[str, str, str, str]:
        """(FROM item, alias, correlation column, element key or value column)."""
        alias = self.ctx.alias()
        if collection.backlink and collection.prop.collection is None:
            # Objects whose to-one link points here: the origin class table itself.
            table = class_table(collection.owner)
            return (f"{table} AS {alias}", alias, f"{alias}.{column(collection.prop.name)}",
                    f"{alias}.{KEY}")
        table = collection_table(collection.owner, collection.prop)
        if collection.backlink:
            return f"{table} AS {alias}", alias, f"{alias}.value", f"{alias}.owner"
        return f"{table} AS {alias}", alias, f"{alias}.owner", f"{alias}.value"

    def element_at(
        self, collection: Collection, scope: Scope, alias: str, element_sql: str, pos: int,
        keys: bool = False,
    ) -> ObjectCursor | Val:
        if keys:
            return Val("string", f"{alias}.key", pos, nullable=False, multi=self.multi)
        if collection.backlink:
            joined = alias if collection.prop.collection is None else None
            return ObjectCursor(scope, collection.owner, element_sql, joined, nullable=False,
                                inner=True)
        prop = collection.prop
        if prop.type == "object":
            # Dictionary values may be null links; the inner join skips those.
            return ObjectCursor(scope, prop.object_type or "", element_sql, None,
                                nullable=False, inner=True)
        return Val(
            prop.type,
            element_sql,
            pos,
            tag_sql=f'{alias}."value@type"' if prop.type == "mixed" else None,
            nullable=prop.optional or prop.type == "mixed",
            multi=self.multi,
        )

    def flatten(
        self, cursor: ObjectCursor, collection: Collection, element: nodes.PathElement,
        keys: bool = False,
    ) -> ObjectCursor | Val:
        if self.multi is None:
            scope = Scope(cursor.scope)
            from_item, alias, corr, element_sql = self.open_rows(collection, scope)
            scope.from_items.append(from_item)
            self.multi = Multi(scope, corr, cursor.key_sql, cursor.nullable)
        else:
            scope = self.multi.scope
            from_item, alias, corr, element_sql = self.open_rows(collection, scope)
            scope.from_items.append(f"JOIN {from_item} ON {corr} = {cursor.key_sql}")
        return self.element_at(collection, scope, alias, element_sql, element.pos, keys)

    def dictionary_value(
        self, cursor: ObjectCursor, collection: Collection, key: str
    ) -> ObjectCursor | Val:
        """``dict['key']``: one value (NULL when the key is absent), joined once per scope."""
        cache_key = ("dict", collection.owner, collection.prop.name, cursor.key_sql, key)
        alias = cursor.scope.join_cache.get(cache_key)
        if alias is None:
            alias = self.ctx.alias()
            table = collection_table(collection.owner, collection.prop)
            cursor.scope.from_items.append(
                f"LEFT JOIN {table} AS {alias} ON {alias}.owner = {cursor.key_sql} "
                f"AND {alias}.key = {sql_string(key)}"
            )
            cursor.scope.join_cache[cache_key] = alias
        prop = collection.prop
        pos = self.elements[self.i - 1].pos
        if prop.type == "object":
            return ObjectCursor(cursor.scope, prop.object_type or "", f"{alias}.value", None,
                                nullable=True, inner=False)
        return Val(
            prop.type,
            f"{alias}.value",
            pos,
            tag_sql=f'{alias}."value@type"' if prop.type == "mixed" else None,
            nullable=True,
            multi=self.multi,
        )

    def subscript_key(self, element: nodes.PathElement) -> str:
        subscript = element.subscript
        assert subscript is not None
        if isinstance(subscript, nodes.Argument):
            if subscript.index >= len(self.ctx.args):
                raise self.ctx.error(missing_argument(subscript.index, len(self.ctx.args)),
                                     subscript.pos)
            value = self.ctx.args[subscript.index]
        else:
            value = subscript.value
        if not isinstance(value, str):
            raise self.ctx.error(
                f"a dictionary key must be a string, found {type(value).__name__}",
                subscript.pos,
            )
        return value

    def aggregate_scope(
        self, cursor: ObjectCursor, collection: Collection
    ) -> tuple[Scope, str, str]:
        scope = Scope(cursor.scope)
        from_item, alias, corr, element_sql = self.open_rows(collection, scope)
        scope.from_items.append(from_item)
        scope.where.append(f"{corr} = {cursor.key_sql}")
        return scope, alias, element_sql

    def count(self, cursor: ObjectCursor, collection: Collection, pos: int) -> Val:
        scope, _, _ = self.aggregate_scope(cursor, collection)
        sql = f"(SELECT count(*) FROM {scope.from_sql()} WHERE {' AND '.join(scope.where)})"
        value = Val("int", sql, pos, nullable=False, multi=self.multi, is_property=False)
        if self.multi is None and cursor.scope.parent is None:
            from_item, alias, corr, _ = self.open_rows(collection, scope)
            is_list = not collection.backlink and collection.prop.collection == "list"
            value.count_source = CountSource(from_item.rsplit(" AS ", 1)[0], alias, corr,
                                             cursor.key_sql, is_list)
        return value

    def all_backlinks_count(self, cursor: ObjectCursor, pos: int) -> Val:
        """``@links.@count``: links from every property of every class that point here."""
        terms: list[str] = []
        for cls in self.ctx.schema.values():
            for prop in cls.properties:
                if prop.type != "object" or prop.object_type != cursor.class_name:
                    continue
                self.ctx.depend_on(cls.name)
                collection = Collection(prop, cls.name, True, "@links")
                scope, _, _ = self.aggregate_scope(cursor, collection)
                terms.append(
                    f"(SELECT count(*) FROM {scope.from_sql()} WHERE {scope.where[0]})"
                )
        sql = "(" + " + ".join(terms) + ")" if terms else "0"
        return Val("int", sql, pos, nullable=False, multi=self.multi, is_property=False)

    def aggregate(
        self, cursor: ObjectCursor, collection: Collection, agg_element: nodes.PathElement
    ) -> Val:
        op = agg_element.name
        scope, alias, element_sql = self.aggregate_scope(cursor, collection)
        element = self.element_at(collection, scope, alias, element_sql, agg_element.pos)
        if isinstance(element, ObjectCursor):
            if self.i >= len(self.elements):
                raise self.ctx.error(
                    f"{op} over objects needs a property: '{collection.label}.{op}.<property>'",
                    agg_element.pos,
                )
            inner = _Walker(self.ctx, self.path, scope)
            inner.i = self.i
            inner_position: ObjectCursor | Val | CollectionPosition = element
            while isinstance(inner_position, ObjectCursor) and inner.i < len(self.elements):
                inner_position = inner.step(inner_position, want_collection=False)
            if isinstance(inner_position, Val):
                inner_position = inner.finish_value(inner_position)
            if not isinstance(inner_position, Val) or inner.multi is not None:
                at = self.elements[min(inner.i, len(self.elements)) - 1].pos
                raise self.ctx.error(
                    f"{op} needs a numeric property of the objects in '{collection.label}'", at
                )
            self.i = len(self.elements)
            value = inner_position
        else:
            if self.i < len(self.elements):
                raise self.ctx.error(
                    f"nothing may follow {op} on a collection of values",
                    self.elements[self.i].pos,
                )
            value = element
        return self.aggregate_value(op, value, scope, agg_element.pos)

    def aggregate_value(self, op: str, value: Val, scope: Scope, pos: int) -> Val:
        allowed = NUMERIC_TYPES | {"mixed"} if op in ("@sum", "@avg") else MIN_MAX_TYPES
        if value.type not in allowed:
            raise self.ctx.error(
                f"{op} needs numbers{' or dates' if op in ('@min', '@max') else ''}; "
                f"found {describe_type(value.type, value.object_class)}",
                pos,
            )
        expr = value.sql
        result_type = value.type
        if value.type == "mixed":
            # Only the numeric members of a mixed collection take part (as REAL).
            expr = (
                f"CASE WHEN {value.tag_sql} IN (2, 3) THEN {value.sql} "
                f"WHEN {value.tag_sql} = 9 THEN rql_decimal_real({value.sql}) END"
            )
            result_type = "double"
        where = " AND ".join(scope.where)
        body = f"FROM {scope.from_sql()} WHERE {where}"
        if value.type == "decimal128":
            function = {"@sum": "rql_decimal_sum", "@avg": "rql_decimal_avg",
                         "@min": "min", "@max": "max"}[op]
            sql = f"(SELECT {function}({expr}) {body})"
            if op == "@sum":
                # A Python aggregate over no rows yields NULL; Realm's sum of nothing is 0.
                sql = f"coalesce({sql}, '0')"
        elif op == "@sum":
            sql = f"(SELECT coalesce(sum({expr}), 0) {body})"
        elif op == "@avg":
            sql = f"(SELECT avg({expr}) {body})"
            result_type = "double"
        else:
            sql = f"(SELECT {op[1:]}({expr}) {body})"
        if op == "@sum" and value.type == "float":
            result_type = "double"
        return Val(result_type, sql, pos, nullable=op != "@sum", multi=self.multi,
                   is_property=False)

    # -- finishing ----------------------------------------------------------------------

    def finish_value(self, value: Val) -> Val:
        """Apply what may follow a value: ``.length``/``.@size`` on strings and data,
        ``.@type`` on mixed."""
        while self.i < len(self.elements):
            element = self.elements[self.i]
            name = element.name
            if value.type in ("string", "data") and (
                name in COUNTS or name.lower() == "length"
            ):
                value = Val("int", f"length({value.sql})", element.pos,
                            nullable=value.nullable, multi=value.multi, is_property=False)
            elif value.type == "mixed" and name == "@type":
                value = Val("typename", f"coalesce({value.tag_sql}, 0)", element.pos,
                            nullable=False, multi=value.multi, is_property=False)
            else:
                raise self.ctx.error(
                    f"'{name}' cannot follow {describe_type(value.type)}"
                    + (" (only .length, .@size)" if value.type in ("string", "data") else ""),
                    element.pos,
                )
            self.i += 1
        return value

    def object_value(self, cursor: ObjectCursor) -> Val:
        last = self.elements[-1]
        return Val(
            "object",
            cursor.key_sql,
            last.pos,
            object_class=cursor.class_name,
            nullable=cursor.nullable,
            multi=self.multi,
            object_collection=self.multi is not None and not cursor.nullable,
        )


def _copy(position: ObjectCursor | Val) -> ObjectCursor | Val:
    """Cursors are updated while walking (``alias`` once joined); walk a copy so a
    variable binding is not changed by one path for the next."""
    if isinstance(position, ObjectCursor):
        return ObjectCursor(position.scope, position.class_name, position.key_sql,
                            position.alias, position.nullable, position.inner)
    return Val(position.type, position.sql, position.pos, list(position.params),
               position.object_class, position.tag_sql, position.nullable, None, None)


def _known_properties(cls: ObjectSchema) -> str:
    names = [p.name for p in cls.properties]
    if not names:
        return ""
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f" (it has: {shown})"


def missing_argument(index: int, given: int) -> str:
    return f"argument ${index} was not given (the query has {given} argument" + (
        "s)" if given != 1 else ")"
    )


def resolve_value(ctx: Context, path: nodes.KeyPath, scope: Scope) -> Val:
    """The typed SQL value of a key path (in ``scope``), with its quantifier."""
    value = _Walker(ctx, path, scope).value()
    value.quantifier = path.quantifier
    value.pos = path.pos  # errors about the operand point at the start of its key path
    return value


def resolve_collection(ctx: Context, path: nodes.KeyPath, scope: Scope) -> CollectionPosition:
    """The collection a SUBQUERY ranges over."""
    return _Walker(ctx, path, scope).collection()


def subquery_scope(
    ctx: Context, position: CollectionPosition, pos: int
) -> tuple[Scope, ObjectCursor | Val]:
    """A scope enumerating the collection's elements, correlated to its owner."""
    # A walker with no path left, used only for its helpers that open collection rows.
    walker = _Walker(ctx, nodes.KeyPath(pos, ()), position.cursor.scope)
    walker.multi = position.multi
    scope, alias, element_sql = walker.aggregate_scope(position.cursor, position.collection)
    element = walker.element_at(position.collection, scope, alias, element_sql, pos)
    if isinstance(element, Val):
        element.multi = None
    return scope, element

