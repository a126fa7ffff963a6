"""Login, token refresh and the admin API wrapper against a stdlib HTTP server
that plays the contract of docs/server-api.md."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from test_client_harness import run

from studio.sync.client import ApiError, App, AuthenticationError, ServerUnreachableError
from studio.sync.client.config import Backoff
from studio.sync.client.servers import sync_url


class _Api(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, Any, str | None]] = []
    tokens = 0

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        self._answer(status, {"error": {"code": code, "message": message}})

    def _tokens(self, user: str, admin: bool) -> dict[str, Any]:
        type(self).tokens += 1
        n = type(self).tokens
        return {"access_token": f"a{n}", "refresh_token": f"r{n}", "expires_in": 900,
                "user": {"username": user, "is_admin": admin}}  # fmt: skip

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        auth = self.headers.get("Authorization")
        self.calls.append((method, self.path, body, auth))
        path = self.path
        if path == "/auth/login":
            if body["password"] != "pw":
                return self._error(401, "bad_credentials", "wrong username or password")
            if body["username"] == "sus":
                return self._error(403, "suspended", "this user is suspended")
            return self._answer(200, self._tokens(body["username"], body["username"] == "admin"))
        if path == "/auth/refresh":
            if body["refresh_token"] == "r-revoked":
                return self._error(401, "invalid_token", "log in again")
            return self._answer(200, self._tokens("admin", True))
        if path == "/health":
            return self._answer(200, {"status": "ok", "version": "t", "uptime_s": 1})
        if auth == "Bearer stale":
            return self._error(401, "invalid_token", "expired")
        if not path.startswith("/admin/"):
            return self._error(404, "not_found", "no such thing")
        if path == "/admin/users" and method == "GET":
            return self._answer(200, {"users": [{"username": "admin"}]})
        if path == "/admin/users" and method == "POST":
            return self._answer(201, {"username": body["username"]})
        if path.startswith("/admin/users/") and method == "DELETE":
            return self._answer(204)
        if path.startswith("/admin/users/"):
            return self._answer(200, {"username": path.rsplit("/", 1)[1], **body})
        if path == "/admin/realms":
            return self._answer(200, {"realms": [{"path": "/shared/chat"}]})
        if path == "/admin/permissions" and method == "PUT":
            return self._answer(200, {})
        return self._error(403, "forbidden", "admins only")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


@contextmanager
def api_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.calls = []
    _Api.tokens = 0
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@run
async def test_login_errors_and_refresh() -> None:
    with api_server() as url:
        app = App(url)
        for name, password, error, status in [("ann", "nope", "bad_credentials", 401),
                                              ("sus", "pw", "suspended", 403)]:  # fmt: skip
            try:
                await app.login(name, password)
            except AuthenticationError as exc:
                assert (exc.error, exc.status) == (error, status)
                assert "wrong username" in str(exc) or "suspended" in str(exc)
            else:
                raise AssertionError("login must fail")
        user = await app.login("ann", "pw")
        assert app.current_user is user and not user.is_admin
        assert user.access_token == "a1" and 890 < user.expires_in <= 900
        await user.refresh()
        assert (user.access_token, user.refresh_token) == ("a2", "r2")
        user.refresh_token = "r-revoked"
        try:
            await user.refresh()
        except AuthenticationError as exc:
            assert exc.error == "invalid_token"
        else:
            raise AssertionError("a revoked refresh token must fail")
        assert (await app.health())["status"] == "ok"


@run
async def test_admin_api_calls_follow_the_contract() -> None:
    with api_server() as url:
        app = App(url)
        await app.login("admin", "pw")
        await app.admin.create_user("bob", "secret")
        await app.admin.set_permission("/shared/chat", "bob", "read")
        await app.admin.suspend_user("bob")
        await app.admin.delete_user("bob")
        assert await app.admin.list_realms() == [{"path": "/shared/chat"}]
        calls = [(m, p, b) for m, p, b, _a in _Api.calls if p.startswith("/admin")]
        assert calls == [
            ("POST", "/admin/users", {"username": "bob", "password": "secret", "is_admin": False}),
            ("PUT", "/admin/permissions", {"path": "/shared/chat", "username": "bob",
                                           "level": "read"}),
            ("PATCH", "/admin/users/bob", {"suspended": True}),
            ("DELETE", "/admin/users/bob", None),
            ("GET", "/admin/realms", None),
        ]
        assert all(a == "Bearer a1" for _m, p, _b, a in _Api.calls if p.startswith("/admin"))
        # A refused (stale) token is refreshed once and the call repeated.
        assert app.current_user is not None
        app.current_user._access_token = "stale"
        assert await app.admin.list_users() == [{"username": "admin"}]
        assert _Api.calls[-1][3] == "Bearer a2"
        try:
            await app.admin.set_permission("/x", "bob", "owner")  # type: ignore[arg-type]
        except ValueError:
            pass
        else:
            raise AssertionError("unknown levels are refused before asking the server")
        try:
            await app.admin.realm_history("/x")
        except ApiError as exc:
            assert (exc.status, exc.error) == (403, "forbidden")
        else:
            raise AssertionError("the fake answers 403")


@run
async def test_unreachable_server() -> None:
    import socket

    # A port that was just free and has no listener (port 9 may be taken on a dev machine).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = App(f"http://127.0.0.1:{port}")
    try:
        await app.login("a", "b")
    except ServerUnreachableError as exc:
        assert exc.try_again and exc.status == 0
    else:
        raise AssertionError("nothing listens on that port")


def test_urls_and_backoff() -> None:
    assert sync_url("http://h:9080") == "ws://h:9080/sync"
    assert sync_url("https://h/base/") == "wss://h/base/sync"
    backoff = Backoff(0.5, 4.0, rng=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    low = Backoff(0.5, 4.0, rng=lambda: 0.0)
    assert [low.next_delay() for _ in range(3)] == [0.25, 0.5, 1.0]  # jitter: half to all
