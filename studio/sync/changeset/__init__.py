"""The wire encoding of a :class:`~studio.primitives.instructions.Changeset` (msgpack).

Layout (one msgpack array)::

    [1, origin_file_ident, client_version, last_integrated_server_version,
     timestamp_ms, [string, ...], [instruction, ...]]

* ``1`` is the format version.
* Class names, property names, property types and dictionary keys are interned
  in the per-changeset string table and referred to by index: a changeset that
  sets ``Person.name`` on a thousand objects names ``Person`` and ``name`` once.
* Each instruction is an array ``[code, ...fields]``, see ``CODES`` in
  :mod:`studio.sync.changeset.format`.
* A path is an array of ints: ``n >= 0`` is string-table entry ``n`` (a
  property name or a dictionary key), ``n < 0`` is list index ``-n - 1``. So
  ``("items", 2, "name")`` is ``[s_items, -3, s_name]``.
* Values are msgpack natives (nil, bool, int64, float64, str, bin; msgpack keeps
  bool and int apart), msgpack's standard timestamp extension (-1) for dates,
  ext 1 = ObjectId (12 bytes), ext 2 = UUID (16 bytes), ext 3 = Decimal (its
  canonical ASCII ``str()``), and tagged arrays ``[0, class, pk]`` for a
  :class:`~studio.primitives.instructions.Link` and ``[1]`` for ``EMBEDDED``.

:func:`decode_changeset` is strict: malformed input (a wrong type anywhere,
an unknown code, tag or extension, an out-of-range or duplicate string-table
entry, a non-canonical decimal, trailing bytes) raises
:class:`~studio.sync.errors.RemoteProtocolError` naming the instruction and
field. (Unused string-table entries are tolerated.)

The encoder lives in :mod:`studio.sync.changeset.encode`, the decoder in
:mod:`studio.sync.changeset.decode`, the constants they share in
:mod:`studio.sync.changeset.format`; this module is their public face.
"""

from __future__ import annotations

from studio.sync.changeset.decode import changeset_from_wire, decode_changeset
from studio.sync.changeset.encode import (
    canonical_encoding,
    changeset_to_wire,
    encode_changeset,
    validate_changeset,
)
from studio.sync.changeset.format import (
    EXT_DECIMAL,
    EXT_OBJECTID,
    EXT_UUID,
    FORMAT_VERSION,
    TAG_EMBEDDED,
    TAG_LINK,
)

__all__ = [
    "EXT_DECIMAL",
    "EXT_OBJECTID",
    "EXT_UUID",
    "FORMAT_VERSION",
    "TAG_EMBEDDED",
    "TAG_LINK",
    "canonical_encoding",
    "changeset_from_wire",
    "changeset_to_wire",
    "decode_changeset",
    "encode_changeset",
    "validate_changeset",
]
