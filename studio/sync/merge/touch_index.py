"""Which objects the latest server versions touched, for the merge's fast path.

Integrating an upload based on server version B means transforming it
against every other client's changeset after B. Most uploads interact with
none of them (clients mostly write their own objects), and then the
transformation changes nothing: the upload goes into the history as it came.
:class:`TouchIndex` answers "does anything after B interact with these
changesets?" from a few dictionary lookups, instead of indexing every
changeset after B (what :class:`~studio.sync.merge.ConcurrentChangesets`
does, and still does when the answer is yes).

It remembers, for each object and schema item, the last server version that
touched it, erased it, or wrote a link to it. To bound memory it keeps two
generations of ``generation`` versions each and forgets older ones, so it can
only answer for bases that are recent enough (:meth:`TouchIndex.covers`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Final

from studio.primitives.instructions import Instruction
from studio.sync.merge.index import interaction_keys

DEFAULT_GENERATION: Final = 4096


class _Generation:
    __slots__ = ("count", "erased", "linked", "start", "touched")

    def __init__(self, start: int) -> None:
        self.start = start  # the first server version indexed here
        self.count = 0
        # key -> the last server version (in this generation) that...
        self.touched: dict[Hashable, int] = {}  # had instructions on it
        self.erased: dict[Hashable, int] = {}  # erased it
        self.linked: dict[Hashable, int] = {}  # wrote a link to it


class TouchIndex:
    """The interaction keys of the latest server versions (see the module
    docstring). Versions must be added in order, with no gaps."""

    __slots__ = ("_current", "_generation", "_previous")

    def __init__(self, first_version: int = 1, generation: int = DEFAULT_GENERATION) -> None:
        if generation < 1:
            raise ValueError(f"a generation holds at least one version, got {generation}")
        self._generation = generation
        self._current = _Generation(first_version)
        self._previous: _Generation | None = None

    @property
    def next_version(self) -> int:
        return self._current.start + self._current.count

    def covers(self, base: int) -> bool:
        """Whether every server version after ``base`` is indexed."""
        oldest = self._previous if self._previous is not None else self._current
        return oldest.start - 1 <= base < self.next_version

    def add(self, server_version: int, instructions: Sequence[Instruction]) -> None:
        current = self._current
        if server_version != self.next_version:
            raise ValueError(
                f"server version {server_version} added out of order "
                f"(expected {self.next_version})"
            )
        if current.count >= self._generation:
            self._previous = current
            current = self._current = _Generation(server_version)
        current.count += 1
        touched, erased, targets = interaction_keys(_as_tuple(instructions))
        for key in touched:
            current.touched[key] = server_version
        for key in erased:
            current.erased[key] = server_version
        for key in targets:
            current.linked[key] = server_version

    def interacts_after(self, base: int, instructions: Iterable[Sequence[Instruction]]) -> bool:
        """Whether a changeset after ``base`` interacts with any of
        ``instructions`` (the instruction tuples of an upload). Only
        meaningful when :meth:`covers` ``base``."""
        current, previous = self._current, self._previous
        for row in instructions:
            touched, erased, targets = interaction_keys(_as_tuple(row))
            for generation in (current, previous):
                if generation is None:
                    continue
                # Touches of the same object or schema item; our links to
                # what they erased; their links to what we erase.
                for keys, seen in (
                    (touched, generation.touched),
                    (targets, generation.erased),
                    (erased, generation.linked),
                ):
                    if seen:
                        for key in keys:
                            version = seen.get(key)
                            if version is not None and version > base:
                                return True
        return False


def _as_tuple(instructions: Sequence[Instruction]) -> tuple[Instruction, ...]:
    # The merge caches indexes by the identity of (immutable) tuples.
    return instructions if type(instructions) is tuple else tuple(instructions)
