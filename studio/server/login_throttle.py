"""Slowing down password guessing at ``/auth/login``.

Failed logins are counted per user name and per client address. After
``free_failures`` failures in a row, that name (or address) must wait before
its next attempt: 1 s, then twice as long after each further failure, up to
``max_delay``. A successful login clears the name's and the address's count;
a count is forgotten ``forget_after`` seconds after its last failure. A login
attempted while it must wait is refused at once, before the password is
checked (so guessing costs the server no key derivation either) and the
answer says when to try again.

Counting per name stops a slow guess at one account from many addresses;
per address, one address guessing many names. Memory is bounded: at most
``max_tracked`` names and addresses are remembered (the oldest go first).

No sockets and no clock of its own: the caller passes ``now`` (seconds).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class LoginThrottle:
    def __init__(
        self,
        *,
        free_failures: int = 5,
        first_delay: float = 1.0,
        max_delay: float = 300.0,
        forget_after: float = 900.0,
        max_tracked: int = 10_000,
    ) -> None:
        self.free_failures = free_failures
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_tracked = max_tracked
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    def retry_after(self, username: str, address: str, now: float) -> float:
        """Seconds until a login of ``username`` from ``address`` may be
        tried (0: now)."""
        return max(self._wait(("user", username), now), self._wait(("address", address), now))

    def failed(self, username: str, address: str, now: float) -> None:
        for key in (("user", username), ("address", address)):
            record = self._current(key, now)
            if record is None:
                record = self._failures[key] = _Failures(0, now)
            record.count += 1
            record.last = now
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_tracked:
            self._failures.popitem(last=False)

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop(("user", username), None)
        self._failures.pop(("address", address), None)

    def _current(self, key: tuple[str, str], now: float) -> _Failures | None:
        record = self._failures.get(key)
        if record is not None and now - record.last >= self.forget_after:
            del self._failures[key]
            return None
        return record

    def _wait(self, key: tuple[str, str], now: float) -> float:
        record = self._current(key, now)
        if record is None or record.count < self.free_failures:
            return 0.0
        extra = record.count - self.free_failures
        delay = min(self.max_delay, self.first_delay * float(2 ** min(extra, 32)))
        return max(0.0, record.last + delay - now)
