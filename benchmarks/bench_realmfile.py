"""Benchmark of the Realm Core file reader; prints one JSON line.

- ``open_ms``: opening rc__test_upgrade_database_1000_24.realm and reading its
  schema (header, table list, specs; no object is decoded), median of 50 runs.
- ``decode_objects_per_s`` / ``decode_values_per_s``: reading every property of
  all 10,001 objects of class ``table`` from a freshly opened file (cold caches:
  every column leaf is decoded), median of ``RUNS`` runs; ``decode_best_objects_per_s``
  is the fastest run. ``decode_cpu_objects_per_s`` is the same median in process
  CPU time, which moves less when other programs load the machine.
- ``warm_objects_per_s``: a second pass over the same open file (every column
  already decoded): the cost of the access path alone.
- ``to_dict_objects_per_s``: the cold decode with ``obj.to_dict()`` (links
  resolved to primary keys, the nested Mixed decoded), median of ``RUNS`` runs.
- The physical limit, measured in the same run: ``copy_ms`` copies the whole
  mapped file through a memoryview and ``sha256_ms`` hashes it (median of
  ``RUNS`` runs each); ``bytes_read`` is what the decode touched (the node
  headers and payloads it read), ``decode_vs_sha256`` how many times slower
  than hashing the file the decode is.

Usage: ``.venv/bin/python benchmarks/bench_realmfile.py`` (about 5 s).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import statistics
import sys
import time
from pathlib import Path

from studio.realmfile import RealmFile

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "realm-corpus"
FILE = CORPUS / "rc__test_upgrade_database_1000_24.realm"
RUNS = 9


def bench_open(runs: int = 50) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        with RealmFile.open(FILE) as rf:
            rf.object_schema("table")
            rf.object_schema("target")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_all(rf: RealmFile) -> tuple[int, int]:
    objects = values = 0
    for obj in rf.objects("table"):
        for name in obj:
            obj[name]
            values += 1
        objects += 1
    return objects, values


def bench_decode(runs: int = RUNS) -> dict[str, float | int]:
    wall, cpu, warm = [], [], []
    objects = values = bytes_read = 0
    for _ in range(runs):
        with RealmFile.open(FILE) as rf:
            start, start_cpu = time.perf_counter(), time.process_time()
            objects, values = read_all(rf)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            start = time.perf_counter()
            read_all(rf)
            warm.append(time.perf_counter() - start)
            # Every node read is in the header cache: header plus payload bytes.
            bytes_read = sum(8 + h.byte_size for h in rf._buf._headers.values())
    return {
        "objects": objects,
        "values": values,
        "bytes_read": bytes_read,
        "decode_s": statistics.median(wall),
        "best_s": min(wall),
        "cpu_s": statistics.median(cpu),
        "warm_s": statistics.median(warm),
    }


def bench_to_dict(runs: int = RUNS) -> tuple[float, int]:
    times = []
    count = 0
    for _ in range(runs):
        with RealmFile.open(FILE) as rf:
            start = time.perf_counter()
            count = sum(1 for obj in rf.objects("table") if obj.to_dict())
            times.append(time.perf_counter() - start)
    return statistics.median(times), count


def bench_raw_bytes(runs: int = RUNS) -> tuple[float, float]:
    """Median seconds to copy, and to SHA-256, the whole mapped file."""
    copies, hashes = [], []
    with open(FILE, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for _ in range(runs):
            start = time.perf_counter()
            with memoryview(mm) as view:
                bytes(view)
            copies.append(time.perf_counter() - start)
            start = time.perf_counter()
            hashlib.sha256(mm).digest()
            hashes.append(time.perf_counter() - start)
    return statistics.median(copies), statistics.median(hashes)


def main() -> int:
    if not FILE.exists():
        print(json.dumps({"benchmark": "realmfile", "error": f"corpus file missing: {FILE}"}))
        return 1
    open_s = bench_open()
    decode = bench_decode()
    dict_s, dict_objects = bench_to_dict()
    copy_s, sha_s = bench_raw_bytes()
    objects = int(decode["objects"])
    result = {
        "benchmark": "realmfile",
        "file": FILE.name,
        "file_bytes": FILE.stat().st_size,
        "objects": objects,
        "runs": RUNS,
        "open_ms": round(open_s * 1000, 3),
        "decode_s": round(decode["decode_s"], 4),
        "decode_objects_per_s": round(objects / decode["decode_s"]),
        "decode_values_per_s": round(decode["values"] / decode["decode_s"]),
        "decode_best_objects_per_s": round(objects / decode["best_s"]),
        "decode_cpu_objects_per_s": round(objects / decode["cpu_s"]),
        "warm_objects_per_s": round(objects / decode["warm_s"]),
        "to_dict_objects_per_s": round(dict_objects / dict_s),
        "bytes_read": decode["bytes_read"],
        "copy_ms": round(copy_s * 1000, 3),
        "sha256_ms": round(sha_s * 1000, 3),
        "decode_vs_sha256": round(decode["decode_s"] / sha_s, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
