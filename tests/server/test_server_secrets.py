"""Secrets on disk and in argv: a private data directory and files, the
token key from a file, the admin password from a file or the environment."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from server_harness import RawClient, admin_token, call, running_server
from server_process import ADMIN_PASSWORD

from studio.server.auth import TokenSigner
from studio.server.config import ADMIN_PASSWORD_ENV, parse_config
from studio.server.errors import ConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_and_every_file_are_private(tmp_path: Path) -> None:
    data = tmp_path / "parent" / "data"

    async def body() -> None:
        async with running_server(data) as server:
            token = await admin_token(server.url)
            client = await RawClient(server.url, token, "/shared/notes", "c").connect()
            await client.wait_bound()
            await client.close()
            files = [p for p in data.rglob("*") if p.is_file()]
            names = {p.name for p in files}
            assert {"server.sqlite", "server.sqlite-wal", "server.sqlite-shm"} <= names
            assert any(p.suffix == ".realm" for p in files), names
            for path in files:
                assert mode(path) == 0o600, (path, oct(mode(path)))
            for path in (data, data / "realms"):
                assert mode(path) == 0o700, (path, oct(mode(path)))

    asyncio.run(body())


def test_files_left_readable_by_an_older_version_are_made_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    sqlite3.connect(data / "server.sqlite").close()
    os.chmod(data / "server.sqlite", 0o644)

    async def body() -> None:
        async with running_server(data):
            assert mode(data / "server.sqlite") == 0o600

    asyncio.run(body())


def test_a_data_directory_others_may_read_is_refused_unless_allowed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o755)

    async def refused() -> None:
        with pytest.raises(ConfigError) as caught:
            async with running_server(data):
                pass
        assert f"chmod 700 {data}" in str(caught.value)
        assert "--allow-insecure-data-dir" in str(caught.value)
        assert not (data / "server.sqlite").exists()  # nothing was created

    async def allowed() -> None:
        async with running_server(data, allow_insecure_data_dir=True) as server:
            status, _ = await call(server.url, "GET", "/health")
            assert status == 200

    asyncio.run(refused())
    asyncio.run(allowed())
    os.chmod(data, 0o700)
    asyncio.run(allowed())  # fixed as the message says: starts


def test_the_token_key_comes_from_a_private_file(tmp_path: Path) -> None:
    key_file = tmp_path / "token.key"
    key = b"0123456789abcdef0123456789abcdef-from-a-file"
    key_file.write_bytes(key + b"\n")
    os.chmod(key_file, 0o600)
    data = tmp_path / "data"

    async def body() -> None:
        async with running_server(data, token_key_file=key_file) as server:
            status, tokens = await call(
                server.url,
                "POST",
                "/auth/login",
                {"username": "admin", "password": ADMIN_PASSWORD},
            )
            assert status == 200
            claims = TokenSigner(key).verify(tokens["access_token"], "access", 0)
            assert claims.adm
        with sqlite3.connect(data / "server.sqlite") as db:
            stored = db.execute("SELECT count(*) FROM meta WHERE key = 'token_key'").fetchone()
        assert stored == (0,)  # no key kept on disk

    asyncio.run(body())


@pytest.mark.parametrize(
    ("content", "file_mode", "message"),
    [
        (b"0123456789abcdef0123456789abcdef", 0o644, "chmod 600"),
        (b"0123456789abcdef0123456789abcdef", 0o640, "chmod 600"),
        (b"too short\n", 0o600, "openssl rand -hex 32"),
    ],
)
def test_a_bad_token_key_file_is_refused_at_parse_time(
    tmp_path: Path, content: bytes, file_mode: int, message: str
) -> None:
    key_file = tmp_path / "token.key"
    key_file.write_bytes(content)
    os.chmod(key_file, file_mode)
    with pytest.raises(ConfigError, match=message):
        parse_config(["--data", str(tmp_path / "d"), "--token-key-file", str(key_file)], env={})
    with pytest.raises(ConfigError, match="token-key-file"):
        parse_config(["--data", str(tmp_path / "d"), "--token-key-file", str(tmp_path / "no")])


def test_the_admin_password_from_a_file_or_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "admin.pw"
    secret.write_text("s3cret pass\nsecond line ignored\n")
    os.chmod(secret, 0o600)
    args = ["--data", str(tmp_path / "d")]
    config = parse_config([*args, "--admin-password-file", str(secret)], env={})
    assert config.admin_password == "s3cret pass"
    assert "s3cret" not in repr(config)
    env = {ADMIN_PASSWORD_ENV: "from-env"}
    assert parse_config(args, env=env).admin_password == "from-env"
    assert parse_config([*args, "--admin-password", "flag"], env=env).admin_password == "flag"
    with pytest.raises(ConfigError, match="not both"):
        parse_config([*args, "--admin-password", "x", "--admin-password-file", str(secret)])
    os.chmod(secret, 0o644)
    with pytest.raises(ConfigError, match=f"chmod 600 {secret}"):
        parse_config([*args, "--admin-password-file", str(secret)], env={})
    empty = tmp_path / "empty.pw"
    empty.write_text("\n")
    os.chmod(empty, 0o600)
    with pytest.raises(ConfigError, match="empty"):
        parse_config([*args, "--admin-password-file", str(empty)], env={})


def test_the_first_admin_gets_the_password_of_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "admin.pw"
    secret.write_text("from-the-file\n")
    os.chmod(secret, 0o600)
    config = parse_config(
        ["--data", str(tmp_path / "d"), "--port", "0", "--admin-password-file", str(secret)],
        env={},
    )

    async def body() -> None:
        from studio.server import Server

        server = Server(config, out=open(os.devnull, "w"))  # noqa: SIM115
        await server.start()
        try:
            credentials = {"username": "admin", "password": "from-the-file"}
            status, _ = await call(server.url, "POST", "/auth/login", credentials)
            assert status == 200
        finally:
            await server.stop()

    asyncio.run(body())
