"""A changeset the server stored but never acknowledged (the acknowledgement
was lost with a crash or a dropped connection), rebased by its client on
newer downloads and resent on that newer base: the server must recognise it
by (client file ident, client version) however the resend is split into
uploads, store it once, and lose nothing. Pumped in memory (sync_restart)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sync_restart import CrashNet

from studio.sync.history import ServerHistory
from studio.sync.protocol import SessionState


@pytest.mark.parametrize("lose_ack", ["crash", "drop"])
def test_stored_unacknowledged_changesets_resent_in_small_uploads_on_a_newer_base(
    lose_ack: str,
) -> None:
    net = CrashNet(["a", "b"])
    net.settle()
    a, b = net.clients["a"], net.clients["b"]
    base = net.history.latest_version
    net.drop("a")
    net.write("a")  # a-1 and a-2, made offline: uploaded together on the next bind
    net.write("a")
    net.write("b")  # b-1, in flight
    net.connect("a")
    net.deliver_up("a")  # bind
    net.deliver_down("a")  # ident: a uploads a-1 and a-2 on `base`
    net.deliver_up("b")  # b-1 is integrated first...
    net.commit()  # ... and stored; a's download of it is on its way
    net.deliver_up("a")  # a-1 and a-2 are integrated after it...
    net.commit()  # ... and stored; their acknowledgement is on its way
    assert [(e.origin_file_ident, e.client_version) for e in net.history.entries()][base:] == [
        (b.history.client_file_ident, 1),
        (a.history.client_file_ident, 1),
        (a.history.client_file_ident, 2),
    ]
    net.deliver_down("a")  # b-1 arrives: a rebases a-1 and a-2 onto it
    assert a.history.last_integrated_server_version == base + 1
    assert [c.client_version for c in a.history.pending] == [1, 2]
    # The acknowledgement never arrives.
    if lose_ack == "crash":
        net.crash()
    else:
        net.drop("a")
    # On the next bind a resends both, now on base + 1, one per upload.
    net.max_upload = 1
    net.write("a")
    net.settle()
    assert not net.errors(), net.errors()
    assert a.conn is not None and a.conn.session_state(a.session) is SessionState.BOUND
    net.check()  # no session error, each changeset stored once, replicas equal
    assert net.history.latest_version == base + 4


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("max_upload", [1, 3, 100])
def test_random_crashes_and_drops_lose_nothing_and_store_nothing_twice(
    seed: int, max_upload: int
) -> None:
    """Three clients write, upload and download while the server crashes and
    connections drop at random moments, with every frame ordering the
    durability barrier allows."""
    rng = random.Random(seed)
    net = CrashNet(["a", "b", "c"], max_upload=max_upload, max_download=3)
    for _ in range(400):
        net.step(rng, crash_weight=0.03)
        assert not net.errors(), net.errors()
    net.settle()
    net.check()


def test_a_long_resend_in_small_uploads_is_not_walked_once_per_upload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each walk over the history after the base costs as much as the history
    is long; a resend of N stored changesets in N uploads must not walk N
    times (with a list every client appends to, that stalled the server's
    event loop for tens of seconds after a restart)."""
    net = CrashNet(["a", "b"])
    net.settle()
    net.drop("a")
    for _ in range(20):
        net.write("a")
    net.write("b")
    net.connect("a")
    net.deliver_up("a")  # bind
    net.deliver_down("a")  # ident: the 20 go out in one upload
    net.deliver_up("b")
    net.commit()
    net.deliver_up("a")  # integrated after b-1 and stored...
    net.commit()
    net.deliver_down("a")  # ... a rebases them on b-1; the acknowledgement is lost:
    net.crash()
    net.max_upload = 1
    net.write("a")
    walks: list[int] = []
    walk = ServerHistory._foreign_since

    def counted(self: ServerHistory, *args: Any) -> Any:
        walks.append(1)
        return walk(self, *args)

    monkeypatch.setattr(ServerHistory, "_foreign_since", counted)
    net.settle()
    net.check()
    assert net.history.latest_version == 1 + 20 + 1  # b-1, a-1..20, a-21
    assert len(walks) <= 3, len(walks)  # was one per upload (21)
