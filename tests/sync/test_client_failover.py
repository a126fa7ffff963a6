"""A client of several servers (``App([url1, url2])``): which server it uses,
moving on when one fails, and the backoff between attempts. Sans-I/O parts
with a fixed random draw; the connection loop with a fake connect and the
loop's clock. (tests/e2e/test_e2e_client_failover.py does it with real
server processes.)"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from studio.sync.client import App, SyncConfig, User
from studio.sync.client import http as client_http
from studio.sync.client.config import Backoff
from studio.sync.client.connection import AppConnection
from studio.sync.client.errors import ApiError, ServerUnreachableError
from studio.sync.client.servers import ServerList, SyncTargets, split_urls

A, B, C = "http://a:9080", "http://b:9080", "http://c:9080"


def test_urls_from_a_list_or_a_comma_separated_string() -> None:
    assert split_urls([A, B + "/"]) == [A, B]
    assert split_urls(f"{A}, {B},{C}") == [A, B, C]
    assert split_urls([f"{A},{B}", C, A]) == [A, B, C]  # each once, first place kept
    with pytest.raises(ValueError, match="at least one server URL"):
        split_urls([])
    with pytest.raises(ValueError, match=r"http\(s\)://host:port"):
        split_urls([A, "b:9080"])


def test_an_app_of_several_servers_is_known_by_the_first() -> None:
    app = App([A, B], config=SyncConfig(watch_files=False))
    assert app.base_url == A
    assert app.servers.urls == (A, B)
    assert app.sync_url == "ws://a:9080/sync"
    assert repr(app) == f"<App {A}, {B}>"


def test_each_failure_moves_on_and_backs_off_until_a_bind() -> None:
    # rng() == 1: every delay is the full ceiling, initial * 2**n
    targets = SyncTargets(ServerList([A, B, C]), Backoff(0.25, 2.0, rng=lambda: 1.0))
    assert targets.url == "ws://a:9080/sync"
    seen = []
    for _ in range(5):
        url = targets.url
        seen.append((url, targets.failed(url)))
    assert seen == [
        ("ws://a:9080/sync", 0.25),
        ("ws://b:9080/sync", 0.5),
        ("ws://c:9080/sync", 1.0),
        ("ws://a:9080/sync", 2.0),
        ("ws://b:9080/sync", 2.0),  # at most reconnect_max
    ]
    assert targets.url == "ws://c:9080/sync"
    targets.bound()  # C works: the next failure waits the least again
    assert targets.failed(targets.url) == 0.25
    assert targets.url == "ws://a:9080/sync"


def test_a_stale_failure_does_not_skip_a_server() -> None:
    """An HTTP call moved on from A already; the websocket's failure on A
    that comes after must not move on from B too."""
    servers = ServerList([A, B, C])
    targets = SyncTargets(servers, Backoff(0.25, 2.0, rng=lambda: 1.0))
    servers.move_on(A)
    targets.failed("ws://a:9080/sync")
    assert servers.current == B


def test_one_server_is_tried_again_with_the_usual_backoff() -> None:
    targets = SyncTargets(ServerList(A), Backoff(0.25, 30.0, rng=lambda: 0.0))
    delays = [targets.failed(targets.url) for _ in range(4)]
    assert delays == [0.125, 0.25, 0.5, 1.0]  # half the ceiling: the jitter's low end
    assert targets.url == "ws://a:9080/sync"


class FakeHttp:
    """Stands in for http.request: each base URL answers as told."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, method: str, url: str, body: Any = None, **_: Any) -> Any:
        self.calls.append(url)
        base = url[: url.index("/", len("http://"))]
        answer = self.answers[base]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_http_calls_move_on_from_an_unreachable_or_unavailable_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeHttp({
        A: ServerUnreachableError("cannot reach a"),
        B: ApiError(503, "unavailable", "no database"),
        C: {"status": "ok"},
    })  # fmt: skip
    monkeypatch.setattr(client_http, "request", fake)
    servers = ServerList([A, B, C])
    assert asyncio.run(servers.request("GET", "/health")) == {"status": "ok"}
    assert fake.calls == [f"{A}/health", f"{B}/health", f"{C}/health"]
    assert servers.current == C  # the next call starts there
    fake.calls.clear()
    asyncio.run(servers.request("GET", "/health"))
    assert fake.calls == [f"{C}/health"]


def test_a_real_answer_is_not_retried_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused password is the answer, not a failure of the server."""
    fake = FakeHttp({A: ServerUnreachableError("down"), B: ApiError(401, "bad_credentials", "no")})
    monkeypatch.setattr(client_http, "request", fake)
    servers = ServerList([A, B, C])
    with pytest.raises(ApiError, match="no"):
        asyncio.run(servers.request("POST", "/auth/login", {}))
    assert fake.calls == [f"{A}/auth/login", f"{B}/auth/login"]
    assert servers.current == B


def test_when_no_server_answers_the_last_error_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeHttp({A: ServerUnreachableError("a down"), B: ServerUnreachableError("b down")})
    monkeypatch.setattr(client_http, "request", fake)
    with pytest.raises(ServerUnreachableError, match="b down"):
        asyncio.run(ServerList([A, B]).request("GET", "/health"))


def test_login_and_refresh_go_to_the_server_that_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    login = {
        "user": {"username": "ann", "is_admin": False},
        "access_token": "t1",
        "refresh_token": "r1",
        "expires_in": 900,
    }
    fake = FakeHttp({A: ServerUnreachableError("down"), B: login})
    monkeypatch.setattr(client_http, "request", fake)

    async def main() -> User:
        app = App([A, B], config=SyncConfig(watch_files=False))
        user = await app.login("ann", "pw")
        assert app.servers.current == B
        # B dies and A is back: the refresh finds A.
        fake.answers = {A: {**login, "access_token": "t2"}, B: ServerUnreachableError("down")}
        await user.refresh()
        await app.close()
        return user

    user = asyncio.run(main())
    assert user.access_token == "t2"
    assert fake.calls[-2:] == [f"{B}/auth/refresh", f"{A}/auth/refresh"]
    assert user.base_url == A


def test_the_sync_connection_tries_the_servers_in_turn_with_growing_delays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The connection loop with a connect that always fails (as to servers
    that are down): it alternates between the servers, and the time between
    attempts (the loop's clock) follows the backoff."""
    attempts: list[tuple[str, float]] = []

    async def refused(self: AppConnection, url: str) -> None:
        attempts.append((url, asyncio.get_running_loop().time()))

    monkeypatch.setattr(AppConnection, "_connect_and_serve", refused)
    monkeypatch.setattr(AppConnection, "_active", lambda self: [object()])

    async def main() -> None:
        config = SyncConfig(reconnect_initial=0.02, reconnect_max=0.16, watch_files=False)
        conn = AppConnection(ServerList([A, B]), config)
        task = asyncio.get_running_loop().create_task(conn._run())
        while len(attempts) < 6:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.wait([task])

    asyncio.run(main())
    urls = [u for u, _ in attempts[:6]]
    assert urls == ["ws://a:9080/sync", "ws://b:9080/sync"] * 3
    gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(attempts[:6])]
    # each wait is between half and all of 0.02 * 2**n (at most 0.16)
    ceilings = [0.02, 0.04, 0.08, 0.16, 0.16]
    # (lower bounds only: a loaded machine may wake the loop late, never early)
    for gap, ceiling in zip(gaps, ceilings, strict=True):
        assert ceiling / 2 - 0.005 <= gap, (gaps, ceilings)
