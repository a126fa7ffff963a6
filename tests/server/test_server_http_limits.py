"""HTTP limits: hostile bodies and fields, login lockout per (address, name),
slowloris (header and body timeouts), connections per address, and the
permissions answer that must not reveal which user names exist."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from server_harness import admin_token, call, make_user, running_server
from server_process import ADMIN_PASSWORD

from studio.server import Server
from studio.server.config import HttpLimits
from studio.server.connection_guard import address_key
from studio.server.json_body import MAX_JSON_DEPTH, MAX_NUMBER_CHARS

OTHER_ADDRESS = "127.0.0.2"  # Linux routes all of 127/8 to loopback


async def post_raw(
    url: str, path: str, data: bytes, local: str | None = None
) -> tuple[int, Any]:
    connector = aiohttp.TCPConnector(local_addr=(local, 0) if local else None)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(url + path, data=data, headers={"Content-Type": "application/json"}) as resp,
    ):
        return resp.status, await resp.json()


async def login_from(url: str, username: str, password: str, local: str | None) -> tuple[int, Any]:
    body = json.dumps({"username": username, "password": password}).encode()
    return await post_raw(url, "/auth/login", body, local)


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    logger = logging.getLogger("studio.server")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


# ---------------------------------------------------------------------------- bodies and fields


def test_hostile_json_bodies_get_a_clear_400_on_every_route(tmp_path: Path) -> None:
    bodies = {
        "5,000 digits": b'{"username": ' + b"9" * 5000 + b', "password": "x"}',
        "100,000 deep": b"[" * 100_000 + b"]" * 100_000,
        "object 100,000 deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "deeper than the limit": b'{"a":' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}",
        "long float": b'{"a": 1.' + b"5" * MAX_NUMBER_CHARS + b"}",
        "NaN": b'{"a": NaN}',
        "not UTF-8": b'{"username": "\xff\xfe"}',
        "not JSON": b"{username",
        "not an object": b"[1, 2]",
    }

    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            for path in ("/auth/login", "/auth/refresh", "/admin/users", "/admin/realms"):
                for what, data in bodies.items():
                    headers = {"Authorization": f"Bearer {admin}"}
                    async with (
                        aiohttp.ClientSession() as session,
                        session.post(url + path, data=data, headers=headers) as resp,
                    ):
                        answer = await resp.json()
                    assert resp.status == 400, (path, what, answer)
                    assert answer["error"]["code"] == "bad_request", (path, what)
                    assert answer["error"]["message"], (path, what)
            status, health = await call(url, "GET", "/health")
            assert status == 200 and health["status"] == "ok"

    asyncio.run(body())


def test_an_oversized_body_is_refused_before_it_is_read(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            limit = server.config.limits.max_http_body
            status, err = await post_raw(server.url, "/auth/login", b" " * (limit + 1))
            assert status == 413 and err["error"]["code"] == "too_large"

    asyncio.run(body())


def test_overlong_login_fields_are_refused_unhashed_uncounted_and_clipped_in_the_log(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            with captured_logs() as records:
                for _ in range(20):
                    status, err = await login_from(url, "n" * 1_000_000, "pw", None)
                    assert status == 400 and "username is too long" in err["error"]["message"]
                status, err = await login_from(url, "admin", "p" * 100_000, None)
                assert status == 400 and "password is too long" in err["error"]["message"]
                status, err = await call(url, "POST", "/auth/login", {"username": 12})
                assert status == 400 and "username must be" in err["error"]["message"]
            assert server.ctx.login_throttle.tracked == 0  # nothing kept of them
            assert records
            for record in records:
                fields = getattr(record, "fields", {})
                assert len(json.dumps(fields, default=str)) < 600, fields
            # The throttle was not touched: the right password still works.
            status, _ = await login_from(url, "admin", ADMIN_PASSWORD, None)
            assert status == 200
            # An empty password is a wrong one, as it always was.
            status, err = await login_from(url, "admin", "", None)
            assert status == 401 and err["error"]["code"] == "bad_credentials"

    asyncio.run(body())


# ---------------------------------------------------------------------------- lockout


def test_limits_count_ipv6_clients_by_their_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert address_key("10.0.0.1") == "10.0.0.1"
    assert address_key("fe80::1%eth0") == "fe80::/64"
    assert address_key("unknown") == "unknown"



def test_failed_logins_from_one_address_do_not_lock_the_owner_out_elsewhere(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            throttle = server.ctx.login_throttle
            clock = [1000.0]
            throttle.clock = lambda: clock[0]
            for _ in range(throttle.free_failures):
                status, _ = await login_from(url, "admin", "guess", OTHER_ADDRESS)
                assert status == 401
            status, err = await login_from(url, "admin", ADMIN_PASSWORD, OTHER_ADDRESS)
            assert status == 429 and err["error"]["code"] == "too_many_attempts"
            assert OTHER_ADDRESS in err["error"]["message"]
            # The owner, from another address, gets in at once.
            status, tokens = await login_from(url, "admin", ADMIN_PASSWORD, "127.0.0.1")
            assert status == 200 and tokens["user"]["username"] == "admin"
            # ... and that success does not unlock the attacker's address.
            status, _ = await login_from(url, "admin", ADMIN_PASSWORD, OTHER_ADDRESS)
            assert status == 429
            clock[0] += 1.0
            status, _ = await login_from(url, "admin", ADMIN_PASSWORD, OTHER_ADDRESS)
            assert status == 200

    asyncio.run(body())


# ---------------------------------------------------------------------------- permissions


def test_a_realm_owner_cannot_tell_which_user_names_exist(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            await make_user(url, admin, "bob")
            ann = await make_user(url, admin, "ann")
            answers = []
            for name in ("bob", "ghost"):
                grant = {"path": "/~/diary", "username": name, "level": "read"}
                answers.append(await call(url, "PUT", "/admin/permissions", grant, ann))
            assert answers[0][0] == answers[1][0] == 200
            assert {**answers[0][1], "username": "?"} == {**answers[1][1], "username": "?"}
            status, listing = await call(
                url, "GET", "/admin/permissions?path=/~/diary", token=ann
            )
            assert status == 200
            assert listing["permissions"] == [
                {"username": "bob", "level": "read"},
                {"username": "ghost", "level": "read"},
            ]
            # A server admin may list users anyway: told plainly.
            grant = {"path": "/u/ann/diary", "username": "nobody", "level": "read"}
            status, err = await call(url, "PUT", "/admin/permissions", grant, admin)
            assert status == 404 and err["error"]["code"] == "not_found"

    asyncio.run(body())


# ---------------------------------------------------------------------------- slowloris


async def read_all(reader: asyncio.StreamReader, timeout: float) -> bytes:
    async with asyncio.timeout(timeout):
        return await reader.read()


async def open_raw(server: Server, local: str | None = None) -> tuple[Any, Any]:
    return await asyncio.open_connection(
        "127.0.0.1", server.port, local_addr=(local, 0) if local else None
    )


def test_a_request_head_that_never_ends_is_closed_and_others_are_served(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        http = HttpLimits(header_timeout=0.5)
        async with running_server(tmp_path, http=http) as server:
            started = time.monotonic()
            half, half_writer = await open_raw(server)
            half_writer.write(b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Le")
            silent, silent_writer = await open_raw(server)
            # Meanwhile everybody else is served.
            for _ in range(3):
                status, _ = await call(server.url, "GET", "/health")
                assert status == 200
            answer = await read_all(half, 10)
            assert answer.startswith(b"HTTP/1.1 408 ")
            assert b"request_timeout" in answer
            assert await read_all(silent, 10) == b""  # closed without a word
            assert 0.4 < time.monotonic() - started < 5
            for writer in (half_writer, silent_writer):
                writer.close()

    asyncio.run(body())


def test_the_watchdog_rearms_for_each_request_of_a_keepalive_connection(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        http = HttpLimits(header_timeout=0.5)
        async with running_server(tmp_path, http=http) as server:
            reader, writer = await open_raw(server)
            request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
            for _ in range(3):  # slower in total than the timeout, each one quick
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200 ")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                await asyncio.sleep(0.3)
            writer.write(b"GET /health HTTP/1.1\r\n")  # half of the next one
            answer = await read_all(reader, 10)
            assert answer.startswith(b"HTTP/1.1 408 ")
            writer.close()

    asyncio.run(body())


def test_a_body_that_never_ends_gets_408(tmp_path: Path) -> None:
    async def body() -> None:
        http = HttpLimits(body_timeout=0.5)
        async with running_server(tmp_path, http=http) as server:
            reader, writer = await open_raw(server)
            writer.write(
                b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{\"username\": "
            )
            answer = await read_all(reader, 10)
            assert answer.startswith(b"HTTP/1.1 408 ")
            assert b"request_timeout" in answer
            writer.close()

    asyncio.run(body())


def test_one_address_may_not_hold_more_than_its_connections(tmp_path: Path) -> None:
    async def body() -> None:
        http = HttpLimits(max_connections_per_address=3)
        async with running_server(tmp_path, http=http) as server:
            url = server.url
            token = await admin_token(url)
            async with aiohttp.ClientSession() as session:
                ws = await session.ws_connect(url.replace("http", "ws") + "/sync")
                held = [await open_raw(server) for _ in range(2)]
                with captured_logs() as records:
                    refused = []
                    for _ in range(3):
                        reader, writer = await open_raw(server)
                        refused.append(await read_all(reader, 10))
                        writer.close()
                for answer in refused:
                    assert answer.startswith(b"HTTP/1.1 503 ")
                    assert b"too_many_connections" in answer
                limit_lines = [r for r in records if r.getMessage() == "connection_limit"]
                assert len(limit_lines) == 1  # logged once for the address
                # Another address is served meanwhile.
                connector = aiohttp.TCPConnector(local_addr=(OTHER_ADDRESS, 0))
                async with (
                    aiohttp.ClientSession(connector=connector) as other,
                    other.get(url + "/admin/users", headers={"Authorization": f"Bearer {token}"})
                    as resp,
                ):
                    assert resp.status == 200
                # A closed connection frees its place.
                await ws.close()
                for _reader, writer in held:
                    writer.close()
                deadline = time.monotonic() + 10
                while True:
                    reader, writer = await open_raw(server)
                    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    answer = await read_all(reader, 10)
                    writer.close()
                    if answer.startswith(b"HTTP/1.1 200 ") or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
                assert answer.startswith(b"HTTP/1.1 200 ")

    asyncio.run(body())
