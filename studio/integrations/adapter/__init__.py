"""The PostgreSQL data adapter (docs/adapter.md); it needs the ``postgres`` extra (psycopg).

``PostgresAdapter`` is loaded on first use, so that ``studio --help`` lists
``studio adapter`` without psycopg or the sync client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.integrations.adapter.adapter import PostgresAdapter


def __getattr__(name: str) -> Any:
    if name != "PostgresAdapter":
        raise AttributeError(f"module 'studio.integrations.adapter' has no attribute {name!r}")
    return importlib.import_module("studio.integrations.adapter.adapter").PostgresAdapter


__all__ = ["PostgresAdapter"]
