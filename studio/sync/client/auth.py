"""Logged-in users and their tokens.

The server hands out a short-lived access token (15 minutes by default) and a
long-lived refresh token. Every bind carries the access token, so a user
refreshes it before it runs out: :meth:`User.access_token_for_use` returns a
token that stays valid for a while, refreshing first when needed, and a bind
refused with ``token_expired`` forces a refresh.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from studio.sync.client.errors import ApiError
from studio.sync.client.servers import ServerList

REFRESH_MARGIN: Final = 60.0
"""Refresh an access token that expires within this many seconds (or within a
quarter of its lifetime, for servers configured with very short tokens)."""


class User:
    """A user logged in to a server (``App.login``); with several servers in
    front of one store, the user's tokens are good on all of them."""

    def __init__(
        self,
        base_url: str | ServerList,
        username: str,
        *,
        access_token: str,
        refresh_token: str,
        expires_in: float,
        is_admin: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.servers = base_url if isinstance(base_url, ServerList) else ServerList(base_url)
        self.base_url = self.servers.urls[0]
        self.username = username
        self.is_admin = is_admin
        self.refresh_token = refresh_token
        self._clock = clock
        self._access_token = access_token
        self._lifetime = max(float(expires_in), 0.0)
        self._expires_at = clock() + self._lifetime
        self._refreshing: asyncio.Future[None] | None = None
        self.logged_in = True

    @classmethod
    def from_login(cls, base_url: str | ServerList, answer: Mapping[str, Any]) -> User:
        """A user from the answer of ``POST /auth/login``."""
        try:
            user = answer["user"]
            return cls(
                base_url,
                str(user["username"]),
                access_token=str(answer["access_token"]),
                refresh_token=str(answer["refresh_token"]),
                expires_in=float(answer["expires_in"]),
                is_admin=bool(user.get("is_admin", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(200, "bad_answer", f"unexpected login answer ({exc!r})") from None

    @property
    def access_token(self) -> str:
        """The current access token (it may have expired; see :meth:`access_token_for_use`)."""
        return self._access_token

    @property
    def expires_in(self) -> float:
        """Seconds until the access token expires (negative: it has)."""
        return self._expires_at - self._clock()

    def _needs_refresh(self) -> bool:
        margin = min(REFRESH_MARGIN, self._lifetime / 4)
        return self.expires_in <= margin

    async def access_token_for_use(self) -> str:
        """An access token that is not about to expire (refreshing it first if needed)."""
        if self._needs_refresh():
            await self.refresh()
        return self._access_token

    async def refresh(self) -> None:
        """Get a new access token with the refresh token (``POST /auth/refresh``).

        Concurrent callers share one request. Raises
        :class:`~studio.sync.client.errors.AuthenticationError` when the
        refresh token is no longer accepted (expired, user suspended or deleted).
        """
        if self._refreshing is not None:
            await asyncio.shield(self._refreshing)
            return
        loop = asyncio.get_running_loop()
        self._refreshing = future = loop.create_future()
        try:
            answer = await self.servers.request(
                "POST", "/auth/refresh", {"refresh_token": self.refresh_token}
            )
            self._adopt(answer)
            future.set_result(None)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here; other waiters re-raise it
            raise
        finally:
            self._refreshing = None

    def _adopt(self, answer: Any) -> None:
        if not isinstance(answer, dict) or "access_token" not in answer:
            raise ApiError(200, "bad_answer", f"unexpected refresh answer {answer!r:.200}")
        self._access_token = str(answer["access_token"])
        self.refresh_token = str(answer.get("refresh_token", self.refresh_token))
        self._lifetime = max(float(answer.get("expires_in", self._lifetime)), 0.0)
        self._expires_at = self._clock() + self._lifetime
        user = answer.get("user")
        if isinstance(user, dict) and "is_admin" in user:
            self.is_admin = bool(user["is_admin"])

    def __repr__(self) -> str:
        return f"<User {self.username!r}{' (admin)' if self.is_admin else ''} at {self.base_url}>"
