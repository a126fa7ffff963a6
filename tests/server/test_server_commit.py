"""The commit thread: group commit, the durability barrier, failures."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from studio.primitives.instructions import Changeset, CreateObject
from studio.server.durability import Committer
from studio.server.metrics import Summary
from studio.server.realms import LoadedRealm
from studio.server.storage.base import ClientIdent, RealmWrite
from studio.sync.history import ServerHistory


class SlowStore:
    """Records what is stored; the first store waits until released (a
    slow fsync), and stores of ``fail_path`` raise."""

    def __init__(self, fail_path: str | None = None) -> None:
        self.calls: list[tuple[str, list[tuple[int, str]]]] = []
        self.release = threading.Event()
        self.started = threading.Event()
        self.fail_path = fail_path

    def __call__(self, realm: LoadedRealm, write: RealmWrite) -> None:
        self.started.set()
        self.release.wait(10)
        if realm.path == self.fail_path:
            raise OSError("disk full")
        self.calls.append((realm.path, [(i.ident, i.user) for i in write.new_idents]))


TIMING = Summary("commit", "test")


def realm(path: str) -> LoadedRealm:
    return LoadedRealm(path, store=None, history=ServerHistory())  # type: ignore[arg-type]


def change(target: LoadedRealm, ident: int) -> None:
    target.add_ident(ClientIdent(ident, f"user{ident}", f"id{ident}", ident))


def test_writes_handed_over_during_a_commit_go_into_the_next_one() -> None:
    async def body() -> None:
        store = SlowStore()
        failures: list[Any] = []
        committer = Committer(store, lambda r, e: failures.append((r, e)), TIMING)
        a, b = realm("/a"), realm("/b")
        change(a, 1)
        first = committer.note(a)
        await asyncio.to_thread(store.started.wait, 10)  # the commit of `first` runs
        change(a, 2)
        change(b, 3)
        change(a, 4)
        committer.note(a)
        committer.note(b)
        last = committer.note(a)
        assert not committer.is_durable(first)
        assert a.dirty and b.dirty
        store.release.set()
        await asyncio.wait_for(committer.wait(last), 10)
        assert committer.durable == last == 4
        # One commit for the first write, then one per realm for the rest.
        assert store.calls == [
            ("/a", [(1, "user1")]),
            ("/a", [(2, "user2"), (4, "user4")]),
            ("/b", [(3, "user3")]),
        ]
        assert not a.dirty and not b.dirty and not failures
        await committer.drain()
        committer.close()

    asyncio.run(body())


def test_a_failed_write_is_reported_and_nothing_after_it_is_stored() -> None:
    async def body() -> None:
        store = SlowStore(fail_path="/bad")
        store.release.set()
        failures: list[tuple[LoadedRealm, BaseException]] = []
        committer = Committer(store, lambda r, e: failures.append((r, e)), TIMING)
        bad, good = realm("/bad"), realm("/good")
        change(bad, 1)
        change(good, 2)
        committer.note(bad)
        seq = committer.note(good)
        await asyncio.wait_for(committer.wait(seq), 10)
        assert [(r.path, str(e)) for r, e in failures] == [("/bad", "disk full")]
        assert store.calls == [("/good", [(2, "user2")])]
        # Later changes of the failed realm would follow a gap: never stored.
        store.fail_path = None
        change(bad, 3)
        seq = committer.note(bad)
        await asyncio.wait_for(committer.wait(seq), 10)
        assert store.calls == [("/good", [(2, "user2")])]
        assert len(failures) == 1  # reported once
        # The same path loaded again (a new realm object) stores normally.
        again = realm("/bad")
        change(again, 4)
        seq = committer.note(again)
        await asyncio.wait_for(committer.wait(seq), 10)
        assert store.calls[-1] == ("/bad", [(4, "user4")])
        committer.close()

    asyncio.run(body())


def test_stored_realms_advance_their_durable_version_and_are_announced() -> None:
    async def body() -> None:
        history = ServerHistory()
        ident = history.allocate_file_ident()
        target = LoadedRealm("/r", store=None, history=history)  # type: ignore[arg-type]
        announced: list[int] = []
        store = SlowStore(fail_path="/never")
        store.release.set()
        committer = Committer(
            store,
            lambda r, e: None,
            TIMING,
            on_stored=lambda r, settled: announced.append(r.durable_version),
        )
        result = history.integrate(ident, [Changeset(ident, 1, 0, 5, (CreateObject("A", 1),))])
        target.add_entries(result.entries, "ann", ident)
        assert target.durable_version == 0
        seq = committer.note(target)
        await asyncio.wait_for(committer.wait(seq), 10)
        assert target.durable_version == 1 and announced == [1]
        # A commit without new changesets (a new client ident) announces nothing.
        change(target, 9)
        seq = committer.note(target)
        await asyncio.wait_for(committer.wait(seq), 10)
        assert announced == [1]
        committer.close()

    asyncio.run(body())


def test_durable_callbacks_run_once_stored_in_order_after_failures_are_handled() -> None:
    """What the connections write from (SyncConnection._write_ready): a
    callback runs in the loop step that learns its sequence number is stored,
    never before, in sequence order, after a failed realm was reported (its
    frames dropped) and after the stored realms were announced."""

    async def body() -> None:
        store = SlowStore(fail_path="/bad")
        events: list[str] = []
        committer = Committer(
            store,
            lambda r, e: events.append(f"failed {r.path}"),
            TIMING,
            on_stored=lambda r, settled: events.append(f"stored {r.path}"),
        )
        good, bad = realm("/good"), realm("/bad")
        history = ServerHistory()
        ident = history.allocate_file_ident()
        good.history = history
        result = history.integrate(ident, [Changeset(ident, 1, 0, 5, (CreateObject("A", 1),))])
        good.add_entries(result.entries, "ann", ident)
        first = committer.note(good)
        await asyncio.to_thread(store.started.wait, 10)  # its commit runs
        change(bad, 2)
        second = committer.note(bad)  # the next commit's
        committer.call_when_durable(second, lambda: events.append(f"durable {second}"))
        committer.call_when_durable(first, lambda: events.append(f"durable {first}"))
        await asyncio.sleep(0.05)
        assert events == []  # the store has not returned: nothing may leave
        store.release.set()
        await asyncio.wait_for(committer.drain(), 10)
        assert events == [
            "stored /good",
            f"durable {first}",
            "failed /bad",  # its connections aborted (frames dropped) ...
            f"durable {second}",  # ... before anything waiting for it runs
        ]
        # Registered for what is stored already: called at once.
        committer.call_when_durable(first, lambda: events.append("at once"))
        assert events[-1] == "at once"
        committer.close()

    asyncio.run(body())
