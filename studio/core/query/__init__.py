"""Realm Query Language: parsing, compiling to SQL, and the query plan of a Results.

Importing this package registers the SQL functions the compiled queries use
(see :mod:`studio.core.query.functions`) as a connection hook of the store.
"""

from __future__ import annotations

from studio.core.query import functions as _functions  # noqa: F401  (registers SQL functions)
from studio.core.query.plan import QueryPlan, SortKey

__all__ = ["QueryPlan", "SortKey"]
