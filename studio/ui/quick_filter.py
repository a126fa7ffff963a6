"""The quick filter row under the column names: what is typed in a column's box becomes
Realm Query Language, written into the query bar and run, so the query is in view
(and learned).

Per box (:func:`filter_term`):

* text in a string column: ``name CONTAINS[c] "text"``;
* a number, bool, date, objectId or uuid: ``age == 5``;
* an operator first (``=``, ``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``) compares with
  it: ``> 5`` is ``age > 5``, ``= Ann`` is ``name == "Ann"``;
* ``null`` (or ``nil``) is null: ``age == null``, ``!= null`` not null (in a string
  column only after an operator: there bare text is always searched).

The boxes' terms are joined with AND. A query that did not come from the boxes (typed
in the bar, picked from the history, back and forward) empties them.

Realm's query language keeps a string exactly as written between its quotes (it has
no escapes), so a value is quoted with the quote character it does not contain
(:func:`string_literal`); a value the language cannot write (both quote characters, or
a backslash that would read as an escape) is said in place instead of being run
wrongly.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from studio.core.schema import Property
from studio.ui import formatting as fmt
from studio.ui.query_bar import DEBOUNCE_MS

if TYPE_CHECKING:
    from studio.ui.browser import RealmBrowser
    from studio.ui.column_header import ColumnHeader

# What Realm's lexer accepts after a backslash in a string (it keeps them as written).
_ESCAPABLE = frozenset("'\"\\/bfnrt0")
_UNICODE_ESCAPE = re.compile(r"u[0-9a-fA-F]{4}")
_OPERATOR = re.compile(r"\s*(==|=<|=>|<=|>=|!=|<>|=|<|>)\s*(.*)", re.DOTALL)
_OPERATORS = {"=": "==", "<>": "!=", "=>": ">=", "=<": "<="}
_NAME = re.compile(r"[^\W\d][\w\-]*")
_NULL_WORDS = ("null", "nil")
_TYPED = frozenset({"int", "float", "double", "decimal128", "bool", "date", "objectId",
                    "uuid"})
INVALID_STYLE = "QLineEdit { border: 2px solid #d32f2f; }"


class QuickFilterError(ValueError):
    """A box holds text that makes no query; the text says why."""


def _fits(text: str, quote: str) -> bool:
    """Would ``quote + text + quote`` lex as one string literal meaning ``text``?"""
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            rest = text[i + 1:]
            if _UNICODE_ESCAPE.match(rest):
                i += 6
                continue
            if not rest or rest[0] not in _ESCAPABLE:
                return False
            i += 2
            continue
        if char == quote:
            return False
        i += 1
    return True


def string_literal(text: str) -> str:
    """``text`` as a string literal of Realm's query language (see the module docstring)."""
    for quote in ('"', "'"):
        if _fits(text, quote):
            return quote + text + quote
    raise QuickFilterError(
        "the query language cannot write this text (it has both ' and \", or a backslash "
        "that would read as an escape); filter on a part of it")


