"""One server process per --data directory: a second one is refused with a
clear error (it would write the same SQLite files), and the directory is free
again once the first stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from server_harness import running_server
from server_process import ADMIN_PASSWORD, FAST_SCRYPT

from studio.server import Server, ServerConfig
from studio.server.errors import ConfigError


def test_a_second_server_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"

    async def body() -> None:
        async with running_server(data) as first:
            second = Server(
                ServerConfig(
                    data_dir=data, port=0, admin_password=ADMIN_PASSWORD, scrypt_n=FAST_SCRYPT
                )
            )
            with pytest.raises(ConfigError, match=r"another server process .* --data") as err:
                await second.start()
            assert "PostgreSQL --store" in str(err.value)
            assert first.ctx.storage.count_users() == 1  # the first one goes on
        # Stopped: the directory can be served again.
        async with running_server(data) as again:
            assert again.ctx.storage.count_users() == 1

    asyncio.run(body())
