"""Realm Query Language: parsing, compiling to SQL, and the query plan of a Results."""

from __future__ import annotations

from studio.core.query.plan import QueryPlan, SortKey

__all__ = ["QueryPlan", "SortKey"]