def date_literal(value: datetime) -> str:
    """A date in UTC (a naive one is taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    nanos = value.microsecond * 1000
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d}@{value.hour:02d}:"
            f"{value.minute:02d}:{value.second:02d}" + (f":{nanos}" if nanos else ""))


def value_literal(type_name: str, value: Any) -> str:
    """A parsed value as a literal."""
    if value is None:
        return "null"
    if type_name == "bool":
        return "true" if value else "false"
    if type_name == "date":
        return date_literal(value)
    if type_name == "objectId":
        return f"oid({value})"
    if type_name == "uuid":
        return f"uuid({value})"
    if type_name in ("float", "double"):
        return repr(float(value))
    return str(value)


def why_not_filterable(prop: Property | None) -> str:
    """"" when a column can be filtered from its box; else why not (the box's tooltip)."""
    if prop is None:
        return "A dictionary's keys are not filtered here"
    if not _NAME.fullmatch(prop.name):
        return "Write a query for this property (its name needs care in a query)"
    if prop.is_backlink or prop.collection is not None or prop.type in ("object", "mixed",
                                                                        "data"):
        return (f"No quick filter for {fmt.type_label(prop)}: write a query, e.g. "
                f"{prop.name}.@count > 0")
    if prop.type != "string" and prop.type not in _TYPED:
        return f"No quick filter for {prop.type}: write a query"
    return ""


def filter_term(prop: Property, text: str) -> str:
    """The query of one box (see the module docstring); "" for an empty box."""
    if not text.strip():
        return ""
    why_not = why_not_filterable(prop)
    if why_not:
        raise QuickFilterError(why_not)
    name = prop.name
    match = _OPERATOR.fullmatch(text)
    operator = _OPERATORS.get(match.group(1), match.group(1)) if match else ""
    value_text = match.group(2).strip() if match else text.strip()
    if value_text.lower() in _NULL_WORDS and (operator or prop.type != "string"):
        if operator not in ("", "==", "!="):
            raise QuickFilterError(f"{name}: null can only be compared with == or !=")
        if not prop.optional:
            raise QuickFilterError(f"{name} is never null ({fmt.type_label(prop)})")
        return f"{name} {operator or '=='} null"
    if prop.type == "string":
        if not operator:
            return f"{name} CONTAINS[c] {string_literal(text)}"
        return f"{name} {operator} {string_literal(match.group(2) if match else text)}"
    if not value_text:
        raise QuickFilterError(f"{name}: type a value after {operator}")
    try:
        value = fmt.parse_value(prop.type, value_text, False)
    except ValueError as exc:
        raise QuickFilterError(f"{name}: {exc}") from None
    return f"{name} {operator or '=='} {value_literal(prop.type, value)}"


def build_query(terms: list[tuple[Property, str]]) -> str:
    """The boxes' terms joined with AND (raises QuickFilterError naming a bad box)."""
    parts = [filter_term(prop, text) for prop, text in terms]
    return " AND ".join(p for p in parts if p)


class QuickFilter(QObject):
    """Runs the filter row of a browser's table through its query bar."""

    def __init__(self, browser: RealmBrowser, header: ColumnHeader,
                 debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(browser)
        self.browser = browser
        self.header = header
        header.filterable = why_not_filterable
        # The window's shortcuts (Ctrl+G, Ctrl+E ...) work while a box has the focus.
        header.filtersRebuilt.connect(lambda: browser.shortcut_guard.guard(*header.filters))
        header.sync_filters()
        browser.shortcut_guard.guard(*header.filters)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(debounce_ms)
        self.timer.timeout.connect(self.apply)
        header.filterEdited.connect(lambda _c, _t: self.timer.start())
        header.filterSubmitted.connect(self.apply)
        browser.viewShown.connect(lambda _spec: self.update_shown())
        self.last_query: str | None = None  # what the row wrote into the query bar

    def update_shown(self) -> None:
        """Filters for views that take queries: a class's objects (not a collection)."""
        spec = self.browser.current_spec
        shown = bool(spec is not None and spec.kind == "class"
                     and self.browser.supports_queries)
        self.header.set_filters_shown(shown)
        self.header.sync_filters()
        query = spec.query if spec is not None else ""
        if query != (self.last_query or "") and not self.timer.isActive():
            # Another query (typed in the bar, from the history, back or forward): the
            # boxes no longer describe the view.
            for box in self.header.filters:
                box.clear()
                box.setStyleSheet("")
            self.last_query = None

    def query(self) -> str:
        """The query of the boxes; a bad box is marked and its error raised."""
        terms: list[tuple[Property, str]] = []
        for column, box in enumerate(self.header.filters):
            box.setStyleSheet("")
            box.setToolTip("")
            prop = self.header.section_property(column)
            if prop is None or not box.isEnabled() or not box.text().strip():
                continue
            try:
                filter_term(prop, box.text())
            except QuickFilterError as exc:
                box.setStyleSheet(INVALID_STYLE)
                box.setToolTip(str(exc))
                raise
            terms.append((prop, box.text()))
        return build_query(terms)

    def apply(self) -> bool:
        """Write the boxes' query into the query bar and run it (False: a box is wrong,
        the message bar says which)."""
        self.timer.stop()
        try:
            query = self.query()
        except QuickFilterError as exc:
            text = str(exc)
            self.browser.show_message(text[:1].upper() + text[1:], "error", topic="filter")
            return False
        self.browser.message_bar.clear("filter")
        self.last_query = query
        edit = self.browser.query_edit
        edit.set_query(query)
        edit.submit()
        return True

    def clear(self) -> None:
        for box in self.header.filters:
            box.clear()
        self.apply()
