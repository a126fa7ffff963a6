"""Protocol message codec benchmark: prints one JSON line.

Microseconds per ``encode_message`` and per strict decode
(``decode_client_message`` / ``decode_server_message``) of each message type:
small control messages (bind, ident, mark, ping, error), an upload of 10
changesets and a download of 100 (encoded through a shared
``EncodedChangesets``, as the server does). Each figure is the minimum over
many short samples of process CPU time, so that a loaded machine disturbs it
little; compare runs on one machine only.

Usage: python benchmarks/bench_protocol_codec.py [--samples 40]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from studio.primitives.instructions import Changeset, CreateObject, Set
from studio.sync.history import RemoteChangeset
from studio.sync.protocol import (
    Bind,
    Cursors,
    Download,
    DownloadProgress,
    Error,
    Ident,
    Mark,
    Ping,
    Upload,
    UploadProgress,
    decode_client_message,
    decode_server_message,
    encode_message,
)
from studio.sync.protocol.codec import EncodedChangesets


def _messages() -> dict[str, tuple[Any, Callable[[bytes], Any]]]:
    changesets = [
        Changeset(3, n + 1, 0, 1000 + n,
                  (CreateObject("Item", n), Set("Item", n, ("name",), f"item {n}")))
        for n in range(100)
    ]  # fmt: skip
    client, server = decode_client_message, decode_server_message
    return {
        "bind": (Bind(1, "/~/chat", "t" * 120, 7, Cursors(3, 2), 2**62 + 5), client),
        "ping": (Ping(123456789), client),
        "mark": (Mark(1, 5), client),
        "upload10": (Upload(1, tuple(changesets[:10]), UploadProgress(10, 0)), client),
        "ident": (Ident(1, 7, 2**62 + 5), server),
        "error": (Error(212, "the changeset is damaged", False, 1), server),
        "download100": (
            Download(
                1,
                tuple(RemoteChangeset(n + 1, 0, c) for n, c in enumerate(changesets)),
                DownloadProgress(100, 100),
                0,
            ),
            server,
        ),
    }


def _best(fn: Callable[[], Any], repeat: int, samples: int) -> float:
    best = float("inf")
    for _ in range(samples):
        started = time.process_time()
        for _ in range(repeat):
            fn()
        best = min(best, (time.process_time() - started) / repeat)
    return best * 1e6


def run(samples: int) -> dict[str, float]:
    out: dict[str, float] = {}
    cache = EncodedChangesets()
    for name, (message, decode) in _messages().items():
        repeat = 20 if "100" in name else (200 if "10" in name else 2000)
        data = encode_message(message, cache)
        out[f"encode_{name}_us"] = round(
            _best(lambda m=message: encode_message(m, cache), repeat, samples), 2
        )
        out[f"decode_{name}_us"] = round(
            _best(lambda d=data, f=decode: f(d), repeat, samples), 2
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(run(args.samples)))


if __name__ == "__main__":
    main()
