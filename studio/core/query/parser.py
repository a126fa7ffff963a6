"""Recursive-descent parser from tokens to the syntax tree in :mod:`nodes`.

Precedence, loosest first: ``OR``/``||``, ``AND``/``&&``, ``NOT``/``!``, then
comparisons, ``+``/``-``, ``*``/``/`` and parentheses (Realm's order; a ``(`` is
read as a group of predicates first, then as an arithmetic expression). Modifiers
(``SORT``, ``DISTINCT``, ``LIMIT``) follow the predicate in any order and number.

Parsing depends only on the text, so results are cached: a Results re-filtered
with the same query string and new arguments skips this step.
"""

from __future__ import annotations

from functools import lru_cache

from studio.core.errors import QueryError
from studio.core.query import nodes
from studio.core.query.lexer import (
    ARG,
    BASE64,
    END,
    FLOAT,
    ID,
    MODIFIER,
    NUMBER,
    OID,
    OP,
    PUNCT,
    STRING,
    TIMESTAMP,
    UUID,
    VAR,
    Token,
    tokenize,
)
from studio.core.query.literals import decode_literal

_LITERAL_KINDS = frozenset({STRING, NUMBER, FLOAT, TIMESTAMP, OID, UUID, BASE64})
_SYMBOL_OPS = {
    "==": "==", "=": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", "=<": "<=",
    ">": ">", ">=": ">=", "=>": ">=",
}
_WORD_OPS = frozenset({"BEGINSWITH", "ENDSWITH", "CONTAINS", "LIKE", "IN", "TEXT"})
_QUANTIFIERS = {"ANY": "ANY", "SOME": "ANY", "ALL": "ALL", "NONE": "NONE"}
_MODIFIER_WORDS = frozenset({"SORT", "DISTINCT", "LIMIT"})
_EXPECTED_OPERATOR = (
    "a comparison operator (==, !=, <, <=, >, >=, BEGINSWITH, ENDSWITH, CONTAINS, LIKE, "
    "IN, BETWEEN, TEXT, geoWithin)"
)
_EXPECTED_OPERAND = (
    "a property, a value (number, 'string', true, false, null, oid(..), uuid(..), date, "
    "B64\"..\"), an argument ($0) or a SUBQUERY"
)


@lru_cache(maxsize=512)
def parse(query: str) -> nodes.Query:
    """Parse a whole query string. Raises QueryError with the position of the problem."""
    return _Parser(query).query()


@lru_cache(maxsize=512)
def parse_keypath(text: str) -> nodes.KeyPath:
    """Parse a lone key path, as given to ``sorted()`` and ``distinct()``."""
    parser = _Parser(text)
    path = parser.keypath()
    parser.expect_end("the end of the key path")
    return path


