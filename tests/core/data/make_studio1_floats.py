"""Writes studio-1-floats.realm, the test fixture of the studio-1 -> studio-2 layout
upgrade, with the code of a studio version that writes studio-1 (float and double
columns with REAL affinity). Kept to show how the committed file was made:

    git archive 746b278 studio | tar -x -C /tmp/studio-1
    PYTHONPATH=/tmp/studio-1 python tests/core/data/make_studio1_floats.py OUT.realm
"""

from __future__ import annotations

import math
import sqlite3
import sys

from studio.core import Realm

SCHEMA = [
    {
        "name": "Reading",
        "primaryKey": "id",
        "properties": {
            "id": "int",
            "d": "double",
            "f": "float",
            "maybe": "double?",
            "label": {"type": "string", "indexed": "full-text"},
            "any": "mixed",
            "series": "double[]",
            "levels": "float<>",
            "named": "double{}",
        },
    }
]

VALUES = [0.0, -0.0, 1.5, 3.0, math.nan, math.inf, -math.inf, 1e300, -2.25]


def main(path: str) -> None:
    realm = Realm.open(path, schema=SCHEMA, record_history=True)
    with realm.write():
        for i, value in enumerate(VALUES):
            realm.create("Reading", {
                "id": i, "d": value, "f": value, "maybe": value if i % 2 else None,
                "label": f"reading number {i}", "any": value,
                "series": [value, 1.0, -0.0], "levels": [value, 2.0],
                "named": {"v": value, "z": -0.0},
            })  # fmt: skip
        realm.create("Reading", {"id": 100, "d": 1.0, "f": 1.0, "label": "gone"})
    with realm.write():
        realm.delete(realm.object_for_primary_key("Reading", 100))
    realm.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
