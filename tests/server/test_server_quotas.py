"""Per-user quotas: realms a user owns and client file idents issued to a
user. Refused with ``quota_exceeded`` (not retryable), counted from storage
(they survive a restart), server admins exempt."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from server_harness import RawClient, admin_token, call, make_user, running_server, until

from studio.server import Limits
from studio.server.config import parse_config
from studio.server.errors import ConfigError
from studio.sync.protocol import ErrorCode, SessionError

LIMITS = Limits(max_realms_per_user=3, max_idents_per_user=6)


async def _bind(url: str, token: str, path: str) -> RawClient:
    """A new device (no client file ident yet) binding ``path``."""
    client = await RawClient(url, token, path, path).connect()
    await until(lambda: client.bound or bool(client.errors), what=f"{path} bound or refused")
    return client


async def _refusal(client: RawClient) -> SessionError:
    assert not client.bound, f"{client.path} was bound"
    [error] = client.errors
    assert isinstance(error, SessionError)
    await client.close()
    return error


def test_realms_per_user(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path, limits=LIMITS) as server:
            url = server.url
            admin = await admin_token(url)
            bob = await make_user(url, admin, "bob")
            for n in range(3):
                client = await _bind(url, bob, f"/~/r{n}")
                assert client.bound, client.errors
                await client.close()
            error = await _refusal(await _bind(url, bob, "/~/r3"))
            assert error.code == ErrorCode.QUOTA_EXCEEDED and not error.try_again
            assert "bob owns 3 realms" in error.message
            assert "--max-realms-per-user" in error.message
            # Existing realms still bind (as another device: ident 4 of 6).
            client = await _bind(url, bob, "/~/r0")
            assert client.bound, client.errors
            await client.close()
            # Admins are exempt.
            for n in range(5):
                client = await _bind(url, admin, f"/~/a{n}")
                assert client.bound, client.errors
                await client.close()
        # Counted from storage: a restart gives no room ...
        async with running_server(tmp_path, limits=LIMITS) as server:
            url = server.url
            admin = await admin_token(url)
            bob = await call(url, "POST", "/auth/login", {"username": "bob", "password": "pw"})
            token = bob[1]["access_token"]
            error = await _refusal(await _bind(url, token, "/~/r3"))
            assert error.code == ErrorCode.QUOTA_EXCEEDED
            # ... deleting a realm does.
            status, _ = await call(url, "DELETE", "/admin/realms?path=/u/bob/r0", None, admin)
            assert status == 204
            client = await _bind(url, token, "/~/r3")
            assert client.bound, client.errors
            await client.close()

    asyncio.run(body())


def test_client_idents_per_user(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_server(tmp_path, limits=LIMITS) as server:
            url = server.url
            admin = await admin_token(url)
            bob = await make_user(url, admin, "bob")
            devices = []
            for _ in range(6):
                client = await _bind(url, bob, "/~/notes")
                assert client.bound, client.errors
                devices.append(client)
            error = await _refusal(await _bind(url, bob, "/~/notes"))
            assert error.code == ErrorCode.QUOTA_EXCEEDED and not error.try_again
            assert "bob was issued 6 client file idents" in error.message
            # A device that has its ident already reconnects.
            device = devices[0]
            await device.close()
            await device.connect()
            await device.wait_bound()
            for client in devices:
                await client.close()
            # Admins are exempt.
            for _ in range(8):
                client = await _bind(url, admin, "/shared/notes")
                assert client.bound, client.errors
                await client.close()
        async with running_server(tmp_path, limits=LIMITS) as server:
            url = server.url
            status, body = await call(
                url, "POST", "/auth/login", {"username": "bob", "password": "pw"}
            )
            assert status == 200
            error = await _refusal(await _bind(url, body["access_token"], "/~/notes"))
            assert error.code == ErrorCode.QUOTA_EXCEEDED

    asyncio.run(body())


def test_the_flags_set_the_limits(tmp_path: Path) -> None:
    config = parse_config(
        [
            "--data", str(tmp_path), "--max-outbound-bytes", "1000",
            "--max-server-outbound-bytes", "5000", "--download-window", "300",
            "--max-realms-per-user", "7", "--max-idents-per-user", "9",
            "--max-open-realm-files", "11",
        ],
        env={},
    )  # fmt: skip
    limits = config.limits
    assert (limits.max_outbound_bytes, limits.max_server_outbound_bytes) == (1000, 5000)
    assert (limits.download_window, limits.max_realms_per_user) == (300, 7)
    assert (limits.max_idents_per_user, config.max_open_realm_files) == (9, 11)
    defaults = parse_config(["--data", str(tmp_path)], env={})
    assert defaults.limits == Limits() and defaults.max_open_realm_files == 128
    for flag in ("--max-realms-per-user", "--max-open-realm-files", "--download-window"):
        with pytest.raises(ConfigError, match="at least 1"):
            parse_config(["--data", str(tmp_path), flag, "0"], env={})
