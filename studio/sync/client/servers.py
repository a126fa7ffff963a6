"""The servers an App may use, and moving to the next when one fails.

``App(["http://a:9080", "http://b:9080"])`` names several object servers in
front of one store (docs/deployment.md). One of them is *current*: the sync
websocket connects to it and HTTP calls (login, token refresh, admin API) go
to it. When it cannot be reached the client moves on to the next one, in the
order given, wrapping around:

* HTTP: a call to an unreachable server (or one answering 502/503/504, as a
  proxy or a server without its database does) is sent to the next server at
  once, until one answers; that one becomes current.
* the sync websocket: a connection that could not be made, or was lost, moves
  to the next server; each attempt waits the usual reconnect backoff first
  (:class:`~studio.sync.client.config.Backoff`), which restarts from its
  smallest delay once a session is bound again.

The first URL is the App's identity (``App.base_url``): local realm files are
stored and checked under it, whichever server is current.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any, Final

from studio.sync.client import http
from studio.sync.client.config import Backoff
from studio.sync.client.errors import ApiError, ServerUnreachableError

UNAVAILABLE_STATUSES: Final = frozenset({502, 503, 504})
"""HTTP statuses that mean "this server cannot serve now; another may"."""


def sync_url(base_url: str) -> str:
    """``http://host:port/prefix`` -> ``ws://host:port/prefix/sync``."""
    parts = urllib.parse.urlsplit(base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"the server URL must be http(s)://host:port, not {base_url!r}")
    return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path + "/sync", "", ""))


def split_urls(urls: str | Sequence[str]) -> list[str]:
    """``"http://a:9080,http://b:9080"`` or a list of URLs (each may hold
    commas too) -> the URLs, without trailing slashes; ValueError when there
    are none or one is not an http(s) URL."""
    items = [urls] if isinstance(urls, str) else list(urls)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"a server URL is a string, not {item!r}")
        out.extend(u.strip().rstrip("/") for u in item.split(",") if u.strip())
    if not out:
        raise ValueError("give at least one server URL, e.g. http://localhost:9080")
    for url in out:
        sync_url(url)  # raises for a URL that is not http(s)://host:port
    return list(dict.fromkeys(out))  # each once, in the order given


class ServerList:
    """The servers of an App in order of preference, and the current one."""

    def __init__(self, urls: str | Sequence[str]) -> None:
        self.urls: tuple[str, ...] = tuple(split_urls(urls))
        self._current = 0

    @property
    def current(self) -> str:
        """The base URL in use."""
        return self.urls[self._current]

    def move_on(self, failed: str) -> str:
        """``failed`` let us down: the next server becomes current (unless
        another caller moved on already); returns the current one."""
        if failed == self.current:
            self._current = (self._current + 1) % len(self.urls)
        return self.current

    def use(self, url: str) -> None:
        """``url`` answered: it becomes current."""
        self._current = self.urls.index(url)

    def in_turn(self) -> list[str]:
        """Every server, the current one first, then the following ones."""
        n = len(self.urls)
        return [self.urls[(self._current + i) % n] for i in range(n)]

    async def request(
        self,
        method: str,
        path: str,
        body: Any | None = None,
        *,
        token: str | None = None,
        timeout: float = http.DEFAULT_TIMEOUT,
    ) -> Any:
        """:func:`http.request` to ``path`` on the current server, or on the
        next ones while a server is unreachable or unavailable (502/503/504).
        Raises the last server's error when none answers."""
        last: Exception | None = None
        for base in self.in_turn():
            try:
                answer = await http.request(method, base + path, body, token=token,
                                            timeout=timeout)  # fmt: skip
            except ServerUnreachableError as exc:
                last = exc
            except ApiError as exc:
                if exc.status not in UNAVAILABLE_STATUSES:
                    self.use(base)  # it answered: a real answer, good or bad
                    raise
                last = exc
            else:
                self.use(base)
                return answer
        assert last is not None
        raise last

    def __repr__(self) -> str:
        return f"<ServerList {', '.join(self.urls)} (current {self.current})>"


class SyncTargets:
    """Where the sync websocket connects, and how long to wait after a failure.

    A connection attempt that fails, or a connection that is lost, moves on
    to the next server and waits ``backoff``'s next delay (as with one
    server); a bound session (:meth:`bound`) restarts the backoff. Sans-I/O:
    the caller sleeps and connects.
    """

    def __init__(self, servers: ServerList, backoff: Backoff) -> None:
        self.servers = servers
        self.backoff = backoff

    @property
    def url(self) -> str:
        """The websocket URL of the current server: where to connect now."""
        return sync_url(self.servers.current)

    def failed(self, url: str) -> float:
        """Connecting to websocket ``url`` failed, or its connection was
        lost: move on; returns the seconds to wait before the next attempt."""
        for base in self.servers.urls:
            if sync_url(base) == url:
                self.servers.move_on(base)
                break
        return self.backoff.next_delay()

    def bound(self) -> None:
        """A session was bound: the server works; the next failure waits the least."""
        self.backoff.reset()
