"""HTTP endpoints: health, metrics, login/refresh, and the admin JSON API."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from server_harness import (
    SCHEMA,
    FakeClock,
    RawClient,
    admin_token,
    call,
    item,
    login,
    make_user,
    running_server,
    ws_url,
)
from server_process import ADMIN_PASSWORD
from websockets.asyncio.client import connect

from studio.core.describe import describe
from studio.sync.changeset import decode_changeset


def test_health_metrics_login_refresh(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            status, health = await call(url, "GET", "/health")
            assert status == 200 and health["status"] == "ok"
            assert health["version"] and health["uptime_s"] >= 0

            status, tokens = await call(
                url, "POST", "/auth/login", {"username": "admin", "password": ADMIN_PASSWORD}
            )
            assert status == 200
            assert tokens["user"] == {"username": "admin", "is_admin": True}
            assert tokens["expires_in"] == 900
            assert tokens["access_token"].count(".") == 1

            status, err = await call(
                url, "POST", "/auth/login", {"username": "admin", "password": "wrong"}
            )
            assert status == 401 and err["error"]["code"] == "bad_credentials"
            status, err = await call(
                url, "POST", "/auth/login", {"username": "nobody", "password": "x"}
            )
            assert status == 401 and err["error"]["code"] == "bad_credentials"
            status, err = await call(url, "POST", "/auth/login", ["not", "an", "object"])
            assert status == 400 and err["error"]["code"] == "bad_request"

            status, again = await call(
                url, "POST", "/auth/refresh", {"refresh_token": tokens["refresh_token"]}
            )
            assert status == 200 and again["user"]["username"] == "admin"
            status, _ = await call(url, "GET", "/admin/users", token=again["access_token"])
            assert status == 200
            # An access token is not a refresh token, and a forged one fails.
            status, err = await call(
                url, "POST", "/auth/refresh", {"refresh_token": tokens["access_token"]}
            )
            assert status == 401 and err["error"]["code"] == "invalid_token"
            forged = tokens["refresh_token"][:-3] + (
                "AAA" if tokens["refresh_token"][-3:] != "AAA" else "BBB"
            )
            status, err = await call(url, "POST", "/auth/refresh", {"refresh_token": forged})
            assert status == 401 and err["error"]["code"] == "invalid_token"

            status, text = await call(url, "GET", "/metrics")
            assert status == 200
            for name in (
                "studio_connections",
                "studio_sessions",
                "studio_uploads_total",
                "studio_downloads_total",
                "studio_bytes_in_total",
                "studio_bytes_out_total",
                "studio_merge_seconds",
                "studio_realms",
            ):
                assert f"# TYPE {name} " in text, name
            assert 'studio_logins_total{result="ok"} 1' in text
            assert 'studio_logins_total{result="bad_credentials"} 2' in text

            status, err = await call(url, "GET", "/nowhere")
            assert status == 404 and err["error"]["code"] == "not_found"

    asyncio.run(body())


def test_expired_access_token(tmp_path: Path) -> None:
    async def body() -> None:
        clock = FakeClock()
        async with running_server(tmp_path, clock=clock, access_token_ttl=0.3) as server:
            token = await admin_token(server.url)
            status, _ = await call(server.url, "GET", "/admin/users", token=token)
            assert status == 200
            clock.advance(0.5)
            status, err = await call(server.url, "GET", "/admin/users", token=token)
            assert status == 401 and err["error"]["code"] == "token_expired"
            assert "refresh" in err["error"]["message"]

    asyncio.run(body())


def test_admin_users_api(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            status, err = await call(url, "GET", "/admin/users")
            assert status == 401 and err["error"]["code"] == "unauthorized"

            status, user = await call(
                url, "POST", "/admin/users", {"username": "ann", "password": "secret"}, admin
            )
            assert status == 201
            assert user["username"] == "ann" and user["is_admin"] is False and not user["suspended"]
            status, err = await call(
                url, "POST", "/admin/users", {"username": "ann", "password": "x"}, admin
            )
            assert status == 409 and err["error"]["code"] == "exists"
            for bad in ("../x", "a/b", "", "x\n", "é"):
                status, err = await call(
                    url, "POST", "/admin/users", {"username": bad, "password": "x"}, admin
                )
                assert status == 400, bad

            ann = await login(url, "ann", "secret")
            status, err = await call(url, "GET", "/admin/users", token=ann)
            assert status == 403 and err["error"]["code"] == "forbidden"

            # Password change: old password and old tokens stop working.
            status, _ = await call(url, "PATCH", "/admin/users/ann", {"password": "new"}, admin)
            assert status == 200
            status, err = await call(
                url, "POST", "/auth/login", {"username": "ann", "password": "secret"}
            )
            assert status == 401
            status, err = await call(url, "GET", "/admin/connections", token=ann)
            assert status == 401 and err["error"]["code"] == "invalid_token"
            ann = await login(url, "ann", "new")

            # Suspension: no login, no API.
            status, user = await call(url, "PATCH", "/admin/users/ann", {"suspended": True}, admin)
            assert status == 200 and user["suspended"] is True
            status, err = await call(
                url, "POST", "/auth/login", {"username": "ann", "password": "new"}
            )
            assert status == 403 and err["error"]["code"] == "suspended"
            status, _ = await call(url, "PATCH", "/admin/users/ann", {"suspended": False}, admin)
            assert status == 200

            # Admin flag.
            status, user = await call(url, "PATCH", "/admin/users/ann", {"is_admin": True}, admin)
            assert status == 200 and user["is_admin"] is True
            status, _ = await call(url, "GET", "/admin/users", token=ann)
            assert status == 200
            status, err = await call(url, "PATCH", "/admin/users/ann", {"bogus": 1}, admin)
            assert status == 400

            # The last active admin cannot be removed.
            status, _ = await call(url, "PATCH", "/admin/users/ann", {"is_admin": False}, admin)
            assert status == 200
            status, err = await call(url, "DELETE", "/admin/users/admin", token=admin)
            assert status == 409 and err["error"]["code"] == "last_admin"

            status, listing = await call(url, "GET", "/admin/users", token=admin)
            assert [u["username"] for u in listing["users"]] == ["admin", "ann"]
            status, _ = await call(url, "DELETE", "/admin/users/ann", token=admin)
            assert status == 204
            status, _ = await call(url, "DELETE", "/admin/users/ann", token=admin)
            assert status == 404

    asyncio.run(body())


def test_admin_realms_permissions_connections_history(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            bob = await make_user(url, admin, "bob")

            status, realm = await call(
                url, "POST", "/admin/realms", {"path": "/shared/notes"}, admin
            )
            assert (
                status == 201 and realm["path"] == "/shared/notes" and realm["server_version"] == 0
            )
            status, err = await call(url, "POST", "/admin/realms", {"path": "/shared/notes"}, admin)
            assert status == 409
            for bad in (
                "/shared/../x",
                "shared/x",
                "/shared//x",
                "/shared/x\x00",
                "/a/\u00e9",
                "/" + "x" * 300,
                "/u/bob",
            ):
                status, err = await call(url, "POST", "/admin/realms", {"path": bad}, admin)
                assert status == 400, (bad, err)

            status, _ = await call(
                url,
                "PUT",
                "/admin/permissions",
                {"path": "/shared/notes", "username": "bob", "level": "write"},
                admin,
            )
            assert status == 200
            status, err = await call(
                url,
                "PUT",
                "/admin/permissions",
                {"path": "/shared/notes", "username": "bob", "level": "owner"},
                admin,
            )
            assert status == 400
            status, err = await call(
                url,
                "PUT",
                "/admin/permissions",
                {"path": "/shared/notes", "username": "ghost", "level": "read"},
                admin,
            )
            assert status == 404
            status, perms = await call(
                url, "GET", "/admin/permissions?path=/shared/notes", token=admin
            )
            assert perms["permissions"] == [{"username": "bob", "level": "write"}]
            # bob is not an admin of /shared/notes ...
            status, _ = await call(url, "GET", "/admin/permissions?path=/shared/notes", token=bob)
            assert status == 403
            # ... but of his own realms he is: he may share them.
            status, _ = await call(
                url,
                "PUT",
                "/admin/permissions",
                {"path": "/~/diary", "username": "admin", "level": "read"},
                bob,
            )
            assert status == 200
            status, perms = await call(
                url, "GET", "/admin/permissions?path=/u/bob/diary", token=bob
            )
            assert status == 200 and perms["permissions"] == [
                {"username": "admin", "level": "read"}
            ]

            client = await RawClient(url, bob, "/shared/notes", "bob").connect()
            await client.wait_bound()
            await client.commit(SCHEMA)
            await client.commit(item(1, "hello"))
            await client.sync()

            status, conns = await call(url, "GET", "/admin/connections", token=admin)
            (conn,) = conns["connections"]
            assert conn["user"] == "bob" and conn["realms"] == ["/shared/notes"]
            assert conn["bytes_in"] > 0 and conn["bytes_out"] > 0
            # What the client said it is (its User-Agent), for the Studio's views.
            assert conn["agent"].startswith("Python/") and "websockets" in conn["agent"]
            # One device in detail: its session's ident, progress and recent uploads.
            status, device = await call(
                url, "GET", f"/admin/connections/device?id={conn['id']}&recent=1", token=admin
            )
            assert status == 200 and device["user"] == "bob"
            (session,) = device["sessions"]
            assert session["realm"] == "/shared/notes" and session["client_file_ident"] > 0
            assert session["latest_version"] == 2 and session["level"] == "write"
            assert session["missing_versions"] == 2 - session["integrated_version"]
            assert session["sent_version"] == 2  # the server sent it everything
            (upload,) = session["uploads"]  # recent=1: the newest only
            assert upload["server_version"] == 2 and upload["instructions"] == [
                "CreateObject Item[1]", "Set Item[1].name = 'hello'"]
            for query, expected in ((f"id={conn['id'] + 99}", 404), ("id=x", 400)):
                status, _ = await call(
                    url, "GET", f"/admin/connections/device?{query}", token=admin)
                assert status == expected
            status, _ = await call(
                url, "GET", f"/admin/connections/device?id={conn['id']}", token=bob)
            assert status == 403

            status, listing = await call(url, "GET", "/admin/realms", token=admin)
            paths = {r["path"]: r for r in listing["realms"]}
            assert set(paths) == {"/shared/notes", "/u/bob/diary"}
            assert paths["/shared/notes"]["server_version"] == 2
            assert paths["/shared/notes"]["clients"] == 1
            assert paths["/u/bob/diary"]["owner"] == "bob"

            status, history = await call(
                url, "GET", "/admin/realms/history?path=/shared/notes&since=1&limit=5", token=admin
            )
            assert status == 200
            (entry,) = history["changesets"]
            assert entry["server_version"] == 2 and entry["user"] == "bob"
            assert entry["instructions"] == ["CreateObject Item[1]", "Set Item[1].name = 'hello'"]
            assert "changeset" not in entry
            # raw=1: the changesets' wire bytes too (the Studio replays them: time travel)
            status, raw = await call(
                url, "GET", "/admin/realms/history?path=/shared/notes&since=1&raw=1", token=admin
            )
            assert status == 200
            decoded = decode_changeset(base64.b64decode(raw["changesets"][0]["changeset"]))
            assert [describe(i) for i in decoded.instructions] == entry["instructions"]
            for bad in ("limit=x", "raw=yes"):
                status, _ = await call(
                    url, "GET", f"/admin/realms/history?path=/shared/notes&{bad}", token=admin
                )
                assert status == 400

            status, _ = await call(
                url,
                "DELETE",
                "/admin/permissions",
                {"path": "/shared/notes", "username": "bob"},
                admin,
            )
            assert status == 204
            # Revoking ends bob's session at once.
            await asyncio.sleep(0.2)
            assert client.errors and client.errors[-1].code == 206

            status, _ = await call(url, "DELETE", "/admin/realms?path=/shared/notes", token=admin)
            assert status == 204
            status, listing = await call(url, "GET", "/admin/realms", token=admin)
            assert [r["path"] for r in listing["realms"]] == ["/u/bob/diary"]
            assert not list((tmp_path / "realms").glob("*notes*"))
            await client.close()

    asyncio.run(body())


def test_password_guessing_is_slowed_down(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            throttle = server.ctx.login_throttle
            clock = [1000.0]
            throttle.clock = lambda: clock[0]
            for _ in range(throttle.free_failures):
                status, err = await call(
                    url, "POST", "/auth/login", {"username": "admin", "password": "guess"}
                )
                assert status == 401 and err["error"]["code"] == "bad_credentials"
            # Now even the right password must wait: refused before it is checked.
            status, err = await call(
                url, "POST", "/auth/login", {"username": "admin", "password": ADMIN_PASSWORD}
            )
            assert status == 429 and err["error"]["code"] == "too_many_attempts"
            assert "try again in 1 s" in err["error"]["message"]
            clock[0] += 1.0
            status, tokens = await call(
                url, "POST", "/auth/login", {"username": "admin", "password": ADMIN_PASSWORD}
            )
            assert status == 200 and tokens["user"]["username"] == "admin"
            status, text = await call(url, "GET", "/metrics")
            assert 'studio_logins_total{result="too_many_attempts"} 1' in text

    asyncio.run(body())


def test_a_clients_label_is_kept_clipped(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path) as server:
            url = server.url
            admin = await admin_token(url)
            label = "studio-notifier/1.0 (handlers: " + "h" * 5000 + ")"
            async with connect(ws_url(url), user_agent_header=label):
                status, conns = await call(url, "GET", "/admin/connections", token=admin)
                assert status == 200
                (conn,) = conns["connections"]
                assert conn["agent"].startswith("studio-notifier/1.0 (handlers: hhh")
                assert len(conn["agent"]) < 260 and conn["agent"].endswith("bytes)")

    asyncio.run(body())
