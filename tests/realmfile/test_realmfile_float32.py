"""Single-precision floats read as the shortest decimal that round-trips in float32
(issue 16, defect 6): 3.14, not 3.140000104904175, in the reader, the browser's cells
and ``convert``."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable
from pathlib import Path

from realmfile_builder import FLOAT, NULLABLE, Builder, Col, add_table

from studio.core import Realm
from studio.realmfile import RealmFile
from studio.realmfile.convert import convert
from studio.realmfile.leaves import shortest_float32

Write = Callable[[bytes], Path]


def _f32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def test_shortest_decimal_that_round_trips() -> None:
    assert shortest_float32(_f32(3.14)) == 3.14
    assert repr(shortest_float32(_f32(0.1))) == "0.1"
    assert shortest_float32(_f32(1e-7)) == 1e-7
    assert shortest_float32(_f32(16777217.0)) == 16777216.0  # float32 has no 16777217
    assert shortest_float32(_f32(3.4028234663852886e38)) == 3.4028235e38  # the largest
    assert shortest_float32(-0.0) == 0.0 and math.copysign(1, shortest_float32(-0.0)) < 0
    assert math.isnan(shortest_float32(math.nan))
    assert shortest_float32(math.inf) == math.inf
    rng = random.Random(16)
    for _ in range(20000):
        bits = rng.getrandbits(32)
        value = struct.unpack("<f", struct.pack("<I", bits))[0]
        if not math.isfinite(value):
            continue
        short = shortest_float32(value)
        # Reads back to the very same float32...
        assert struct.pack("<f", short) == struct.pack("<f", value), bits
        # ...and no shorter decimal would.
        digits = len(f"{short:.9e}".split("e")[0].replace("-", "").replace(".", "").rstrip("0"))
        if digits > 1:
            shorter = float(f"{value:.{digits - 1}g}")
            assert struct.pack("<f", shorter) != struct.pack("<f", value), bits


def _float_file(write: Write, floats: list[float | None]) -> Path:
    b = Builder()
    bits = [0x7FC000AA if f is None else struct.unpack("<I", struct.pack("<f", f))[0]
            for f in floats]
    cluster = b.cluster(len(floats), [b.floats(bits, False, raw_bits=True)])
    table = add_table(b, 0, [Col("f", FLOAT, NULLABLE)], cluster)
    return write(b.finish(b.group(["class_T"], [table]), 24))


def test_reader_and_convert_give_the_shortest_decimal(write_file: Write,
                                                      tmp_path: Path) -> None:
    floats = [3.14, 0.1, None, 2.5, 1e-7, 123456.7]
    path = _float_file(write_file, floats)
    with RealmFile.open(path) as rf:
        read = [o["f"] for o in rf.objects("T")]
        assert read == floats
        assert [repr(v) for v in read if v is not None] == ["3.14", "0.1", "2.5", "1e-07",
                                                            "123456.7"]
    out = tmp_path / "converted.realm"
    convert(path, out)
    with Realm.open(out) as realm:
        assert sorted(o["f"] for o in realm.objects("T") if o["f"] is not None) == \
            sorted(f for f in floats if f is not None)
