"""Full-text search: ``prop TEXT 'word -excluded prefix*'``.

Only on a string property declared with ``"indexed": "full-text"``: its FTS5 table
(docs/storage-layout.md) holds the property's words, tokenised as Realm does:
runs of letters and digits, case- and diacritics-insensitive. The search text
follows realm-core's ``Tokenizer::get_search_tokens``: words are separated by
white space; every word must occur; ``-word`` excludes objects holding the word;
``word*`` matches words that start with it; a word may not contain a separator
inside (``foo-bar`` is an error, as in Realm), and a word cannot be both included
and excluded.
"""

from __future__ import annotations

import re
import unicodedata

from studio.core.query import nodes
from studio.core.query.context import Cond, Context, ObjectCursor, Scope
from studio.core.query.paths import resolve_value
from studio.core.query.types import Const
from studio.core.storage import fulltext_table

_WORD_RUN = re.compile(r"[^\W_]+")


def text_search(ctx: Context, node: nodes.Comparison, right: Const, scope: Scope) -> Cond:
    """``node.left TEXT right`` as a lookup in the property's FTS5 table."""
    path = node.left
    cursor = scope.default_cursor
    if not isinstance(path, nodes.KeyPath) or path.quantifier is not None or (
        len(path.elements) != 1 or path.elements[0].subscript is not None
    ) or not isinstance(cursor, ObjectCursor):
        raise ctx.error(
            "TEXT needs a full-text indexed property of the queried objects on its left "
            "(not a link path, a collection or a constant)",
            node.pos,
        )
    name = path.elements[0].name
    prop = ctx.schema[cursor.class_name].get(name)
    if prop is None or not prop.fulltext:
        raise ctx.error(
            f"TEXT needs a full-text index: declare {cursor.class_name}.{name} with "
            '"indexed": "full-text" in the schema',
            node.pos,
        )
    if right.kind != "string":
        raise ctx.error("TEXT needs a string of words to search for", right.pos)
    includes, excludes = search_terms(ctx, str(right.value), right.pos)
    fts = fulltext_table(cursor.class_name, name)
    lookup = f"(SELECT rowid FROM {fts} WHERE {fts} MATCH ?)"
    key = cursor.key_sql
    if includes:
        match = " AND ".join(includes)
        if excludes:
            match = f"({match}) NOT ({' OR '.join(excludes)})"
        return Cond(f"{key} IN {lookup}", [match], False)
    value = resolve_value(ctx, path, scope)
    return Cond(f"({value.sql} IS NOT NULL AND {key} NOT IN {lookup})",
                [*value.params, " OR ".join(excludes)], False)


def search_terms(ctx: Context, text: str, pos: int) -> tuple[list[str], list[str]]:
    """The FTS5 terms of a search text: (included, excluded), each a quoted FTS5 string
    (``"word"``, prefix ``"word"*``)."""
    includes: list[str] = []
    excludes: list[str] = []
    seen_in: set[str] = set()
    seen_out: set[str] = set()
    for word in text.split():
        excluded = word.startswith("-")
        body = word[1:] if excluded else word
        runs = _WORD_RUN.findall(body)
        if not runs:
            continue
        if len(runs) > 1:
            raise ctx.error(
                f"search word {word!r} has a separator inside; TEXT words are letters and "
                "digits only (search for the parts as separate words)",
                pos,
            )
        token = runs[0]
        folded = _fold(token)
        if excluded:
            if folded in seen_in:
                raise ctx.error(f"cannot include and exclude the same word {token!r}", pos)
            seen_out.add(folded)
            excludes.append(f'"{token}"')
        else:
            if folded in seen_out:
                raise ctx.error(f"cannot include and exclude the same word {token!r}", pos)
            seen_in.add(folded)
            includes.append(f'"{token}"*' if body.endswith("*") else f'"{token}"')
    if not includes and not excludes:
        raise ctx.error("TEXT needs at least one word to search for", pos)
    return includes, excludes


def _fold(token: str) -> str:
    decomposed = unicodedata.normalize("NFD", token.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
