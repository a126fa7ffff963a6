"""The messages server processes send each other on the ``studio_cluster``
NOTIFY channel (docs/server.md "Several processes"), in one place: what
each says, how it is written and how it is read.

A payload is ``<kind> <node> <rest>``; the node is the sender's id, so a
process can skip its own messages. Anybody who can connect to the database
can NOTIFY this channel, so :func:`parse_message` treats a payload as a
peer's data: anything malformed raises :class:`ClusterPayloadError` saying
what was wrong, and the listener logs it and goes on (one bad payload must
not stop a process from following the others).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from studio.server.storage.errors import ClusterPayloadError

MAX_PAYLOAD: Final = 7900
"""Bytes of one NOTIFY payload (PostgreSQL's limit is 8000)."""


@dataclass(frozen=True)
class VersionStored:
    """``v``: an append stored the realm's history up to ``version`` (the
    realm's id, not its path: a path may be longer than a payload)."""

    node: str
    realm_id: int
    version: int


@dataclass(frozen=True)
class LeaseWanted:
    """``w``: ``node`` waits for the realm's lease (its holder ends its turn)."""

    node: str
    realm_id: int


@dataclass(frozen=True)
class LeaseReleased:
    """``r``: ``node`` gave the realm's lease up."""

    node: str
    realm_id: int


@dataclass(frozen=True)
class ListenerCount:
    """``s``: how many admin event subscribers ``node`` has (the others
    forward their events while anyone listens anywhere)."""

    node: str
    count: int


@dataclass(frozen=True)
class ForwardedEvents:
    """``e``: admin events of ``node``, in their order."""

    node: str
    events: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class AccessChanged:
    """``a``: an admin changed a permission, or a user (suspended, deleted,
    made admin or not) on ``node``: the others re-decide their sessions of
    ``path`` and/or ``user`` (None: any)."""

    node: str
    path: str | None
    user: str | None


@dataclass(frozen=True)
class RealmDeleted:
    """``x``: an admin deleted the realm at ``path`` on ``node``: the others
    end its sessions and drop what they hold of it."""

    node: str
    path: str


ClusterMessage = (
    VersionStored
    | LeaseWanted
    | LeaseReleased
    | ListenerCount
    | ForwardedEvents
    | AccessChanged
    | RealmDeleted
)


def encode_message(message: ClusterMessage) -> str:
    """The payload of one message (events: use :func:`pack_events`, which
    splits them to fit)."""
    match message:
        case VersionStored(node, realm_id, version):
            return f"v {node} {realm_id} {version}"
        case LeaseWanted(node, realm_id):
            return f"w {node} {realm_id}"
        case LeaseReleased(node, realm_id):
            return f"r {node} {realm_id}"
        case ListenerCount(node, count):
            return f"s {node} {count}"
        case ForwardedEvents(node, events):
            return f"e {node} " + json.dumps(list(events), default=str, separators=(",", ":"))
        case AccessChanged(node, path, user):
            # Paths and user names are short (paths.py): a payload always fits.
            return f"a {node} " + json.dumps({"path": path, "user": user})
        case RealmDeleted(node, path):
            return f"x {node} " + json.dumps(path)


def pack_events(node: str, events: list[dict[str, Any]]) -> list[str]:
    """Events as few ``e`` payloads as fit (an event too big for one alone
    is replaced by a note saying so)."""
    prefix = f"e {node} "
    payloads: list[str] = []
    batch: list[str] = []
    size = len(prefix) + 2
    for event in events:
        # ensure_ascii (the default): a character is a byte, so len() is the size.
        text = json.dumps(event, default=str, separators=(",", ":"))
        if len(text) + len(prefix) + 2 > MAX_PAYLOAD:
            text = json.dumps({"type": "event_too_large", "event": event.get("type")})
        if batch and size + len(text) + 1 > MAX_PAYLOAD:
            payloads.append(prefix + "[" + ",".join(batch) + "]")
            batch, size = [], len(prefix) + 2
        batch.append(text)
        size += len(text) + 1
    if batch:
        payloads.append(prefix + "[" + ",".join(batch) + "]")
    return payloads


def parse_message(payload: str) -> ClusterMessage:
    """The message a payload carries; :class:`ClusterPayloadError` if it is
    not one this version writes."""
    kind, _, rest = payload.partition(" ")
    node, _, body = rest.partition(" ")
    if not node:
        raise ClusterPayloadError(f"cluster payload {payload[:80]!r} names no sending node")
    if kind == "v":
        realm_id, version = _integers(payload, body, 2)
        return VersionStored(node, realm_id, version)
    if kind == "w":
        (realm_id,) = _integers(payload, body, 1)
        return LeaseWanted(node, realm_id)
    if kind == "r":
        (realm_id,) = _integers(payload, body, 1)
        return LeaseReleased(node, realm_id)
    if kind == "s":
        (count,) = _integers(payload, body, 1)
        return ListenerCount(node, count)
    if kind == "e":
        return ForwardedEvents(node, _events(payload, body))
    if kind == "a":
        scope = _json(payload, body)
        if (
            not isinstance(scope, dict)
            or set(scope) != {"path", "user"}
            or not all(v is None or isinstance(v, str) for v in scope.values())
        ):
            raise ClusterPayloadError(
                f'cluster payload {payload[:80]!r}: expected {{"path": ..., "user": ...}}, '
                "each a string or null"
            )
        return AccessChanged(node, scope["path"], scope["user"])
    if kind == "x":
        path = _json(payload, body)
        if not isinstance(path, str):
            raise ClusterPayloadError(
                f"cluster payload {payload[:80]!r}: expected the realm's path as a JSON string"
            )
        return RealmDeleted(node, path)
    raise ClusterPayloadError(
        f"cluster payload {payload[:80]!r} has unknown kind {kind!r} "
        "(expected v, w, r, s, e, a or x; is a newer server version on this database?)"
    )


def _integers(payload: str, body: str, count: int) -> tuple[int, ...]:
    parts = body.split()
    if len(parts) != count or not all(p.isdigit() for p in parts):
        raise ClusterPayloadError(
            f"cluster payload {payload[:80]!r}: expected {count} non-negative "
            f"integer{'s' if count > 1 else ''} after the node"
        )
    return tuple(int(p) for p in parts)


def _json(payload: str, body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ClusterPayloadError(
            f"cluster payload {payload[:80]!r}: what follows the node is not JSON ({exc})"
        ) from None


def _events(payload: str, body: str) -> tuple[dict[str, Any], ...]:
    events = _json(payload, body)
    if not isinstance(events, list) or not all(
        isinstance(e, dict) and isinstance(e.get("type"), str) for e in events
    ):
        raise ClusterPayloadError(
            f"cluster payload {payload[:80]!r}: expected a JSON list of events, "
            'each an object with a "type" string'
        )
    return tuple(events)
