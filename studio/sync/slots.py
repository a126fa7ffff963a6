"""Building frozen slotted dataclasses without their ``__init__``.

A frozen dataclass's ``__init__`` sets each field through
``object.__setattr__``; on the server's hot path (a decoded upload, its
history entries) ``object.__new__`` and the slots' own setters build the
same object in about half the time. :func:`slot_setters` checks, once at
import, that the class has exactly the expected fields and nothing that runs
after ``__init__``, so a changed class fails loudly instead of half-built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

from studio.primitives.instructions import Changeset


def slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Callable[[Any, Any], None], ...]:
    """The setters of ``cls``'s slots ``names``, which must be all its fields, in order."""
    fields = tuple(f.name for f in dataclasses.fields(cls))
    if fields != names or hasattr(cls, "__post_init__"):
        raise RuntimeError(f"the fast constructor of {cls.__name__} is out of date")
    return tuple(getattr(cls, name).__set__ for name in names)


CHANGESET_SLOTS: Final = slot_setters(
    Changeset,
    (
        "origin_file_ident",
        "client_version",
        "last_integrated_server_version",
        "timestamp_ms",
        "instructions",
    ),
)
"""A :class:`Changeset`'s setters (the decoder's and the history's fast path)."""
