"""Uploads are checked against the realm's schema before they are stored
(issue 12): a raw client sends each kind of bad instruction through a real
server; its session ends with a clear, non-retryable error, nothing of the
upload is stored, and a good client on the same realm keeps syncing. Also
the clock-skew rule (a changeset stamped far ahead is refused) with a
convergence check."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from server_harness import (
    SCHEMA,
    RawClient,
    admin_token,
    call,
    item,
    running_server,
    until,
)

from studio.primitives.instructions import (
    AddClass,
    AddProperty,
    CreateObject,
    Instruction,
    Link,
    ListInsert,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.sync.protocol import ErrorCode

PATH = "/shared/checked"

# SCHEMA (server_harness) has Item(_id int, name string?, n int?) and
# Counter(_id string, value int?); these add a list, a set and a link.
EXTRA: tuple[Instruction, ...] = (
    AddProperty("Item", "tags", "string[]"),
    AddProperty("Item", "labels", "string<>"),
    AddProperty("Item", "counter", "Counter?", object_type="Counter"),
    AddClass("Note", "_id", "string", False, False),
    AddProperty("Note", "text", "string"),
)

BAD: list[tuple[str, list[Instruction], int, str]] = [
    ("unknown class", [CreateObject("Horse", 1)], ErrorCode.SCHEMA_VIOLATION,
     "class Horse does not exist"),
    ("unknown property", [SetValue("Item", 1, ("colour",), "red")], ErrorCode.SCHEMA_VIOLATION,
     "class Item has no property 'colour'"),
    ("wrong type", [SetValue("Item", 1, ("name",), 42)], ErrorCode.SCHEMA_VIOLATION,
     "Item.name is string?: expected a string, got int 42"),
    ("null into non-nullable", [CreateObject("Note", "x"), SetValue("Note", "x", ("text",), None)],
     ErrorCode.SCHEMA_VIOLATION, "Note.text is string, not nullable"),
    ("list op on a scalar", [ListInsert("Item", 1, ("name",), 0, "x")],
     ErrorCode.SCHEMA_VIOLATION, "Item.name is string?, not a list"),
    ("wrong collection kind", [SetInsert("Item", 1, ("tags",), "x")],
     ErrorCode.SCHEMA_VIOLATION, "Item.tags is string[], not a set"),
    ("link to wrong class", [SetValue("Item", 1, ("counter",), Link("Item", 1))],
     ErrorCode.SCHEMA_VIOLATION, "Item.counter is Counter?: a link to Item does not fit"),
    ("wrong primary key type", [CreateObject("Item", "one")], ErrorCode.SCHEMA_VIOLATION,
     "primary key 'one' (str) does not fit Item, whose primary key is int"),
    ("conflicting AddProperty", [AddProperty("Item", "n", "string")],
     ErrorCode.INVALID_SCHEMA_CHANGE, "property Item.n already exists as int?"),
]


async def _history_length(url: str, token: str) -> int:
    status, body = await call(url, "GET", f"/admin/realms/history?path={PATH}", token=token)
    assert status == 200, body
    return len(body["changesets"])


def test_each_kind_of_bad_upload_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            token = await admin_token(server.url)
            good = await RawClient(server.url, token, PATH, "good").connect()
            await good.wait_bound()
            await good.commit([*SCHEMA, *EXTRA])
            await good.commit(item(1, "first"))
            await good.sync()
            stored = await _history_length(server.url, token)
            for n, (kind, instructions, code, expected) in enumerate(BAD):
                bad = await RawClient(server.url, token, PATH, f"bad{n}").connect()
                await bad.wait_bound()
                await bad.wait_version(stored)
                bad_changeset = await bad.commit(instructions, apply=False)
                await until(lambda b=bad: bool(b.errors), what=f"{kind} refused")  # type: ignore[misc]
                error = bad.errors[0]
                assert error.code == code, (kind, error)
                assert not error.try_again, kind
                assert expected in error.message, (kind, error.message)
                assert f"changeset {bad_changeset.client_version}, instruction" in error.message
                assert await _history_length(server.url, token) == stored, kind
                # The good client on the same realm goes on syncing.
                await good.commit(item(100 + n, kind))
                await good.sync()
                stored += 1
                assert await _history_length(server.url, token) == stored
                assert not good.errors
                await bad.close()
            # A new device downloads the realm and ends in the good client's state.
            fresh = await RawClient(server.url, token, PATH, "fresh").connect()
            await fresh.wait_bound()
            await fresh.wait_version(stored)
            await until(lambda: fresh.canonical() == good.canonical(), what="fresh converges")
            assert not fresh.errors
            await fresh.close()
            await good.close()

    asyncio.run(body())


class SkewedClient(RawClient):
    """A device whose clock is ``skew_ms`` ahead."""

    skew_ms = 0

    def _next_time(self) -> int:
        return super()._next_time() + self.skew_ms


def test_a_client_far_ahead_in_time_is_refused_and_the_rest_converge(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path, max_clock_skew=60.0) as server:
            token = await admin_token(server.url)
            a = await RawClient(server.url, token, PATH, "a").connect()
            await a.wait_bound()
            await a.commit(SCHEMA)
            await a.commit(item(1, "a's"))
            await a.sync()
            ahead = SkewedClient(server.url, token, PATH, "ahead")
            ahead.skew_ms = 24 * 3600 * 1000  # one day ahead
            near = SkewedClient(server.url, token, PATH, "near")
            near.skew_ms = 30 * 1000  # within the allowed 60 s
            for c in (ahead, near):
                await c.connect()
                await c.wait_bound()
                await c.wait_version(2)
            # Both edit the field a edits; ahead would win every conflict.
            await ahead.commit([SetValue("Item", 1, ("name",), "ahead's")])
            await until(lambda: bool(ahead.errors), what="ahead refused")
            error = ahead.errors[0]
            assert error.code == ErrorCode.CLOCK_SKEW and not error.try_again
            assert "ahead of the server's clock" in error.message
            assert "at most 60 s allowed" in error.message
            # a and near edit it concurrently (a offline meanwhile).
            a.offline()
            await a.commit([SetValue("Item", 1, ("name",), "a's again")])
            await near.commit([SetValue("Item", 1, ("name",), "near's")])
            await near.sync()
            await a.connect()
            await a.sync()
            assert await _history_length(server.url, token) == 4  # ahead's is not there
            await until(lambda: a.canonical() == near.canonical(), what="a and near converge")
            fresh = await RawClient(server.url, token, PATH, "fresh").connect()
            await fresh.wait_bound()
            await fresh.wait_version(4)
            await until(lambda: fresh.canonical() == a.canonical(), what="fresh converges")
            # near's write is 30 s "later" than a's: last writer wins, on every replica.
            assert a.plain()["Item"][1]["name"] == "near's"
            assert fresh.plain()["Item"][1]["name"] == "near's"
            for c in (a, ahead, near, fresh):
                await c.close()

    asyncio.run(body())


def test_max_clock_skew_flag() -> None:
    from studio.server.config import parse_config
    from studio.server.errors import ConfigError

    assert parse_config(["--data", "d"]).max_clock_skew == 300.0
    assert parse_config(["--data", "d", "--max-clock-skew", "5"]).max_clock_skew == 5.0
    with pytest.raises(ConfigError, match="--max-clock-skew"):
        parse_config(["--data", "d", "--max-clock-skew", "-1"])


def test_schema_added_by_an_earlier_upload_is_known_after_a_restart(tmp_path: Path) -> None:
    """The schema is rebuilt from the stored history when a realm is loaded."""

    async def body() -> None:
        async with running_server(tmp_path) as server:
            token = await admin_token(server.url)
            a = await RawClient(server.url, token, PATH, "a").connect()
            await a.wait_bound()
            await a.commit([*SCHEMA, *EXTRA])
            await a.sync()
            await a.close()
        async with running_server(tmp_path) as server:
            token = await admin_token(server.url)
            b = await RawClient(server.url, token, PATH, "b").connect()
            await b.wait_bound()
            await b.wait_version(1)
            await b.commit([CreateObject("Note", "n"), SetValue("Note", "n", ("text",), "hi")])
            await b.sync()
            await b.commit([CreateObject("Note", 5)], apply=False)
            await until(lambda: bool(b.errors), what="b refused")
            assert b.errors[0].code == ErrorCode.SCHEMA_VIOLATION
            assert await _history_length(server.url, token) == 2
            await b.close()

    started = time.monotonic()
    asyncio.run(body())
    assert time.monotonic() - started < 30
