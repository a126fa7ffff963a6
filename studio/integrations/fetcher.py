"""The fetcher: a device asks for an HTTP resource by inserting a ``FetchRequest``;
a notifier handler fetches it and writes the answer into the same object.

::

    fetch = Fetcher(allow=["https://api.example.com/"])
    notifier.on(r"^/weather/", fetch, classes=["FetchRequest"])

A device (offline or not) creates ``FetchRequest {_id, url}``; once the handler ran,
the object has ``status`` (the HTTP status), ``body`` (the text) and
``contentType``, or ``error`` (why it was not fetched), and the device's listener
sees them. Only URLs that start with one of the ``allow`` prefixes are fetched:
devices must not make the server call whatever they like (SSRF).

A request that already has an answer is skipped, so a repeated event (the notifier
delivers at least once) fetches nothing twice. A connection error, a timeout or
a status of ``retry_statuses`` (502, 503, 504: the API is passing through a bad
moment) raises, and the notifier calls the handler again later, with backoff,
holding back the realm's later events; any other status is an answer, written
as such (a 404 is ``status`` 404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from studio.integrations.errors import FetcherError
from studio.integrations.events import RealmEvent

FETCH_REQUEST_CLASS = "FetchRequest"
FETCH_REQUEST_SCHEMA: dict[str, Any] = {
    "name": FETCH_REQUEST_CLASS,
    "primaryKey": "_id",
    "properties": {
        "_id": "string",
        "url": "string",
        "status": "int?",
        "contentType": "string?",
        "body": "string?",
        "error": "string?",
    },
}


class Fetcher:
    """A notifier handler that answers ``FetchRequest`` objects; see the module
    documentation. ``max_bytes``: a longer body is cut there (and ``error`` says so)."""

    def __init__(
        self,
        allow: Sequence[str],
        *,
        class_name: str = FETCH_REQUEST_CLASS,
        timeout: float = 10.0,
        max_bytes: int = 1_000_000,
        retry_statuses: Sequence[int] = (502, 503, 504),
    ) -> None:
        if isinstance(allow, str) or not allow:
            raise FetcherError("allow is a list of URL prefixes, e.g. ['https://api.example.com/']")
        for prefix in allow:
            if not prefix.startswith(("http://", "https://")) or prefix.count("/") < 3:
                raise FetcherError(
                    f"an allowed prefix names a scheme, a host and a path, like "
                    f"'https://api.example.com/', not {prefix!r}"
                )
        self.allow = tuple(allow)
        self.class_name = class_name
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retry_statuses = frozenset(retry_statuses)
        self._session: aiohttp.ClientSession | None = None
        self.__qualname__ = f"Fetcher({self.class_name})"  # the notifier's handler label

    def allowed(self, url: str) -> bool:
        return url.startswith(self.allow)

    async def __call__(self, event: RealmEvent) -> None:
        realm = event.realm
        for request in event.inserted(self.class_name):
            if request.status is not None or request.error is not None:
                continue  # answered before: an event delivered again
            key, url = request["_id"], request.url
            answer = await self.fetch(url)
            with realm.write():
                current = realm.object_for_primary_key(self.class_name, key)
                if current is None:
                    continue  # deleted while we fetched
                for name, value in answer.items():
                    current[name] = value

    async def fetch(self, url: str) -> dict[str, Any]:
        """The properties to write for ``url``: status, contentType, body, or error."""
        if not self.allowed(url):
            return {"error": f"not allowed: {url} does not start with {' or '.join(self.allow)}"}
        session = self._session
        if session is None or session.closed:
            session = self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        try:
            async with session.get(url, allow_redirects=False) as resp:
                if resp.status in self.retry_statuses:
                    raise FetcherError(f"cannot fetch {url} now: {resp.status} {resp.reason}")
                data = await resp.content.read(self.max_bytes + 1)
                answer: dict[str, Any] = {
                    "status": resp.status,
                    "contentType": resp.content_type,
                    "body": data[: self.max_bytes].decode(resp.charset or "utf-8", "replace"),
                }
                if len(data) > self.max_bytes:
                    answer["error"] = f"the body was cut at {self.max_bytes} bytes"
                return answer
        except aiohttp.InvalidURL:
            return {"error": f"not a URL: {url}"}
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Passing (the API is down): the notifier calls us again, with backoff.
            raise FetcherError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
