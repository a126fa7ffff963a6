"""Changeset codec and merge benchmark: prints one JSON line.

Measured in one run:

- encode and decode throughput of ``studio.sync.changeset`` (instructions/s)
  on a realistic mix (sets of strings/numbers/dates, adds, list and dictionary
  edits, links; ObjectId primary keys), against ``msgpack.packb``/``unpackb``
  of the same information as plain tuples of msgpack-native values (the
  physical limit: no string table, no validation), with the ratios;
- merge: transforming one 100-instruction upload against 100 concurrent
  changesets of 10 instructions each, on the same 50 objects (what the server
  does for a client that was offline while others wrote), both with the pure
  ``transform_against`` and through ``ServerHistory.integrate``; and the
  contended worst case where every instruction edits the same list;
- a large offline upload (``upload_1000_*``): 1,000 changesets (10
  instructions on 2 objects each) made offline on server version 0,
  integrated after 1,000 changesets of other clients, half of them on the
  objects the upload edits and half on other objects; next to integrating the
  same upload with nothing concurrent (the cost of integration itself), and
  the pure merge (``rebase``). Throughput is upload instructions per second.

Usage: python benchmarks/bench_merge.py [--instructions 100000]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.primitives.instructions import (
    AddInteger,
    Changeset,
    CreateObject,
    DictSet,
    Instruction,
    Link,
    ListErase,
    ListInsert,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.primitives.objectid import ObjectId
from studio.sync.changeset import decode_changeset, encode_changeset
from studio.sync.history import ServerHistory
from studio.sync.merge import rebase, transform_against

CLASS = "Task"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def best_of(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def make_instruction(rnd: random.Random, pks: list[ObjectId]) -> Instruction:
    pk = rnd.choice(pks)
    roll = rnd.random()
    if roll < 0.10:
        return CreateObject(CLASS, pk)
    if roll < 0.35:
        return SetValue(CLASS, pk, ("title",), f"task {rnd.randrange(10**6)}")
    if roll < 0.45:
        return SetValue(CLASS, pk, ("priority",), rnd.randrange(10))
    if roll < 0.50:
        return SetValue(CLASS, pk, ("done",), rnd.random() < 0.5)
    if roll < 0.55:
        return SetValue(CLASS, pk, ("estimate",), rnd.random() * 10)
    if roll < 0.60:
        when = EPOCH + timedelta(microseconds=rnd.randrange(2 * 10**15))
        return SetValue(CLASS, pk, ("due",), when)
    if roll < 0.65:
        return SetValue(CLASS, pk, ("owner",), Link("Person", rnd.choice(pks)))
    if roll < 0.72:
        return AddInteger(CLASS, pk, ("views",), rnd.randrange(1, 5))
    if roll < 0.82:
        return ListInsert(CLASS, pk, ("tags",), rnd.randrange(5), f"tag{rnd.randrange(50)}")
    if roll < 0.86:
        return ListErase(CLASS, pk, ("tags",), rnd.randrange(3))
    if roll < 0.93:
        return DictSet(CLASS, pk, ("meta",), f"k{rnd.randrange(20)}", rnd.randrange(100))
    if roll < 0.97:
        return SetInsert(CLASS, pk, ("labels",), f"l{rnd.randrange(20)}")
    return SetValue(CLASS, pk, ("checklist", rnd.randrange(3), "text"), "item")


def plain_value(value: Any) -> Any:
    """The same information as msgpack-native values."""
    if isinstance(value, ObjectId):
        return value.binary
    if isinstance(value, datetime):
        return (value - EPOCH) // timedelta(microseconds=1)
    if isinstance(value, Link):
        return (value.class_name, plain_value(value.primary_key))
    return value


def plain_tuple(ins: Instruction) -> tuple[Any, ...]:
    fields = [type(ins).__name__]
    for name in ins.__slots__:
        fields.append(plain_value(getattr(ins, name)))
    return tuple(fields)


def bench_codec(count: int, per_changeset: int = 100) -> dict[str, float]:
    rnd = random.Random(1)
    pks = [ObjectId(rnd.randbytes(12)) for _ in range(500)]
    changesets = [
        Changeset(
            7,
            n + 1,
            n,
            1_700_000_000_000 + n,
            tuple(make_instruction(rnd, pks) for _ in range(per_changeset)),
        )
        for n in range(count // per_changeset)
    ]
    total = sum(len(c.instructions) for c in changesets)
    plain = [
        (
            c.origin_file_ident,
            c.client_version,
            c.last_integrated_server_version,
            c.timestamp_ms,
            [plain_tuple(i) for i in c.instructions],
        )
        for c in changesets
    ]

    packb, unpackb = msgpack.packb, msgpack.unpackb
    encoded = [encode_changeset(c) for c in changesets]
    raw_encoded = [packb(p, use_bin_type=True) for p in plain]
    # Interleave ours and the raw baseline, best of several rounds each, so a
    # burst of load on the machine does not land on one side of a ratio only.
    timings: dict[str, float] = {}
    runs: dict[str, Callable[[], object]] = {
        "encode": lambda: [encode_changeset(c) for c in changesets],
        "raw_pack": lambda: [packb(p, use_bin_type=True) for p in plain],
        "decode": lambda: [decode_changeset(b) for b in encoded],
        "raw_unpack": lambda: [unpackb(b, raw=False) for b in raw_encoded],
    }
    for _ in range(5):
        for name, run in runs.items():
            timings[name] = min(timings.get(name, float("inf")), best_of(1, run))
    encode, raw_pack = timings["encode"], timings["raw_pack"]
    decode, raw_unpack = timings["decode"], timings["raw_unpack"]
    assert [decode_changeset(b) for b in encoded[:3]] == changesets[:3]
    return {
        "instructions": total,
        "encode_instructions_per_s": round(total / encode),
        "decode_instructions_per_s": round(total / decode),
        "raw_packb_instructions_per_s": round(total / raw_pack),
        "raw_unpackb_instructions_per_s": round(total / raw_unpack),
        "encode_vs_raw_ratio": round(raw_pack / encode, 3),
        "decode_vs_raw_ratio": round(raw_unpack / decode, 3),
        "bytes_per_instruction": round(sum(map(len, encoded)) / total, 1),
        "raw_bytes_per_instruction": round(sum(map(len, raw_encoded)) / total, 1),
    }


def merge_workload(
    contended: bool, upload_size: int = 100, concurrent: int = 100, each: int = 10
) -> tuple[Changeset, list[Changeset]]:
    rnd = random.Random(2)
    pks = [ObjectId(rnd.randbytes(12)) for _ in range(1 if contended else 50)]

    def instruction() -> Instruction:
        if contended:
            pk = pks[0]
            roll = rnd.random()
            if roll < 0.5:
                return ListInsert(CLASS, pk, ("tags",), rnd.randrange(20), "x")
            if roll < 0.7:
                return ListErase(CLASS, pk, ("tags",), rnd.randrange(10))
            return SetValue(CLASS, pk, ("title",), "t")
        return make_instruction(rnd, pks)

    others = [
        Changeset(n + 2, 1, 0, 1_000 + n, tuple(instruction() for _ in range(each)))
        for n in range(concurrent)
    ]
    upload = Changeset(1, 1, 0, 1_050, tuple(instruction() for _ in range(upload_size)))
    return upload, others


def bench_merge(contended: bool) -> dict[str, float]:
    upload, others = merge_workload(contended)
    seconds = best_of(5, lambda: transform_against(upload, others))
    total = len(upload.instructions) + sum(len(c.instructions) for c in others)

    def integrate() -> None:
        history = ServerHistory()
        idents = {c.origin_file_ident: history.allocate_file_ident() for c in [upload, *others]}
        for c in others:
            history.integrate(idents[c.origin_file_ident], [c])
        # The upload is based on version 0: it meets all 100 as concurrent.
        start = time.perf_counter()
        history.integrate(idents[upload.origin_file_ident], [upload])
        integrate_times.append(time.perf_counter() - start)

    integrate_times: list[float] = []
    for _ in range(3):
        integrate()
    prefix = "contended_" if contended else ""
    return {
        f"{prefix}merge_ms": round(seconds * 1000, 2),
        f"{prefix}merge_instructions_per_s": round(total / seconds),
        f"{prefix}integrate_upload_ms": round(min(integrate_times) * 1000, 2),
    }


def offline_upload_workload(
    changesets: int = 1000, objects: int = 2, each: int = 5, pool: int = 1000
) -> tuple[list[Changeset], list[Changeset]]:
    """``changesets`` uploaded changesets made offline on version 0, and as
    many changesets of 10 other clients integrated meanwhile (each on the
    latest version), every other one on the upload's objects. A changeset is
    a write transaction editing ``objects`` objects with ``each`` instructions."""
    rnd = random.Random(3)
    shared = [ObjectId(rnd.randbytes(12)) for _ in range(pool)]
    elsewhere = [ObjectId(rnd.randbytes(12)) for _ in range(pool)]

    def changeset(origin: int, version: int, timestamp: int, pks: list[ObjectId]) -> Changeset:
        instructions: list[Instruction] = []
        for _ in range(objects):
            pk = [rnd.choice(pks)]
            instructions += [make_instruction(rnd, pk) for _ in range(each)]
        return Changeset(origin, version, 0, timestamp, tuple(instructions))

    others = [
        changeset(2 + n % 10, n // 10 + 1, 1_000 + 2 * n, shared if n % 2 == 0 else elsewhere)
        for n in range(changesets)
    ]
    upload = [changeset(1, n + 1, 1_001 + 2 * n, shared) for n in range(changesets)]
    return upload, others


def bench_offline_upload() -> dict[str, float]:
    upload, others = offline_upload_workload()
    ours = sum(len(c.instructions) for c in upload)
    theirs = sum(len(c.instructions) for c in others)

    def history_with_others() -> tuple[ServerHistory, int]:
        history = ServerHistory()
        # Origins are 1 (the upload) and 2-11: allocated in order, idents match.
        while history.allocate_file_ident() < 11:
            pass
        for c in others:
            based = dataclasses.replace(c, last_integrated_server_version=history.latest_version)
            history.integrate(c.origin_file_ident, [based])
        return history, upload[0].origin_file_ident

    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], object]) -> None:
        start = time.perf_counter()
        fn()
        timings[name] = min(timings.get(name, float("inf")), time.perf_counter() - start)

    for _ in range(5):
        concurrent, ident = history_with_others()
        timed("integrate", functools.partial(concurrent.integrate, ident, upload))
        alone = ServerHistory()
        assert alone.allocate_file_ident() == ident
        timed("alone", functools.partial(alone.integrate, ident, upload))
        timed("merge", functools.partial(rebase, upload, others))
    assert len(concurrent.entries()) == 2 * len(upload) and len(alone.entries()) == len(upload)
    integrate, alone_s, merge = timings["integrate"], timings["alone"], timings["merge"]
    return {
        "upload_1000_instructions": ours,
        "upload_1000_concurrent_instructions": theirs,
        "upload_1000_integrate_ms": round(integrate * 1000, 1),
        "upload_1000_integrate_instructions_per_s": round(ours / integrate),
        "upload_1000_no_concurrency_ms": round(alone_s * 1000, 1),
        "upload_1000_no_concurrency_instructions_per_s": round(ours / alone_s),
        "upload_1000_merge_ms": round(merge * 1000, 1),
        "upload_1000_merge_instructions_per_s": round(ours / merge),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", type=int, default=100_000)
    args = parser.parse_args()
    started = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "merge", "python": platform.python_version()}
    result.update(bench_codec(args.instructions))
    result.update(bench_merge(contended=False))
    result.update(bench_merge(contended=True))
    result.update(bench_offline_upload())
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
