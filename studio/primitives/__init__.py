"""The vocabulary the store and sync share: value types and changesets.

``objectid`` (:class:`ObjectId`) and ``instructions`` (the instruction
dataclasses, :class:`Link`, :data:`EMBEDDED` and :class:`Changeset`). This
package imports only the standard library, so the sans-I/O sync protocol and
the merge can speak in changesets without loading the SQLite store;
``studio.core`` re-exports :class:`ObjectId` as part of its public API.
``waiting`` (:func:`~studio.primitives.waiting.wait_event`) is the one way the
layers wait for an asyncio event with a timeout (see why there).
"""

from __future__ import annotations

from studio.primitives.instructions import Changeset, Instruction
from studio.primitives.objectid import ObjectId

__all__ = ["Changeset", "Instruction", "ObjectId"]
