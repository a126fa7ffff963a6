"""Download messages spliced from pre-encoded changesets.

The server sends each integrated changeset to every other client bound to
the realm: one download entry ``[server_version,
last_integrated_client_version, bin]`` per changeset per receiving client.
Only the middle integer differs between clients, so :class:`EncodedChangesets`
keeps, per server version, the changeset's encoding and the msgpack bytes
around it (``[server_version, `` and the ``bin`` header), and
:func:`encode_download` joins those pieces into the message: the bytes are
exactly those ``msgpack.packb`` writes for the same message (the codec's
tests check it), with no list, tuple or integer object made per entry.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import msgpack

from studio.sync.changeset import encode_changeset
from studio.sync.changeset.format import pack_uint as uint_bytes
from studio.sync.history import RemoteChangeset

if TYPE_CHECKING:
    from studio.sync.protocol.messages import Download

_ARRAY_OF_THREE: Final = b"\x93"
_DOWNLOAD_HEAD: Final = (
    b"\x85" + msgpack.packb("type") + msgpack.packb("download") + msgpack.packb("session")
)
_CHANGESETS_KEY: Final = msgpack.packb("changesets")
_PROGRESS_SERVER_VERSION: Final = (
    msgpack.packb("progress") + b"\x82" + msgpack.packb("server_version")
)
_LATEST_SERVER_VERSION: Final = msgpack.packb("latest_server_version")
_UPLOAD_ACK: Final = msgpack.packb("upload_ack")


def array_header(n: int) -> bytes:
    """The msgpack header of an array of ``n`` elements."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 0x10000:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def bin_header(n: int) -> bytes:
    """The msgpack header of ``n`` bytes of ``bin`` (as ``use_bin_type=True`` writes it)."""
    if n < 0x100:
        return bytes((0xC4, n))
    if n < 0x10000:
        return b"\xc5" + n.to_bytes(2, "big")
    return b"\xc6" + n.to_bytes(4, "big")


_Pieces = tuple[bytes, bytes, bytes]
"""``(encoded changeset, b"\\x93" + packed server version, bin header)``."""


class EncodedChangesets:
    """Encoded changesets of one server history by server version, shared by
    the connections bound to that realm: a download going to many clients
    encodes each changeset once. Keeps the ``max_entries`` latest added."""

    __slots__ = ("_max", "_pieces")

    def __init__(self, max_entries: int = 4096) -> None:
        # OrderedDict: dropping the oldest is O(1) (``del d[next(iter(d))]``
        # on a dict scans every slot deleted before it).
        self._pieces: OrderedDict[int, _Pieces] = OrderedDict()
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._pieces)

    def encode(self, remote: RemoteChangeset) -> bytes:
        """The encoding of ``remote``'s changeset (made once per server version)."""
        pieces = self._pieces.get(remote.server_version)
        if pieces is None:
            pieces = self._add(remote)
        return pieces[0]

    def _add(self, remote: RemoteChangeset) -> _Pieces:
        pieces = _pieces_of(remote)
        if len(self._pieces) >= self._max:
            self._pieces.popitem(last=False)  # the oldest added
        self._pieces[remote.server_version] = pieces
        return pieces

    def forget_through(self, server_version: int) -> None:
        """Drop the versions up to ``server_version`` (a compaction gave
        them other changesets: the snapshot's)."""
        for version in [v for v in self._pieces if v <= server_version]:
            del self._pieces[version]

    def download_entries(self, changesets: tuple[RemoteChangeset, ...]) -> list[bytes]:
        """The msgpack array of download entries for ``changesets``, in pieces."""
        return _download_entries(changesets, self._pieces.get, self._add)


def _pieces_of(remote: RemoteChangeset) -> _Pieces:
    data = encode_changeset(remote.changeset)
    return data, _ARRAY_OF_THREE + uint_bytes(remote.server_version), bin_header(len(data))


def _no_pieces(server_version: int) -> None:
    return None


def _download_entries(
    changesets: tuple[RemoteChangeset, ...],
    get: Callable[[int], _Pieces | None],
    add: Callable[[RemoteChangeset], _Pieces],
) -> list[bytes]:
    parts = [array_header(len(changesets))]
    append = parts.append
    last_cv, cv_bytes = -1, b""
    for remote in changesets:
        pieces = get(remote[0])
        if pieces is None:
            pieces = add(remote)
        cv = remote[1]
        if cv != last_cv:  # mostly the same for a whole download
            last_cv, cv_bytes = cv, uint_bytes(cv)
        append(pieces[1])
        append(cv_bytes)
        append(pieces[2])
        append(pieces[0])
    return parts


def encode_download(message: Download, cache: EncodedChangesets | None = None) -> bytes:
    """``message`` as the codec encodes it (the same bytes), spliced from the
    encodings in ``cache`` (None: each changeset encoded here)."""
    progress = message.progress
    # The map's keys in the codec's order (type, session, changesets,
    # progress, upload_ack), all fixstr; every integer is unsigned.
    parts = [_DOWNLOAD_HEAD, uint_bytes(message.session), _CHANGESETS_KEY]
    if cache is None:
        parts += _download_entries(message.changesets, _no_pieces, _pieces_of)
    else:
        parts += cache.download_entries(message.changesets)
    parts += (
        _PROGRESS_SERVER_VERSION,
        uint_bytes(progress.server_version),
        _LATEST_SERVER_VERSION,
        uint_bytes(progress.latest_server_version),
        _UPLOAD_ACK,
        uint_bytes(message.upload_ack),
    )
    return b"".join(parts)
