"""The server window says what kind of client a connection is (its User-Agent, e.g.
the notifier's "studio-notifier/... (handlers: ...)") and with what access it bound."""

from __future__ import annotations

from studio.ui.server.connections_tab import CONNECTION_COLUMNS
from studio.ui.server.tails import SYNC_COLUMNS


def _column(columns: tuple, key: str):  # type: ignore[no-untyped-def]
    (found,) = [c for c in columns if c.key == key]
    return found


def test_the_connections_table_shows_the_client_label() -> None:
    record = {"id": 1, "address": "127.0.0.1", "agent": "studio-notifier/0.1.0 (handlers: m:f)"}
    assert _column(CONNECTION_COLUMNS, "agent").value(record) == record["agent"]


def test_sync_events_name_the_client_and_its_access() -> None:
    detail = _column(SYNC_COLUMNS, "detail")
    bound = {"type": "session_bound", "access": "admin", "agent": "studio-notifier/0.1.0"}
    assert detail.value(bound) == "bound with admin access by studio-notifier/0.1.0"
    assert detail.value({"type": "session_bound", "access": "read"}) == "bound with read access"
    opened = {"type": "connection_opened", "address": "10.0.0.5", "agent": "Studio/1"}
    assert detail.value(opened) == "connection opened from 10.0.0.5 (Studio/1)"
