"""The poller: reads an HTTP API on an interval and writes into a realm only what changed.

::

    poller = Poller(realm, "https://api.example.com/prices", class_name="Price",
                    interval=30)
    await poller.run()                 # until poller.stop()

The API answers a JSON list of objects (or ``to_objects(answer)`` makes one),
each with the class's primary key. Per poll, in one write transaction: an object
not in the realm is created; of an existing one only the properties whose value
differs are set; with ``delete_missing=True`` the realm's objects the API no
longer lists are deleted. A poll that changes nothing writes nothing: devices
get no download and no notification. The poller sends ``If-None-Match`` with the
last ``ETag``, so an API that supports it answers ``304`` and is not even parsed.

``realm`` is any open realm: a synced one (``App.open_realm``) carries the changes
to devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp

from studio.core import Realm
from studio.integrations.errors import PollerError
from studio.integrations.logs import log
from studio.primitives.waiting import wait_event

ToObjects = Callable[[Any], Iterable[Mapping[str, Any]]]


@dataclasses.dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll wrote."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    not_modified: bool = False  # the API answered 304

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


class Poller:
    """Polls ``url`` every ``interval`` seconds into ``class_name`` objects of
    ``realm``; see the module documentation."""

    def __init__(
        self,
        realm: Realm,
        url: str,
        *,
        class_name: str,
        interval: float = 30.0,
        to_objects: ToObjects | None = None,
        delete_missing: bool = False,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        primary_key = realm.object_schema(class_name).primary_key
        if primary_key is None:
            raise PollerError(f"{class_name} has no primary key: the poller matches objects by it")
        self.realm = realm
        self.url = url
        self.class_name = class_name
        self.primary_key = primary_key
        self.interval = interval
        self.to_objects = to_objects or _as_list
        self.delete_missing = delete_missing
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.polls = 0
        self.failures = 0
        self._etag: str | None = None
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Poll until :meth:`stop`; a failed poll is logged and tried again next interval."""
        self._stop.clear()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as s:
            while not self._stop.is_set():
                try:
                    result = await self.poll_once(s)
                    if result.changed:
                        log(logging.INFO, "poll_changed", url=self.url, created=result.created,
                            updated=result.updated, deleted=result.deleted)  # fmt: skip
                except (TimeoutError, aiohttp.ClientError, PollerError, ValueError) as exc:
                    self.failures += 1
                    log(logging.WARNING, "poll_failed", url=self.url,
                        error=f"{type(exc).__name__}: {exc}")  # fmt: skip
                await wait_event(self._stop, self.interval)

    def stop(self) -> None:
        self._stop.set()

    async def poll_once(self, session: aiohttp.ClientSession) -> PollResult:
        """One poll: fetch, then write the differences (if any)."""
        self.polls += 1
        headers = dict(self.headers)
        if self._etag is not None:
            headers["If-None-Match"] = self._etag
        async with session.get(self.url, headers=headers) as resp:
            if resp.status == 304:
                return PollResult(not_modified=True)
            if resp.status != 200:
                raise PollerError(f"{self.url} answered {resp.status}: {(await resp.text())[:200]}")
            answer = await resp.json(content_type=None)
            etag = resp.headers.get("ETag")
        result = self.apply(self.to_objects(answer))
        self._etag = etag  # only once applied: a failed write is fetched again in full
        return result

    def apply(self, objects: Iterable[Mapping[str, Any]]) -> PollResult:
        """Write the differences between ``objects`` and the realm (no transaction if none)."""
        wanted: dict[Any, Mapping[str, Any]] = {}
        for values in objects:
            if not isinstance(values, Mapping) or self.primary_key not in values:
                raise PollerError(
                    f"each object needs its primary key {self.primary_key!r}; got {values!r:.200}"
                )
            wanted[values[self.primary_key]] = values
        realm = self.realm
        realm.refresh()
        creates: list[Mapping[str, Any]] = []
        updates: list[tuple[Any, dict[str, Any]]] = []
        unchanged = 0
        for key, values in wanted.items():
            current = realm.object_for_primary_key(self.class_name, key)
            if current is None:
                creates.append(values)
                continue
            diff = {
                name: value
                for name, value in values.items()
                if name != self.primary_key and not _same(current.get(name), value)
            }
            if diff:
                updates.append((key, diff))
            else:
                unchanged += 1
        stale = []
        if self.delete_missing:
            stale = [o for o in realm.objects(self.class_name) if o[self.primary_key] not in wanted]
        if not (creates or updates or stale):
            return PollResult(unchanged=unchanged)
        with realm.write():
            for values in creates:
                realm.create(self.class_name, values)
            for key, diff in updates:
                current = realm.object_for_primary_key(self.class_name, key)
                assert current is not None
                for name, value in diff.items():
                    current[name] = value
            if stale:
                realm.delete(stale)
        return PollResult(len(creates), len(updates), len(stale), unchanged)


def _as_list(answer: Any) -> Iterable[Mapping[str, Any]]:
    if not isinstance(answer, list):
        raise PollerError(
            f"the API answered {type(answer).__name__}, not a list of objects: "
            "pass to_objects=... to pick the list out of the answer"
        )
    return answer


def _same(current: Any, value: Any) -> bool:
    """Whether a stored value equals the API's (a list property compares as a list)."""
    if isinstance(value, list) and not isinstance(current, list) and current is not None:
        with contextlib.suppress(TypeError):
            return list(current) == value
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        return current == float(value)
    return bool(current == value)
