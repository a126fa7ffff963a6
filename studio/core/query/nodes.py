"""The syntax tree of a Realm Query Language string, as frozen dataclasses.

The parser builds these from tokens; the compiler reads them together with the
schema and the arguments. Nothing here knows about types or SQL. ``pos`` is the
0-based offset of the node's first token in the query text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# -- values --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant written in the query.

    ``kind`` is one of ``null bool int float string data date objectId uuid
    infinity nan``; ``value`` is the Python value (int for ``date``: microseconds;
    ``text`` keeps the lexeme so decimal128 comparisons can use it exactly).
    """

    pos: int
    kind: str
    value: Any
    text: str


@dataclass(frozen=True, slots=True)
class Argument:
    """``$n``: the n-th argument given with the query."""

    pos: int
    index: int
    quantifier: str | None = None
    """``ANY``/``ALL``/``NONE`` written before it (``ANY $0 == age``): the argument must
    hold a list."""


@dataclass(frozen=True, slots=True)
class ListLiteral:
    """``{a, b, c}``: a list of constants (IN, BETWEEN, or either side of a comparison,
    optionally after ``ANY``/``ALL``/``NONE``: ``ALL {1, 2} < age``)."""

    pos: int
    items: tuple[Literal | Argument, ...]
    quantifier: str | None = None


@dataclass(frozen=True, slots=True)
class PathElement:
    """One step of a key path: a name (``dog``, ``@count``, ``@links``, ``$x``) and an
    optional subscript (``dict['key']``, ``dict[$0]``)."""

    pos: int
    name: str
    subscript: Literal | Argument | None = None


@dataclass(frozen=True, slots=True)
class KeyPath:
    """``dog.owner.name``, ``ANY friends.age``, ``scores.@max``, ``$x.name``.

    ``quantifier`` is ``ANY``, ``ALL``, ``NONE`` or None (SOME is stored as ANY).
    """

    pos: int
    elements: tuple[PathElement, ...]
    quantifier: str | None = None

    @property
    def text(self) -> str:
        """The path as written, without quantifier and subscripts (for messages)."""
        return ".".join(element.name for element in self.elements)


@dataclass(frozen=True, slots=True)
class Subquery:
    """``SUBQUERY(collection, $x, predicate).@count``."""

    pos: int
    collection: KeyPath
    variable: str
    predicate: Predicate
    quantifier: str | None = None


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``left op right`` with ``op`` one of ``+ - * /`` (``price * quantity``)."""

    pos: int
    op: str
    left: Operand
    right: Operand
    op_pos: int


Operand = Literal | Argument | ListLiteral | KeyPath | Subquery | Arithmetic

# -- predicates ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """``left op right``; ``op`` is normalised (``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=``
    ``BEGINSWITH`` ``ENDSWITH`` ``CONTAINS`` ``LIKE`` ``IN``). ``case_insensitive`` and
    ``diacritic_insensitive`` come from ``[c]``, ``[d]``, ``[cd]``."""

    pos: int
    op: str
    left: Operand
    right: Operand
    op_pos: int
    case_insensitive: bool = False
    diacritic_insensitive: bool = False


@dataclass(frozen=True, slots=True)
class Between:
    """``value BETWEEN {low, high}`` (both ends included); ``bounds`` may also be an
    argument holding a two-item sequence."""

    pos: int
    operand: Operand
    bounds: ListLiteral | Argument
    op_pos: int


@dataclass(frozen=True, slots=True)
class And:
    pos: int
    items: tuple[Predicate, ...]


@dataclass(frozen=True, slots=True)
class Or:
    pos: int
    items: tuple[Predicate, ...]


@dataclass(frozen=True, slots=True)
class Not:
    pos: int
    item: Predicate


@dataclass(frozen=True, slots=True)
class Constant:
    """TRUEPREDICATE / FALSEPREDICATE."""

    pos: int
    value: bool


@dataclass(frozen=True, slots=True)
class GeoShape:
    """``geoCircle([lng, lat], radius)``, ``geoBox([lng, lat], [lng, lat])`` or
    ``geoPolygon({[lng, lat], ...}, ...)``: ``kind`` is circle, box or polygon; ``loops``
    holds the points (circle: the center; box: the two corners; polygon: the rings);
    coordinates are number literals or arguments."""

    pos: int
    kind: str
    loops: tuple[tuple[tuple[Literal | Argument, Literal | Argument], ...], ...]
    radius: Literal | Argument | None = None


@dataclass(frozen=True, slots=True)
class GeoWithin:
    """``path geoWithin shape`` (the shape may be an argument)."""

    pos: int
    path: KeyPath
    shape: GeoShape | Argument
    op_pos: int


Predicate = Comparison | Between | GeoWithin | And | Or | Not | Constant

# -- modifiers -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SortModifier:
    pos: int
    keys: tuple[tuple[KeyPath, bool], ...]  # (key path, ascending)


@dataclass(frozen=True, slots=True)
class DistinctModifier:
    pos: int
    paths: tuple[KeyPath, ...]


@dataclass(frozen=True, slots=True)
class LimitModifier:
    pos: int
    count: int


Modifier = SortModifier | DistinctModifier | LimitModifier


@dataclass(frozen=True, slots=True)
class Query:
    """A whole query: a predicate (None when only modifiers were given) and modifiers
    in the order written."""

    predicate: Predicate | None
    modifiers: tuple[Modifier, ...]
