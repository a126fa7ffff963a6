"""The PostgreSQL data adapter (docs/adapter.md): needs the ``postgres`` extra (psycopg)."""

from __future__ import annotations

from studio.integrations.adapter.adapter import PostgresAdapter

__all__ = ["PostgresAdapter"]
