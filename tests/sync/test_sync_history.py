"""Server history (versions, integration, idempotent resends, compaction) and
its client-side counterpart."""

from __future__ import annotations

import pytest
from oracles import model

from studio.primitives.instructions import (
    AddClass,
    AddProperty,
    Changeset,
    CreateObject,
    Instruction,
    ListInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.sync.client_history import ClientHistory
from studio.sync.errors import (
    ChangesetError,
    HistoryCompactedError,
    MergeError,
    RemoteProtocolError,
)
from studio.sync.history import RemoteChangeset, ServerHistory

C = "Item"


def put(name: str, value: object, pk: int = 1) -> SetValue:
    return SetValue(C, pk, (name,), value)


def cs(origin: int, version: int, base: int, ts: int, *ins: Instruction) -> Changeset:
    return Changeset(origin, version, base, ts, tuple(ins))


@pytest.fixture
def server() -> ServerHistory:
    history = ServerHistory()
    a = history.allocate_file_ident()
    history.integrate(a, [cs(a, 1, 0, 0, CreateObject(C, 1), ListInsert(C, 1, ("tags",), 0, "x"))])
    return history


def state_of(history: ServerHistory) -> model.State:
    state = model.State()
    for entry in history.entries():
        model.apply(state, entry.changeset)
    return state


def test_versions_are_consecutive_and_record_their_origin(server: ServerHistory) -> None:
    b = server.allocate_file_ident()
    result = server.integrate(
        b, [cs(b, 1, 1, 5, put("x", 1)), cs(b, 2, 1, 6, put("x", 2))], now_ms=99
    )
    assert [e.server_version for e in result.entries] == [2, 3]
    assert server.latest_version == 3
    entry = server.entry(3)
    assert (entry.origin_file_ident, entry.client_version, entry.timestamp_ms) == (b, 2, 6)
    assert entry.integrated_at_ms == 99
    assert entry.changeset.last_integrated_server_version == 2
    assert result.last_client_version == 2


def test_changesets_since_can_exclude_an_origin(server: ServerHistory) -> None:
    b, c = server.allocate_file_ident(), server.allocate_file_ident()
    server.integrate(b, [cs(b, 1, 1, 5, put("x", 1))])
    server.integrate(c, [cs(c, 1, 2, 6, put("y", 1))])
    assert [e.server_version for e in server.changesets_since(1)] == [2, 3]
    assert [e.origin_file_ident for e in server.changesets_since(1, exclude_origin=b)] == [c]
    assert server.changesets_since(3) == []


def test_upload_is_transformed_against_concurrent_changesets(server: ServerHistory) -> None:
    b, c = server.allocate_file_ident(), server.allocate_file_ident()
    server.integrate(b, [cs(b, 1, 1, 10, ListInsert(C, 1, ("tags",), 0, "b"))])
    # c did not see b's insert (based on version 1): its index 1 must shift.
    result = server.integrate(c, [cs(c, 1, 1, 20, ListInsert(C, 1, ("tags",), 1, "c"))])
    assert result.entries[0].changeset.instructions == (ListInsert(C, 1, ("tags",), 2, "c"),)
    assert model.to_plain(state_of(server))[C][1]["tags"] == ["b", "x", "c"]


def test_reupload_of_integrated_changesets_is_ignored(server: ServerHistory) -> None:
    b = server.allocate_file_ident()
    upload = [cs(b, 1, 1, 5, put("x", 1)), cs(b, 2, 1, 6, put("x", 2))]
    server.integrate(b, upload)
    again = server.integrate(b, upload)
    assert again.entries == () and again.skipped == 2 and again.last_client_version == 2
    assert server.latest_version == 3
    # A resend that adds a new one integrates only the new one.
    more = server.integrate(b, [*upload, cs(b, 3, 1, 7, put("x", 3))])
    assert [e.client_version for e in more.entries] == [3] and more.skipped == 2


def test_pipelined_uploads_on_one_base(server: ServerHistory) -> None:
    b, c = server.allocate_file_ident(), server.allocate_file_ident()
    server.integrate(c, [cs(c, 1, 1, 1, ListInsert(C, 1, ("tags",), 0, "c"))])
    # b sent two uploads on base 1 without waiting; the second must see the first.
    server.integrate(b, [cs(b, 1, 1, 2, ListInsert(C, 1, ("tags",), 0, "b1"))])
    server.integrate(b, [cs(b, 2, 1, 3, ListInsert(C, 1, ("tags",), 0, "b2"))])
    # c is the earliest of the three inserts at 0, so it comes first.
    assert model.to_plain(state_of(server))[C][1]["tags"] == ["c", "b2", "b1", "x"]


def test_upload_on_a_newer_base_must_resend_in_flight_changesets(server: ServerHistory) -> None:
    b, c = server.allocate_file_ident(), server.allocate_file_ident()
    server.integrate(c, [cs(c, 1, 1, 3, put("y", 1))])  # version 2
    server.integrate(b, [cs(b, 1, 1, 2, put("x", 1))])  # version 3, based on 1
    # b downloaded version 2 and moved on without resending its changeset 1
    # (unacknowledged from its point of view): the server does not have that
    # changeset as based on version 2.
    with pytest.raises(ChangesetError, match="resend it") as info:
        server.integrate(b, [cs(b, 2, 2, 4, put("x", 2))])
    assert info.value.code == 209
    # ... whereas resending it works.
    server.integrate(b, [cs(b, 1, 2, 2, put("x", 1)), cs(b, 2, 2, 4, put("x", 2))])
    assert server.latest_version == 4


def test_a_resend_that_differs_from_what_was_integrated_is_rejected(server: ServerHistory) -> None:
    b, c = server.allocate_file_ident(), server.allocate_file_ident()
    server.integrate(c, [cs(c, 1, 1, 3, put("y", 1))])
    server.integrate(b, [cs(b, 1, 1, 2, put("x", 1))])
    with pytest.raises(ChangesetError, match="differs"):
        server.integrate(b, [cs(b, 1, 2, 2, put("x", 999)), cs(b, 2, 2, 4, put("x", 2))])


@pytest.mark.parametrize(
    ("upload", "fragment", "code"),
    [
        ([cs(7, 1, 1, 1)], "origin 7", 217),
        ([cs(2, 2, 1, 1), cs(2, 1, 1, 1)], "must increase", 210),
        ([cs(2, 1, 1, 1), cs(2, 2, 0, 1)], "same server version", 209),
        ([cs(2, 1, 5, 1)], "latest is 1", 209),
    ],
)
def test_bad_uploads_are_rejected(
    server: ServerHistory, upload: list[Changeset], fragment: str, code: int
) -> None:
    server.allocate_file_ident()  # ident 2
    with pytest.raises(ChangesetError, match=fragment) as info:
        server.integrate(2, upload)
    assert info.value.code == code
    assert server.latest_version == 1


def test_unknown_client_is_rejected(server: ServerHistory) -> None:
    with pytest.raises(ChangesetError, match="unknown client"):
        server.integrate(42, [cs(42, 1, 1, 1)])


def test_schema_must_agree_with_integrated_schema(server: ServerHistory) -> None:
    b, c = server.allocate_file_ident(), server.allocate_file_ident()
    server.integrate(
        b,
        [cs(b, 1, 1, 1, AddClass("P", "_id", "int", False, False), AddProperty("P", "age", "int"))],
    )
    # Not concurrent (c saw b's version), but different: still rejected.
    with pytest.raises(MergeError, match=r"P\.age"):
        server.integrate(c, [cs(c, 1, 2, 2, AddProperty("P", "age", "string"))])
    with pytest.raises(MergeError, match="class 'P'"):
        server.integrate(c, [cs(c, 1, 2, 2, AddClass("P", "_id", "string", False, False))])
    # Identical re-adds are fine; a failed upload left nothing behind.
    server.integrate(c, [cs(c, 1, 2, 2, AddClass("P", "_id", "int", False, False))])
    assert server.latest_version == 3


def test_integration_is_all_or_nothing(server: ServerHistory) -> None:
    b = server.allocate_file_ident()
    with pytest.raises(MergeError):
        server.integrate(
            b,
            [
                cs(b, 1, 1, 1, AddProperty("P", "a", "int")),
                cs(b, 2, 1, 2, AddProperty("P", "a", "bool")),
            ],
        )
    assert server.latest_version == 1
    assert server.last_client_version(b) == 0


def test_download_reports_own_changesets_integrated_before_each_entry(
    server: ServerHistory,
) -> None:
    b, c = server.allocate_file_ident(), server.allocate_file_ident()
    server.integrate(b, [cs(b, 1, 1, 1, put("x", 1))])  # v2
    server.integrate(c, [cs(c, 1, 1, 2, put("y", 1))])  # v3
    server.integrate(b, [cs(b, 2, 1, 3, put("x", 2))])  # v4
    server.integrate(c, [cs(c, 2, 3, 4, put("y", 2))])  # v5
    batch = server.download(b, 1)
    assert [(r.server_version, r.last_integrated_client_version) for r in batch.changesets] == [
        (3, 1),
        (5, 2),
    ]
    assert (batch.server_version, batch.upload_ack) == (5, 2)
    limited = server.download(b, 1, max_changesets=1)
    assert [r.server_version for r in limited.changesets] == [3]
    assert (limited.server_version, limited.upload_ack) == (4, 2)
    with pytest.raises(ChangesetError, match="does not exist yet"):
        server.download(b, 9)


def test_compaction_keeps_recent_versions_and_refuses_older_bases(server: ServerHistory) -> None:
    b = server.allocate_file_ident()
    for n in range(1, 5):
        server.integrate(b, [cs(b, n, n, n, put("x", n))])
    server.compact_before(4)
    assert server.base_version == 3
    assert [e.server_version for e in server.entries()] == [4, 5]
    assert server.entry(5).client_version == 4
    assert server.last_client_version(b) == 4
    with pytest.raises(HistoryCompactedError) as info:
        server.download(b, 2)
    assert info.value.code == 223
    with pytest.raises(HistoryCompactedError):
        server.integrate(b, [cs(b, 5, 2, 9, put("x", 0))])
    batch = server.download(b, 3)
    assert batch.upload_ack == 4 and batch.server_version == 5
    server.integrate(b, [cs(b, 5, 5, 9, put("x", 0))])
    assert server.latest_version == 6


def test_record_progress_forgets_originals_it_no_longer_needs(server: ServerHistory) -> None:
    b, c = server.allocate_file_ident(), server.allocate_file_ident()
    server.integrate(b, [cs(b, 1, 1, 1, put("x", 1))])  # v2, base 1
    server.integrate(c, [cs(c, 1, 1, 2, put("y", 1))])  # v3
    server.record_progress(b, 3)
    assert server.client_progress(b) == 3
    server.integrate(b, [cs(b, 2, 3, 3, put("x", 2))])  # nothing of b's after 3: fine
    assert server.latest_version == 4


# --------------------------------------------------------------------------- client side


def test_client_history_numbers_and_stamps_local_changesets() -> None:
    history = ClientHistory()
    first = history.commit([put("x", 1)], 10)
    assert (first.client_version, first.origin_file_ident) == (1, 0)
    history.set_file_ident(5)
    assert history.pending[0].origin_file_ident == 5
    second = history.commit([put("x", 2)], 11)
    assert (second.client_version, second.origin_file_ident) == (2, 5)
    with pytest.raises(ValueError):
        history.add_local(cs(5, 2, 0, 0))


def test_client_transforms_download_against_pending_changes() -> None:
    history = ClientHistory(2, last_integrated_server_version=1)
    history.commit([ListInsert(C, 1, ("tags",), 0, "mine")], 10)
    remote = RemoteChangeset(2, 0, cs(3, 1, 1, 5, ListInsert(C, 1, ("tags",), 0, "theirs")))
    out = history.integrate_download([remote], 2, 0)
    # Theirs is earlier: it goes before mine, i.e. at 0 in my list [mine, x].
    assert out[0].instructions == (ListInsert(C, 1, ("tags",), 0, "theirs"),)
    assert history.pending[0].instructions == (ListInsert(C, 1, ("tags",), 1, "mine"),)
    assert history.pending[0].last_integrated_server_version == 2
    assert history.last_integrated_server_version == 2


def test_client_drops_own_changesets_the_server_integrated_first() -> None:
    history = ClientHistory(2, last_integrated_server_version=1)
    history.commit([put("x", "mine")], 10)
    history.commit([put("y", "mine")], 11)
    # Server: our cv1 at version 2, then a foreign Set x at version 3 (later).
    remote = RemoteChangeset(3, 1, cs(3, 1, 2, 50, put("x", "theirs")))
    out = history.integrate_download([remote], 3, 1)
    assert out[0].instructions == (put("x", "theirs"),)  # not transformed against cv1
    assert [c.client_version for c in history.pending] == [2]
    assert history.last_acked_client_version == 1


def test_client_rejects_inconsistent_downloads_without_changing() -> None:
    history = ClientHistory(2, last_integrated_server_version=4)
    history.commit([put("x", 1)], 10)
    bad = [
        ([RemoteChangeset(4, 0, cs(3, 1, 3, 1))], 4, 0, "already at 4"),
        ([RemoteChangeset(5, 9, cs(3, 1, 4, 1))], 5, 0, "latest local one is 1"),
        ([RemoteChangeset(6, 0, cs(3, 1, 5, 1))], 5, 0, "behind"),
        ([], 5, 3, "acknowledged client version 3"),
    ]
    for changesets, version, ack, fragment in bad:
        with pytest.raises(RemoteProtocolError, match=fragment):
            history.integrate_download(changesets, version, ack)
        assert history.last_integrated_server_version == 4
        assert len(history.pending) == 1


def test_client_schema_conflict_leaves_history_unchanged() -> None:
    history = ClientHistory(2, last_integrated_server_version=1)
    history.commit([AddProperty("P", "a", "int")], 10)
    remote = RemoteChangeset(2, 0, cs(3, 1, 1, 5, AddProperty("P", "a", "string")))
    with pytest.raises(MergeError):
        history.integrate_download([remote], 2, 0)
    assert history.last_integrated_server_version == 1
    assert history.pending[0].instructions == (AddProperty("P", "a", "int"),)


def test_acknowledge_pops_pending() -> None:
    history = ClientHistory(2)
    for n in range(3):
        history.commit([put("x", n)], n)
    history.acknowledge(2)
    assert [c.client_version for c in history.pending] == [3]
    assert history.unacknowledged_since(2) == history.pending
    with pytest.raises(RemoteProtocolError):
        history.acknowledge(4)


def test_pending_changesets_are_based_on_the_latest_download_when_read() -> None:
    history = ClientHistory(2, last_integrated_server_version=1)
    for n in range(4):
        history.commit([put("x", n)], n)
    # Ack-only downloads move the base past our own changesets, several times.
    history.integrate_download([], 3, 1)
    history.integrate_download([], 5, 2)
    history.commit([put("x", 9)], 9)  # queued on the newest base
    sent = history.unacknowledged_since(3)
    assert [(c.client_version, c.last_integrated_server_version) for c in sent] == [(4, 5), (5, 5)]
    assert [(c.client_version, c.last_integrated_server_version) for c in history.pending] == [
        (3, 5), (4, 5), (5, 5)
    ]
    # A download with changes transforms the pending ones on top of the new base.
    remote = RemoteChangeset(6, 2, cs(3, 1, 5, 50, put("y", "theirs")))
    history.integrate_download([remote], 6, 2)
    assert {c.last_integrated_server_version for c in history.pending} == {6}
    assert [c.instructions for c in history.pending] == [
        (put("x", 2),), (put("x", 3),), (put("x", 9),)
    ]
