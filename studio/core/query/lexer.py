"""Tokens of the Realm Query Language.

The lexer only splits the text; it does not decide what a word means. Keywords
(``AND``, ``SORT``, ``BEGINSWITH``...) are plain ``ID`` tokens that the parser
recognises by position, so a property may be called ``limit`` or ``desc``.
Every token keeps its 0-based offset for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from studio.core.errors import QueryError

# Token kinds.
ID = "identifier"          # name, keyword, or @-name such as @count
VAR = "variable"           # $x (a SUBQUERY variable)
ARG = "argument"           # $0
STRING = "string"          # '..' or ".." (text is the raw lexeme)
BASE64 = "base64"          # B64".."
NUMBER = "number"          # 12, -3, 0x1F
FLOAT = "float"            # 1.5, -2e10, .5
TIMESTAMP = "timestamp"    # T12:0, 2021-01-02@03:04:05[:nanos]
OID = "objectId"           # oid(...)
UUID = "uuid"              # uuid(...)
OP = "operator"            # == != < ... && || ! + - * /
MODIFIER = "[c]"           # [c] [d] [cd]
PUNCT = "punctuation"      # ( ) { } [ ] , .
END = "end of query"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    pos: int

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind == END:
            return "the end of the query"
        return repr(self.text)

    def is_word(self, *words: str) -> bool:
        """True for an identifier equal to one of ``words`` (given in upper case), any case."""
        return self.kind == ID and self.text.upper() in words


_HEX = "[0-9a-fA-F]"
# Order matters: longer and more specific forms first.
_PATTERNS: list[tuple[str, str]] = [
    (OID, rf"oid\(\s*(?:{_HEX}{{24}})\s*\)"),
    (UUID, rf"uuid\(\s*{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}\s*\)"),
    (BASE64, r'B64"[A-Za-z0-9+/=\s]*"'),
    (TIMESTAMP, r"T[+-]?\d+:[+-]?\d+(?![\w$])"),
    (TIMESTAMP, r"-?\d{1,6}-\d{1,2}-\d{1,2}[@T]\d{1,2}:\d{1,2}:\d{1,2}(?::\d+)?(?![\w$])"),
    (STRING, r'"(?:[^"\\]|\\.)*"'),
    (STRING, r"'(?:[^'\\]|\\.)*'"),
    (NUMBER, r"[+-]?0[xX][0-9a-fA-F]+(?![\w$])"),
    (FLOAT, r"[+-]?(?i:infinity|inf|nan)(?![\w$])"),
    (FLOAT, r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w$])"),
    (FLOAT, r"[+-]?\d+[eE][+-]?\d+(?![\w$])"),
    (NUMBER, r"[+-]?\d+(?![\w$])"),
    (ARG, r"\$\d+(?![\w$])"),
    (VAR, r"\$[^\W\d]\w*"),
    (MODIFIER, r"\[(?:[cC][dD]?|[dD][cC]?)\]"),
    (OP, r"==|=<|=>|<=|>=|!=|<>|&&|\|\||=|<|>|!|[+\-*/]"),
    (PUNCT, r"[(){}\[\],.]"),
    (ID, r"@?[^\W\d][\w\-]*|@\w+"),
]
_MASTER = re.compile(
    "|".join(f"(?P<t{i}>{pattern})" for i, (_, pattern) in enumerate(_PATTERNS))
)
_KINDS = [kind for kind, _ in _PATTERNS]
_SPACE = re.compile(r"\s*")


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens, ending with an ``END`` token."""
    tokens: list[Token] = []
    pos = _SPACE.match(query, 0).end()  # type: ignore[union-attr]
    length = len(query)
    while pos < length:
        match = _MASTER.match(query, pos)
        if match is None:
            raise QueryError(_bad_character(query, pos), pos, query)
        group = match.lastgroup
        assert group is not None
        kind = _KINDS[int(group[1:])]
        text = match.group()
        end = match.end()
        if kind == ID and end < length and (
            (query[end] == "(" and text in ("oid", "uuid")) or (query[end] == '"' and text == "B64")
        ):
            # The literal's own pattern did not match, so its contents are malformed.
            raise QueryError(_bad_character(query, pos), pos, query)
        tokens.append(Token(kind, text, pos))
        pos = _SPACE.match(query, match.end()).end()  # type: ignore[union-attr]
    tokens.append(Token(END, "", length))
    return tokens


def _bad_character(query: str, pos: int) -> str:
    char = query[pos]
    if char in "'\"":
        return f"unterminated string starting with {char}"
    if query.startswith(("oid(", "uuid("), pos):
        name = "oid" if query[pos] == "o" else "uuid"
        shape = "24 hex digits" if name == "oid" else "8-4-4-4-12 hex digits"
        return f"malformed {name}(...) literal; expected {name}(<{shape}>)"
    if query.startswith('B64"', pos):
        return 'malformed B64"..." literal; expected base64 characters between the quotes'
    if char == "$":
        return "expected an argument ($0, $1, ...) or a variable ($x) after '$'"
    return f"unexpected character {char!r}"
