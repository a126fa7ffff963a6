"""Benchmark of the Realm Core file reader; prints one JSON line.

- ``open_ms``: opening rc__test_upgrade_database_1000_24.realm and reading its
  schema (header, table list, specs; no object is decoded), median of 50 runs.
- ``decode_objects_per_s`` / ``decode_values_per_s``: reading every property of
  all 10,001 objects of class ``table`` from a freshly opened file (cold caches),
  best of 3 runs.
- ``to_dict_objects_per_s``: the same with ``obj.to_dict()`` (links resolved to
  primary keys, the nested Mixed decoded).

Usage: ``.venv/bin/python benchmarks/bench_realmfile.py`` (about 5 s).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from studio.realmfile import RealmFile

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "realm-corpus"
FILE = CORPUS / "rc__test_upgrade_database_1000_24.realm"


def bench_open(runs: int = 50) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        with RealmFile.open(FILE) as rf:
            rf.object_schema("table")
            rf.object_schema("target")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_decode(runs: int = 3) -> tuple[float, int, int]:
    best = float("inf")
    objects = values = 0
    for _ in range(runs):
        with RealmFile.open(FILE) as rf:
            start = time.perf_counter()
            objects = values = 0
            for obj in rf.objects("table"):
                for name in obj:
                    obj[name]
                    values += 1
                objects += 1
            best = min(best, time.perf_counter() - start)
    return best, objects, values


def bench_to_dict(runs: int = 3) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(runs):
        with RealmFile.open(FILE) as rf:
            start = time.perf_counter()
            count = sum(1 for obj in rf.objects("table") if obj.to_dict())
            best = min(best, time.perf_counter() - start)
    return best, count


def main() -> int:
    if not FILE.exists():
        print(json.dumps({"benchmark": "realmfile", "error": f"corpus file missing: {FILE}"}))
        return 1
    open_s = bench_open()
    decode_s, objects, values = bench_decode()
    dict_s, dict_objects = bench_to_dict()
    result = {
        "benchmark": "realmfile",
        "file": FILE.name,
        "file_bytes": FILE.stat().st_size,
        "objects": objects,
        "open_ms": round(open_s * 1000, 3),
        "decode_s": round(decode_s, 3),
        "decode_objects_per_s": round(objects / decode_s),
        "decode_values_per_s": round(values / decode_s),
        "to_dict_objects_per_s": round(dict_objects / dict_s),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