class _Parser:
    __slots__ = ("i", "query_text", "tokens")

    def __init__(self, query: str) -> None:
        self.query_text = query
        self.tokens = tokenize(query)
        self.i = 0

    # -- token helpers ------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != END:
            self.i += 1
        return token

    def error(self, expected: str, token: Token | None = None) -> QueryError:
        token = token or self.tok
        return QueryError(
            f"expected {expected}, found {token.describe()}", token.pos, self.query_text
        )

    def expect_punct(self, char: str, expected: str | None = None) -> Token:
        if self.tok.kind == PUNCT and self.tok.text == char:
            return self.advance()
        raise self.error(expected or f"'{char}'")

    def at_punct(self, char: str) -> bool:
        return self.tok.kind == PUNCT and self.tok.text == char

    def expect_end(self, expected: str) -> None:
        if self.tok.kind != END:
            raise self.error(expected)

    # -- query and predicates -----------------------------------------------------------

    def query(self) -> nodes.Query:
        predicate: nodes.Predicate | None = None
        if self.tok.kind == END:
            raise self.error("a predicate (for everything, TRUEPREDICATE)")
        if not self.at_modifier():
            predicate = self.or_expr()
        modifiers: list[nodes.Modifier] = []
        while self.at_modifier():
            modifiers.append(self.modifier())
        if self.tok.kind != END:
            raise self.error("AND, OR, SORT, DISTINCT, LIMIT or the end of the query")
        return nodes.Query(predicate, tuple(modifiers))

    def at_modifier(self) -> bool:
        next_token = self.peek()
        return (
            self.tok.is_word(*_MODIFIER_WORDS)
            and next_token.kind == PUNCT
            and next_token.text == "("
        )

    def or_expr(self) -> nodes.Predicate:
        start = self.tok.pos
        items = [self.and_expr()]
        while self.tok.is_word("OR") or (self.tok.kind == OP and self.tok.text == "||"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else nodes.Or(start, tuple(items))

    def and_expr(self) -> nodes.Predicate:
        start = self.tok.pos
        items = [self.not_expr()]
        while self.tok.is_word("AND") or (self.tok.kind == OP and self.tok.text == "&&"):
            self.advance()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else nodes.And(start, tuple(items))

    def not_expr(self) -> nodes.Predicate:
        token = self.tok
        if token.is_word("NOT") or (token.kind == OP and token.text == "!"):
            self.advance()
            return nodes.Not(token.pos, self.not_expr())
        return self.primary()

    def primary(self) -> nodes.Predicate:
        token = self.tok
        if self.at_punct("("):
            # '(' opens either a group of predicates or an arithmetic expression
            # ('(price + tax) * 2 > 10'): try the group first, as Realm's grammar allows both.
            start = self.i
            try:
                self.advance()
                inner = self.or_expr()
                self.expect_punct(")", "')' or AND/OR")
                return inner
            except QueryError as group_error:
                group_end = self.tok.pos
                self.i = start
                try:
                    return self.comparison()
                except QueryError:
                    if self.tok.pos <= group_end:
                        raise group_error from None
                    raise
        if token.is_word("TRUEPREDICATE", "FALSEPREDICATE"):
            self.advance()
            return nodes.Constant(token.pos, token.text.upper() == "TRUEPREDICATE")
        if token.kind == END:
            raise self.error("a comparison")
        return self.comparison()

    def comparison(self) -> nodes.Predicate:
        left = self.expr()
        token = self.tok
        if token.is_word("GEOWITHIN"):
            self.advance()
            if not isinstance(left, nodes.KeyPath):
                raise QueryError("the left side of geoWithin must be a key path to a point",
                                 _pos(left), self.query_text)
            shape: nodes.GeoShape | nodes.Argument
            shape = self.argument() if self.tok.kind == ARG else self.geo_shape()
            return nodes.GeoWithin(_pos(left), left, shape, token.pos)
        if token.is_word("BETWEEN"):
            self.advance()
            bounds: nodes.ListLiteral | nodes.Argument
            if self.at_punct("{"):
                bounds = listed = self.list_literal()
                if len(listed.items) != 2:
                    raise QueryError(
                        f"BETWEEN needs exactly two values {{low, high}}, "
                        f"found {len(listed.items)}",
                        listed.pos,
                        self.query_text,
                    )
            elif self.tok.kind == ARG:
                bounds = self.argument()
            else:
                raise self.error("'{low, high}' after BETWEEN")
            return nodes.Between(_pos(left), left, bounds, token.pos)
        if token.kind == OP and token.text in _SYMBOL_OPS:
            op = _SYMBOL_OPS[token.text]
        elif token.kind == ID and token.text.upper() in _WORD_OPS:
            op = token.text.upper()
        else:
            raise self.error(_EXPECTED_OPERATOR)
        self.advance()
        case_insensitive = diacritic_insensitive = False
        if self.tok.kind == MODIFIER:
            flags = self.tok.text[1:-1].lower()
            if op in ("<", "<=", ">", ">="):
                raise QueryError(
                    f"'{self.tok.text}' cannot follow '{op}'; it applies to ==, !=, IN and "
                    "the string operators",
                    self.tok.pos,
                    self.query_text,
                )
            case_insensitive = "c" in flags
            diacritic_insensitive = "d" in flags
            self.advance()
        right = self.expr()
        return nodes.Comparison(
            _pos(left), op, left, right, token.pos, case_insensitive, diacritic_insensitive
        )

    # -- operands -----------------------------------------------------------------------

    def expr(self) -> nodes.Operand:
        """Sums of products of operands: ``*`` and ``/`` bind tighter than ``+`` and ``-``,
        all left-associative, as in Realm's grammar."""
        left = self.term()
        while True:
            token = self.tok
            if token.kind == OP and token.text in "+-":
                self.advance()
                right = self.term()
            elif token.kind in (NUMBER, FLOAT) and token.text[0] in "+-":
                # 'age -1': the lexer made '-1' a number; after an operand it can only be
                # a subtraction.
                self.advance()
                unsigned = Token(token.kind, token.text[1:], token.pos + 1)
                right = self.term(decode_literal(unsigned, self.query_text))
            else:
                return left
            left = nodes.Arithmetic(_pos(left), token.text[0], left, right, token.pos)

    def term(self, first: nodes.Operand | None = None) -> nodes.Operand:
        left = first if first is not None else self.factor()
        while self.tok.kind == OP and self.tok.text in "*/":
            token = self.advance()
            right = self.factor()
            left = nodes.Arithmetic(_pos(left), token.text, left, right, token.pos)
        return left

    def factor(self) -> nodes.Operand:
        if self.at_punct("("):
            self.advance()
            inner = self.expr()
            self.expect_punct(")", "')' or an arithmetic operator (+ - * /)")
            return inner
        return self.operand()

    def operand(self) -> nodes.Operand:
        token = self.tok
        kind = token.kind
        if kind in _LITERAL_KINDS:
            self.advance()
            return decode_literal(token, self.query_text)
        if kind == ARG:
            return self.argument()
        if kind == PUNCT and token.text == "{":
            return self.list_literal()
        if kind == ID:
            upper = token.text.upper()
            if upper in ("TRUE", "FALSE"):
                self.advance()
                return nodes.Literal(token.pos, "bool", upper == "TRUE", token.text)
            if upper in ("NULL", "NIL"):
                self.advance()
                return nodes.Literal(token.pos, "null", None, token.text)
            if upper in _QUANTIFIERS and self.peek().kind == PUNCT and self.peek().text == "{":
                self.advance()
                listed = self.list_literal()
                return nodes.ListLiteral(token.pos, listed.items, _QUANTIFIERS[upper])
            if upper in _QUANTIFIERS and self.peek().kind == ARG:
                self.advance()
                arg = self.argument()
                return nodes.Argument(token.pos, arg.index, _QUANTIFIERS[upper])
            if upper in _QUANTIFIERS and self.peek().kind in (ID, VAR):
                self.advance()
                quantifier = _QUANTIFIERS[upper]
                if self.tok.is_word("SUBQUERY") and self._at_subquery():
                    raise QueryError(
                        f"{upper} cannot be applied to a SUBQUERY (it is a number)",
                        token.pos,
                        self.query_text,
                    )
                path = self.keypath()
                return nodes.KeyPath(token.pos, path.elements, quantifier)
            if upper == "SUBQUERY" and self._at_subquery():
                return self.subquery()
            # 'text' stays usable as a property name (Realm reserves it).
            if upper in ("AND", "OR", "NOT", "BETWEEN") or upper in _WORD_OPS - {"TEXT"}:
                raise self.error(_EXPECTED_OPERAND)
            return self.keypath()
        if kind == VAR:
            return self.keypath()
        raise self.error(_EXPECTED_OPERAND)

    def _at_subquery(self) -> bool:
        following = self.peek()
        return following.kind == PUNCT and following.text == "("

    def argument(self) -> nodes.Argument:
        token = self.advance()
        return nodes.Argument(token.pos, int(token.text[1:]))

    def list_literal(self) -> nodes.ListLiteral:
        start = self.expect_punct("{")
        items: list[nodes.Literal | nodes.Argument] = []
        if not self.at_punct("}"):
            while True:
                item = self.operand_constant()
                items.append(item)
                if self.at_punct(","):
                    self.advance()
                    continue
                break
        self.expect_punct("}", "',' or '}' in the list")
        return nodes.ListLiteral(start.pos, tuple(items))

    def operand_constant(self) -> nodes.Literal | nodes.Argument:
        token = self.tok
        if token.kind in (ID, VAR, PUNCT, OP, MODIFIER, END) and not token.is_word(
            "TRUE", "FALSE", "NULL", "NIL"
        ):
            raise self.error("a constant value or an argument in the list")
        operand = self.operand()
        assert isinstance(operand, nodes.Literal | nodes.Argument)
        return operand

    def keypath(self) -> nodes.KeyPath:
        start = self.tok
        elements = [self.path_element(first=True)]
        while self.at_punct("."):
            self.advance()
            elements.append(self.path_element(first=False))
        return nodes.KeyPath(start.pos, tuple(elements))

    def path_element(self, first: bool) -> nodes.PathElement:
        token = self.tok
        if token.kind == ID or (first and token.kind == VAR):
            self.advance()
        else:
            raise self.error("a property name" if first else "a property name after '.'")
        subscript: nodes.Literal | nodes.Argument | None = None
        if self.at_punct("["):
            self.advance()
            inner = self.tok
            if inner.kind == STRING:
                self.advance()
                subscript = decode_literal(inner, self.query_text)
            elif inner.kind == ARG:
                subscript = self.argument()
            else:
                raise self.error("a 'key' string or an argument inside [ ]")
            self.expect_punct("]")
        return nodes.PathElement(token.pos, token.text, subscript)

    def subquery(self) -> nodes.Subquery:
        start = self.advance()  # SUBQUERY
        self.expect_punct("(")
        if self.tok.kind not in (ID, VAR):
            raise self.error("the collection key path as SUBQUERY's first argument")
        collection = self.keypath()
        self.expect_punct(",", "',' after the SUBQUERY collection")
        if self.tok.kind != VAR:
            raise self.error("a variable such as $x as SUBQUERY's second argument")
        variable = self.advance().text
        self.expect_punct(",", "',' after the SUBQUERY variable")
        predicate = self.or_expr()
        self.expect_punct(")", "')' closing the SUBQUERY")
        self.expect_punct(".", "'.@count' after SUBQUERY(...)")
        if not (self.tok.kind == ID and self.tok.text in ("@count", "@size")):
            raise self.error("'@count' or '@size' after SUBQUERY(...).")
        self.advance()
        return nodes.Subquery(start.pos, collection, variable, predicate)

    # -- geospatial shapes --------------------------------------------------------------

    def geo_shape(self) -> nodes.GeoShape:
        token = self.tok
        if not (token.is_word("GEOCIRCLE", "GEOBOX", "GEOPOLYGON") and self._at_subquery()):
            raise self.error("geoCircle(...), geoBox(...), geoPolygon(...) or an argument "
                             "after geoWithin")
        self.advance()
        self.expect_punct("(")
        kind = token.text.upper()[3:].lower()
        radius: nodes.Literal | nodes.Argument | None = None
        loops: tuple[tuple[tuple[nodes.Literal | nodes.Argument,
                                 nodes.Literal | nodes.Argument], ...], ...]
        if kind == "circle":
            loops = ((self.geo_point(),),)
            self.expect_punct(",", "',' and the radius (radians) in geoCircle")
            radius = self.geo_number()
        elif kind == "box":
            first = self.geo_point()
            self.expect_punct(",", "',' and the top-right point in geoBox")
            loops = ((first, self.geo_point()),)
        else:
            rings = [self.geo_ring()]
            while self.at_punct(","):
                self.advance()
                rings.append(self.geo_ring())
            loops = tuple(rings)
        self.expect_punct(")", f"')' closing {token.text}")
        return nodes.GeoShape(token.pos, kind, loops, radius)

    def geo_ring(self) -> tuple[tuple[nodes.Literal | nodes.Argument,
                                      nodes.Literal | nodes.Argument], ...]:
        self.expect_punct("{", "'{' opening a ring of points [lng, lat] in geoPolygon")
        points = [self.geo_point()]
        while self.at_punct(","):
            self.advance()
            points.append(self.geo_point())
        self.expect_punct("}", "',' or '}' in the ring of points")
        return tuple(points)

    def geo_point(self) -> tuple[nodes.Literal | nodes.Argument, nodes.Literal | nodes.Argument]:
        self.expect_punct("[", "a point [longitude, latitude]")
        lng = self.geo_number()
        self.expect_punct(",", "',' between longitude and latitude")
        lat = self.geo_number()
        if self.at_punct(","):  # an altitude, ignored as in Realm's queries
            self.advance()
            self.geo_number()
        self.expect_punct("]", "']' closing the point")
        return lng, lat

    def geo_number(self) -> nodes.Literal | nodes.Argument:
        token = self.tok
        if token.kind in (NUMBER, FLOAT):
            self.advance()
            return decode_literal(token, self.query_text)
        if token.kind == ARG:
            return self.argument()
        raise self.error("a number or an argument")

    # -- modifiers ----------------------------------------------------------------------

    def modifier(self) -> nodes.Modifier:
        word = self.advance()
        self.expect_punct("(")
        upper = word.text.upper()
        if upper == "LIMIT":
            count = self.tok
            if count.kind != NUMBER or count.text.startswith(("-", "+")):
                raise self.error("a non-negative whole number in LIMIT(...)")
            self.advance()
            self.expect_punct(")")
            return nodes.LimitModifier(word.pos, int(count.text, 0))
        if upper == "DISTINCT":
            paths = [self.modifier_path("DISTINCT")]
            while self.at_punct(","):
                self.advance()
                paths.append(self.modifier_path("DISTINCT"))
            self.expect_punct(")", "',' or ')' in DISTINCT(...)")
            return nodes.DistinctModifier(word.pos, tuple(paths))
        keys: list[tuple[nodes.KeyPath, bool]] = []
        while True:
            path = self.modifier_path("SORT")
            ascending = True
            if self.tok.is_word("ASC", "ASCENDING"):
                self.advance()
            elif self.tok.is_word("DESC", "DESCENDING"):
                ascending = False
                self.advance()
            keys.append((path, ascending))
            if self.at_punct(","):
                self.advance()
                continue
            break
        self.expect_punct(")", "ASC, DESC, ',' or ')' in SORT(...)")
        return nodes.SortModifier(word.pos, tuple(keys))

    def modifier_path(self, name: str) -> nodes.KeyPath:
        if self.tok.kind != ID:
            raise self.error(f"a key path in {name}(...)")
        return self.keypath()


def _pos(operand: nodes.Operand) -> int:
    return operand.pos
