"""Studio: an offline-first object database with real-time sync, and the desktop tool to
look inside it."""

from __future__ import annotations

__version__ = "0.1.0"
