"""Query language benchmark: prints one JSON line.

Builds a class of N objects (default 1,000,000) with raw sqlite3 inserts in the
storage layout (docs/storage-layout.md), then for each query measures, in the same
run and on the same file:

- the time of a count through the query plan (``QueryPlan.count_sql()``), against a
  hand-written SQL count of the same objects (the physical limit); ``ratio`` is
  plan / hand (target <= 1.5, aim 1.1);
- parse + compile time of the query (parse cache cleared each time; target < 1 ms).

Each timing is the median of several runs, alternating plan and hand-written SQL
so both see the same cache state.

Usage: python benchmarks/bench_query.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.query import QueryPlan
from studio.core.query.parser import parse
from studio.core.schema import ObjectSchema, parse_schema
from studio.core.storage import class_table_ddl, configure_connection

SCHEMA = [
    {
        "name": "Person",
        "properties": {
            "name": {"type": "string", "indexed": True},
            "age": "int",
            "dog": "Dog?",
            "tags": "string[]",
            "bio": {"type": "string", "indexed": "full-text"},
        },
    },
    {"name": "Dog", "properties": {"name": {"type": "string", "indexed": True}}},
]

PERSON = '"class_Person"'
DOG = '"class_Dog"'
TAGS = '"list:Person.tags"'
BIO = '"fts:Person.bio"'

# (name, query, arguments, hand-written SQL count, its parameters)
QUERIES: list[tuple[str, str, list[Any], str, list[Any]]] = [
    (
        "indexed string equality",
        "name == $0", ["name 4242"],
        f"SELECT count(*) FROM {PERSON} WHERE name = ?", ["name 4242"],
    ),
    (
        "int range",
        "age >= 30 AND age < 40", [],
        f"SELECT count(*) FROM {PERSON} WHERE age >= 30 AND age < 40", [],
    ),
    (
        "BEGINSWITH[c]",
        "name BEGINSWITH[c] 'NAME 12'", [],
        f"SELECT count(*) FROM {PERSON} WHERE name LIKE 'name 12%'", [],
    ),
    (
        "to-one link path",
        "dog.name == 'dog 42'", [],
        f'SELECT count(*) FROM {PERSON} AS p JOIN {DOG} AS d ON d."@key" = p.dog '
        "WHERE d.name = 'dog 42'",
        [],
    ),
    (
        "ANY list == x",
        "ANY tags == 'tag 7'", [],
        f'SELECT count(*) FROM {PERSON} WHERE "@key" IN '
        f"(SELECT owner FROM {TAGS} WHERE value = 'tag 7')",
        [],
    ),
    (
        "list.@count > n",
        "tags.@count > 2", [],
        f"SELECT count(*) FROM (SELECT owner FROM {TAGS} GROUP BY owner HAVING count(*) > 2)",
        [],
    ),
    (
        "full-text TEXT",
        "bio TEXT 'word42 -word7'", [],
        # The objects found through the FTS5 index, as one would join them by hand.
        f'SELECT count(*) FROM {PERSON} AS p JOIN {BIO} AS f ON f.rowid = p."@key" '
        f"WHERE {BIO} MATCH '\"word42\" NOT \"word7\"'", [],
    ),
    (
        "arithmetic",
        "age * 2 + 1 > $0", [150],
        f"SELECT count(*) FROM {PERSON} WHERE age * 2 + 1 > ?", [150],
    ),
]


def build(path: Path, rows: int, seed: int = 7) -> sqlite3.Connection:
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    configure_connection(conn)
    classes = parse_schema(SCHEMA)
    conn.execute("BEGIN")
    for cls in classes:
        for statement in class_table_ddl(cls):
            conn.execute(statement)
    dogs = max(1, rows // 100)
    conn.executemany(f"INSERT INTO {DOG} (name) VALUES (?)",
                     ((f"dog {i}",) for i in range(dogs)))
    conn.executemany(
        f"INSERT INTO {PERSON} (name, age, dog, bio) VALUES (?, ?, ?, ?)",
        (
            (f"name {i}", rng.randrange(100), rng.randrange(1, dogs + 1) if i % 10 else None,
             f"Word{rng.randrange(1000)} and word{rng.randrange(1000)}, common.")
            for i in range(rows)
        ),
    )

    def tags() -> Any:
        for owner in range(1, rows + 1):
            for pos in range(rng.randrange(5)):
                yield owner, pos, f"tag {rng.randrange(1000)}"

    conn.executemany(f"INSERT INTO {TAGS} (owner, pos, value) VALUES (?, ?, ?)", tags())
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    return conn


def timed(conn: sqlite3.Connection, sql: str, params: list[Any]) -> tuple[float, int]:
    start = time.perf_counter()
    count = conn.execute(sql, params).fetchone()[0]
    return time.perf_counter() - start, int(count)


def per_run(conn: sqlite3.Connection, sql: str, params: list[Any]) -> tuple[float, int]:
    """Seconds per execution; fast statements are repeated until 20 ms have passed."""
    elapsed, count = timed(conn, sql, params)
    if elapsed >= 0.02:
        return elapsed, count
    runs = max(1, int(0.02 / max(elapsed, 1e-7)))
    start = time.perf_counter()
    for _ in range(runs):
        conn.execute(sql, params).fetchone()
    return (time.perf_counter() - start) / runs, count


def compile_time(schema: dict[str, ObjectSchema], query: str, args: list[Any]) -> float:
    runs = 300
    start = time.perf_counter()
    for _ in range(runs):
        parse.cache_clear()
        QueryPlan(schema, "Person").filtered(query, args).count_sql()
    return (time.perf_counter() - start) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    started = time.perf_counter()
    schema = {c.name: c for c in parse_schema(SCHEMA)}
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        build_start = time.perf_counter()
        conn = build(Path(tmp) / "query.realm", options.rows)
        build_seconds = time.perf_counter() - build_start
        for name, query, args, hand_sql, hand_params in QUERIES:
            plan_sql, plan_params = QueryPlan(schema, "Person").filtered(query, args).count_sql()
            # Warm up both (page cache, statement cache), then alternate.
            _, plan_count = timed(conn, plan_sql, plan_params)
            _, hand_count = timed(conn, hand_sql, hand_params)
            if plan_count != hand_count:
                raise SystemExit(f"{name}: plan counted {plan_count}, SQL {hand_count}")
            plan_times, hand_times = [], []
            for _ in range(options.repeat):
                plan_times.append(per_run(conn, plan_sql, plan_params)[0])
                hand_times.append(per_run(conn, hand_sql, hand_params)[0])
            plan_s, hand_s = statistics.median(plan_times), statistics.median(hand_times)
            results.append({
                "name": name,
                "query": query,
                "count": plan_count,
                "plan_ms": round(plan_s * 1000, 4),
                "hand_sql_ms": round(hand_s * 1000, 4),
                "ratio": round(plan_s / hand_s, 3),
                "compile_ms": round(compile_time(schema, query, args) * 1000, 4),
            })
        conn.close()
    print(json.dumps({
        "benchmark": "query",
        "rows": options.rows,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "build_s": round(build_seconds, 2),
        "queries": results,
        "max_ratio": max(r["ratio"] for r in results),
        "max_compile_ms": max(r["compile_ms"] for r in results),
        "targets": {"ratio": 1.5, "compile_ms": 1.0},
        "total_s": round(time.perf_counter() - started, 2),
    }))


if __name__ == "__main__":
    main()
