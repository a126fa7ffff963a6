"""ServerHistory.download against a plain reference (one walk over the
entries after the client's version): the same batches for any mix of
clients, limits, stopping points and compaction floors."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.primitives.instructions import Changeset, CreateObject
from studio.sync.history import ServerHistory


def reference(
    history: ServerHistory, ident: int, since: int, limit: int | None, until: int | None
) -> tuple[list[tuple[int, int, Changeset]], int, int]:
    """The download as one walk over the entries after ``since``."""
    last_cv = history.client_version_at(ident, since)
    out: list[tuple[int, int, Changeset]] = []
    version = since
    for entry in history.entries():
        if entry.server_version <= since:
            continue
        if until is not None and entry.server_version > until:
            break
        if entry.origin_file_ident == ident:
            last_cv = entry.client_version
        else:
            if limit is not None and len(out) >= limit:
                break
            out.append((entry.server_version, last_cv, entry.changeset))
        version = entry.server_version
    return out, version, last_cv


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    uploads=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), min_size=0, max_size=12),
    compact_at=st.integers(0, 10),
    data=st.data(),
)
def test_download_matches_the_walk_over_every_entry(
    uploads: list[tuple[int, int]], compact_at: int, data: Any
) -> None:
    history = ServerHistory()
    idents = [history.allocate_file_ident() for _ in range(3)]
    versions = dict.fromkeys(idents, 0)
    for who, count in uploads:
        ident = idents[who]
        base = history.latest_version
        batch = []
        for _ in range(count):
            versions[ident] += 1
            key = ident * 1000 + versions[ident]
            batch.append(Changeset(ident, versions[ident], base, 0, (CreateObject("Item", key),)))
        history.integrate(ident, batch)
    if 0 < compact_at <= history.latest_version:
        history.compact(compact_at)
    floor, latest = history.base_version, history.latest_version
    for ident in [*idents, 99]:  # 99: an ident that has uploaded nothing
        since = data.draw(st.integers(floor, latest))
        limit = data.draw(st.one_of(st.none(), st.integers(0, 5)))
        until = data.draw(st.one_of(st.none(), st.integers(0, latest + 1)))
        batch = history.download(ident, since, limit, until)
        changesets, version, ack = reference(history, ident, since, limit, until)
        assert [tuple(c) for c in batch.changesets] == changesets
        assert (batch.server_version, batch.upload_ack) == (version, ack)
