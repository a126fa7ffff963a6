"""Slowing down password guessing at ``/auth/login``.

Failed logins are counted per (client address, user name) and per client
address. After ``free_failures`` failures in a row of one name from one
address, that pair must wait before its next attempt: ``first_delay``, then
twice as long after each further failure, up to ``max_delay``. The address
alone gets the same treatment after ``address_free_failures`` failures
whatever the names, so that one address cannot try many names either.

Nothing is counted per name across addresses: that is what would let anyone
lock anyone out (the admin included) by failing their logins on purpose. The
owner of an account logging in from another address is never slowed down by
someone else's failures.

A successful login clears only its own (address, name) count: the address's
count stays, or one valid account would let its holder reset the limit that
protects every other account. A count is forgotten ``forget_after`` seconds
after its last failure. A login attempted while it must wait is refused at
once, before the password is checked (guessing costs the server no key
derivation either), and the answer says when to try again.

Memory is bounded: at most ``max_tracked`` counts are kept (the least
recently failed go first). No sockets; time comes from ``clock`` (monotonic
seconds), which tests replace.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

_Key = tuple[str, str, str]


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


def _pair(username: str, address: str) -> _Key:
    return ("pair", address, username)


def _address(address: str) -> _Key:
    return ("address", address, "")


class LoginThrottle:
    def __init__(
        self,
        *,
        free_failures: int = 5,
        address_free_failures: int = 20,
        first_delay: float = 1.0,
        max_delay: float = 300.0,
        forget_after: float = 900.0,
        max_tracked: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.address_free_failures = address_free_failures
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_tracked = max_tracked
        self.clock = clock
        self._failures: OrderedDict[_Key, _Failures] = OrderedDict()

    @property
    def tracked(self) -> int:
        """How many counts are held now."""
        return len(self._failures)

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until a login of ``username`` from ``address`` may be
        tried (0: now)."""
        now = self.clock()
        return max(
            self._wait(_pair(username, address), self.free_failures, now),
            self._wait(_address(address), self.address_free_failures, now),
        )

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        for key in (_pair(username, address), _address(address)):
            record = self._current(key, now)
            if record is None:
                record = self._failures[key] = _Failures(0, now)
            record.count += 1
            record.last = now
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_tracked:
            self._failures.popitem(last=False)

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop(_pair(username, address), None)

    def _current(self, key: _Key, now: float) -> _Failures | None:
        record = self._failures.get(key)
        if record is not None and now - record.last >= self.forget_after:
            del self._failures[key]
            return None
        return record

    def _wait(self, key: _Key, free: int, now: float) -> float:
        record = self._current(key, now)
        if record is None or record.count < free:
            return 0.0
        extra = record.count - free
        delay = min(self.max_delay, self.first_delay * float(2 ** min(extra, 32)))
        return max(0.0, record.last + delay - now)
