"""Pieces of studio/server/cluster.py that need no database: admin events
packed into NOTIFY payloads, and the nodes' view."""

from __future__ import annotations

import json

from studio.server.cluster import node_view, pack_events
from studio.server.storage.postgres_cluster import MAX_PAYLOAD, NodeRow


def _unpack(payloads: list[str]) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for payload in payloads:
        kind, node, body = payload.split(" ", 2)
        assert (kind, node) == ("e", "n1")
        events.extend(json.loads(body))
    return events


def test_events_are_packed_into_payloads_that_fit_and_keep_their_order() -> None:
    events = [{"type": "upload", "n": i, "text": "x" * 300} for i in range(100)]
    payloads = pack_events("n1", events)
    assert len(payloads) > 1
    assert all(len(p.encode()) <= MAX_PAYLOAD for p in payloads)
    assert _unpack(payloads) == events


def test_an_event_too_large_for_a_payload_is_replaced_by_a_note() -> None:
    events = [{"type": "log", "text": "y" * 10_000}, {"type": "upload", "n": 1}]
    payloads = pack_events("n1", events)
    assert all(len(p.encode()) <= MAX_PAYLOAD for p in payloads)
    assert _unpack(payloads) == [{"type": "event_too_large", "event": "log"}, events[1]]


def test_node_view_says_whether_the_heartbeat_is_recent() -> None:
    row = NodeRow("n1", "http://h:1", 42, "h", 1000.0, 1100.0, 3, 4, 2, 0, "1.0")
    fresh = node_view(row, 1102.0, this=True)
    assert fresh["alive"] and fresh["this"] and fresh["uptime"] == 102.0
    assert (fresh["connections"], fresh["sessions"], fresh["realms"]) == (3, 4, 2)
    stale = node_view(row, 1110.0, this=False)
    assert not stale["alive"] and stale["heartbeat_age"] == 10.0
