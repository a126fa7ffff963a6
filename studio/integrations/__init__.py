"""Server-side helpers that connect realms to other backends (REST APIs, queues, PostgreSQL)."""

from __future__ import annotations
