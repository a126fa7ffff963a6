"""A guard against a reference-counting bug of PySide6 6.12 on Python 3.11.

PySide6 6.12.0 built for Python 3.11 drops one reference to ``None`` on every call of a
C++ method that returns ``void`` (``label.setText(...)``, ``beginInsertRows()``...) and
on ``QModelIndex.data()`` returning nothing; a few tens of thousands of calls later the
interpreter aborts with "deallocating None". Python 3.12 made ``None``, ``True`` and
``False`` immortal, which hides the bug there; on 3.11 we give them a reference count
that no program can use up. PySide6 6.11 does not have the bug.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 40


def protect_singletons() -> bool:
    """Raise the reference counts of None/True/False out of reach (CPython < 3.12 only)."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    for obj in (None, True, False):
        count = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field
        if count.value < _HEADROOM:
            count.value += _HEADROOM
    return True
