"""Pieces of the cluster that need no database: the NOTIFY channel's
messages (studio/server/storage/cluster_messages.py), and the nodes' view."""

from __future__ import annotations

import json

import pytest

from studio.server.cluster import node_view
from studio.server.storage.cluster_messages import (
    MAX_PAYLOAD,
    AccessChanged,
    ForwardedEvents,
    LeaseReleased,
    LeaseWanted,
    ListenerCount,
    RealmDeleted,
    VersionStored,
    encode_message,
    pack_events,
    parse_message,
)
from studio.server.storage.errors import ClusterPayloadError
from studio.server.storage.postgres_cluster import NodeRow


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


@pytest.mark.parametrize(
    "message",
    [
        VersionStored("n1", 7, 12345),
        LeaseWanted("n-2", 3),
        LeaseReleased("n1", 3),
        ListenerCount("n1", 0),
        ForwardedEvents("n1", ({"type": "upload", "realm": "/a b"}, {"type": "log"})),
        AccessChanged("n1", "/shared/a b", "ann"),
        AccessChanged("n1", None, "bob"),
        AccessChanged("n1", "/x", None),
        RealmDeleted("n1", '/~/a "quoted" path'),
    ],
)
def test_every_message_reads_back_as_written(message: object) -> None:
    assert parse_message(encode_message(message)) == message  # type: ignore[arg-type]


def test_packed_events_read_back_as_forwarded_events() -> None:
    events = [{"type": "upload", "n": i} for i in range(3)]
    (payload,) = pack_events("n1", events)
    assert parse_message(payload) == ForwardedEvents("n1", tuple(events))


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ("", "names no sending node"),
        ("v", "names no sending node"),
        ("v n1", "expected 2 non-negative integers"),
        ("v n1 7", "expected 2 non-negative integers"),
        ("v n1 7 x", "expected 2 non-negative integers"),
        ("v n1 7 -3", "expected 2 non-negative integers"),
        ("v n1 7 8 9", "expected 2 non-negative integers"),
        ("w n1 ", "expected 1 non-negative integer after"),
        ("r n1 1e3", "expected 1 non-negative integer after"),
        ("s n1 many", "expected 1 non-negative integer after"),
        ("e n1 [{", "what follows the node is not JSON"),
        ("e n1 {}", "expected a JSON list of events"),
        ("e n1 [1, 2]", "expected a JSON list of events"),
        ('e n1 [{"no": "type"}]', 'each an object with a "type" string'),
        ("q n1 1", "unknown kind 'q'"),
        ("a n1 {", "what follows the node is not JSON"),
        ('a n1 {"path": "/p"}', '"path": ..., "user": ...'),
        ('a n1 {"path": 3, "user": null}', "each a string or null"),
        ("x n1 null", "the realm's path as a JSON string"),
    ],
)
def test_a_malformed_payload_is_refused_with_what_was_wrong(payload: str, says: str) -> None:
    with pytest.raises(ClusterPayloadError, match=says.replace("[", r"\[")):
        parse_message(payload)
