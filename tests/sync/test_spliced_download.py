"""Downloads spliced from encoded changesets are byte for byte what the
table-driven codec (msgpack.packb of the message's map) writes."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sync_strategies import changesets

from studio.primitives.instructions import Changeset, CreateObject, Set
from studio.sync.history import RemoteChangeset
from studio.sync.protocol import Download, DownloadProgress, EncodedChangesets, encode_message
from studio.sync.protocol.codec import decode_server_message, message_to_wire
from studio.sync.protocol.spliced import array_header, bin_header, uint_bytes

u64 = st.integers(0, 2**64 - 1)
downloads = st.builds(
    Download,
    st.integers(1, 2**64 - 1),
    st.lists(
        st.builds(RemoteChangeset, st.integers(1, 2**64 - 1), u64, changesets), max_size=4
    ).map(tuple),
    st.tuples(u64, u64).map(lambda t: DownloadProgress(min(t), max(t))),
    u64,
)


def packed(message: Download, cache: EncodedChangesets | None = None) -> bytes:
    """What the codec's table-driven encoder writes."""
    return msgpack.packb(message_to_wire(message, cache), use_bin_type=True)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(downloads)
def test_spliced_download_is_the_packed_message(message: Download) -> None:
    assert encode_message(message) == packed(message)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(downloads)
def test_spliced_download_from_a_shared_cache_is_the_packed_message(message: Download) -> None:
    cache = EncodedChangesets()
    first = encode_message(message, cache)  # fills the cache
    assert first == encode_message(message, cache) == packed(message, cache)


def item(n: int, size: int = 1) -> Changeset:
    return Changeset(3, n, 0, 1_700_000_000_000, (
        CreateObject("Item", n), Set("Item", n, ("name",), "x" * size),
    ))  # fmt: skip


@pytest.mark.parametrize("entries", [0, 1, 15, 16, 17, 300])
@pytest.mark.parametrize("size", [1, 300, 70_000])
def test_array_and_bin_headers_at_every_width(entries: int, size: int) -> None:
    # 15/16 entries: fixarray -> array16; 300 B and 70 kB changesets: bin16, bin32.
    shared = item(1, size)
    remote = tuple(RemoteChangeset(n + 1, n % 3, shared) for n in range(entries))
    message = Download(7, remote, DownloadProgress(entries, entries + 5), 2)
    cache = EncodedChangesets()
    assert encode_message(message, cache) == packed(message, cache) == packed(message)
    assert decode_server_message(encode_message(message, cache)).progress == message.progress


@pytest.mark.parametrize(
    "n",
    [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63, 2**64 - 1],
)
def test_uint_bytes_is_msgpack_packing(n: int) -> None:
    assert uint_bytes(n) == msgpack.packb(n)


@pytest.mark.parametrize("n", [0, 15, 16, 65535, 65536])
def test_headers_are_msgpack_headers(n: int) -> None:
    assert array_header(n) == msgpack.packb([None] * n)[: -n or None]
    assert bin_header(n) == msgpack.packb(b"\0" * n, use_bin_type=True)[: -n or None]


def test_the_cache_keeps_its_latest_entries() -> None:
    cache = EncodedChangesets(max_entries=2)
    for n in range(1, 4):
        cache.encode(RemoteChangeset(n, 0, item(n)))
    assert len(cache) == 2
    message = Download(1, (RemoteChangeset(1, 0, item(1)),), DownloadProgress(1, 3), 0)
    # Version 1 was dropped: encoded again, the same bytes.
    assert encode_message(message, cache) == packed(message)
    cache.forget_through(2)
    assert len(cache) == 1


def test_integers_the_splice_cannot_write_are_left_to_msgpack() -> None:
    # Never made by the server; encoded (and refused by the decoder) as before.
    message = Download(1, (RemoteChangeset(-1, 0, item(1)),), DownloadProgress(0, 0), 0)
    assert encode_message(message) == packed(message)
    with pytest.raises(OverflowError):
        encode_message(Download(1, (), DownloadProgress(0, 0), 2**64))
