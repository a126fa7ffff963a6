"""Operational transformation of concurrent changesets (pure functions).

The public entry points: :func:`transform`, :func:`transform_against`,
:func:`rebase`, :class:`ConcurrentChangesets` and
:func:`transform_instructions` (in :mod:`~studio.sync.merge.transform`, which
explains the method), :func:`order_key`, :func:`interaction_keys` and
:class:`TouchIndex` (the server's fast path).

Inside: ``rules`` (how one instruction is rewritten after a concurrent one),
``index`` (a changeset indexed by the objects it touches), ``driver`` (the
transformation of two indexed changesets), ``transform`` (changesets and
sequences of them), ``touch_index`` (what the latest server versions touched).
"""

from __future__ import annotations

from studio.sync.merge.index import interaction_keys
from studio.sync.merge.touch_index import TouchIndex
from studio.sync.merge.transform import (
    ConcurrentChangesets,
    order_key,
    rebase,
    transform,
    transform_against,
    transform_instructions,
)

__all__ = [
    "ConcurrentChangesets",
    "TouchIndex",
    "interaction_keys",
    "order_key",
    "rebase",
    "transform",
    "transform_against",
    "transform_instructions",
]
