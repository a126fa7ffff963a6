"""Small configurations of the benchmarks run in the suite, so they keep working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(script: str, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout  # one JSON line, nothing else
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    return data


def test_bench_core_small() -> None:
    data = run_benchmark(
        "bench_core.py", "--objects", "3000", "--notify-objects", "20000", "--repeats", "1"
    )
    assert data["objects"] == 3000
    for key in ("insert_objects_per_s", "create_many_objects_per_s",
                "plain_sqlite_executemany_rows_per_s", "raw_sqlite_executemany_rows_per_s",
                "pk_lookups_per_s", "iterate_objects_per_s", "notify_latency_ms_modify",
                "notify_latency_ms_move"):
        assert isinstance(data[key], int | float) and data[key] > 0, key
    for key in ("insert_ratio_vs_raw", "insert_ratio_vs_plain", "create_many_ratio_vs_raw",
                "create_many_ratio_vs_plain"):
        assert 0 < data[key] < 5, key  # type: ignore[operator]


def test_bench_query_small() -> None:
    data = run_benchmark("bench_query.py", "--rows", "3000", "--repeat", "1")
    assert len(json.dumps(data)) > 50


def test_bench_realmfile() -> None:
    data = run_benchmark("bench_realmfile.py")
    assert any("objects" in key for key in data)


def test_bench_ui_small() -> None:
    data = run_benchmark("bench_ui.py", "--objects", "3000", "--commits", "2", "--history", "300")
    assert len(data) >= 5
    assert 0 < data["inspector_update_ms"] <= data["inspector_first_ms"] * 50
    assert data["sort_unindexed_s"] > 0 and data["sort_stall_max_ms"] >= 0
    assert data["history_changesets"] == 300 and data["past_version"] == 150
    assert data["past_version_open_s"] > 0 and data["past_version_forward_ms"] > 0


def test_bench_sync_small() -> None:
    data = run_benchmark(
        "bench_sync.py", "--quick", "--idle", "50", "--objects", "500", "--pings", "10",
        "--seconds", "0.5", "--compaction-changesets", "0",
    )  # fmt: skip
    assert data["latency_samples"] == 10 and data["idle_connections"] == 50
    assert data["download_objects"] == 500
    for key in ("echo_rtt_p50_ms", "latency_p50_ms", "changesets_per_s", "app_changesets_per_s",
                "download_s", "idle_server_rss_mb"):
        assert isinstance(data[key], int | float) and data[key] > 0, key


def test_bench_sync_compaction_small() -> None:
    data = run_benchmark(
        "bench_sync.py", "--only-compaction", "--compaction-changesets", "1500",
        "--compaction-objects", "50",
    )  # fmt: skip
    assert data["bootstrap_before_changesets"] == 1500
    assert data["compaction_versions_before"] == 1500
    assert 1 <= data["bootstrap_after_changesets"] < 1500  # type: ignore[operator]
    assert data["bootstrap_after_bytes"] < data["bootstrap_before_bytes"]  # type: ignore[operator]
    assert data["compaction_bytes_after"] < data["compaction_bytes_before"]  # type: ignore[operator]
    for key in ("bootstrap_before_s", "bootstrap_after_s", "compaction_s"):
        assert isinstance(data[key], int | float) and data[key] >= 0, key


def test_bench_merge_small() -> None:
    data = run_benchmark("bench_merge.py", "--instructions", "2000")
    assert len(data) >= 5


def test_bench_dashboard_small() -> None:
    data = run_benchmark("bench_dashboard.py", "--rate", "100", "--seconds", "1", "--warmup", "0.5")
    assert len(data) >= 3


def test_bench_churn_small() -> None:
    data = run_benchmark(
        "bench_churn.py", "--quick", "--rounds", "2", "--connections", "30", "--slowloris", "10",
        "--health-samples", "5", "--stuck", "1", "--stuck-binds", "2", "--history-kb", "40",
    )  # fmt: skip
    assert data["rounds"] == 2 and data["slowloris_sockets"] == 10
    rss = data["rss_mb"]
    assert isinstance(rss, list) and len(rss) == 2 and all(r > 0 for r in rss)
    assert data["stuck_clients"] == 1
    for key in ("health_p50_ms", "slowloris_health_p99_ms", "connections_per_s",
                "stuck_health_p99_ms"):
        assert isinstance(data[key], int | float) and data[key] > 0, key


def test_bench_pg_append_small() -> None:
    data = run_benchmark("bench_pg_append.py", "--appends", "40", "--rounds", "2")
    assert data["appends"] == 40 and data["synchronous_commit"] == "on"
    for key in ("raw_insert_per_s", "psycopg_append_per_s", "asyncpg_append_per_s",
                "studio_append_per_s"):
        assert isinstance(data[key], int | float) and data[key] > 0, key


def test_bench_client_history_small() -> None:
    data = run_benchmark("bench_client_history.py", "--transactions", "200", "--batch", "50")
    assert data["offline_history_rows"] == 200
    for label in ("online", "after_sync", "online_again"):
        assert data[f"{label}_history_rows"] == 0, label


def test_bench_client_apply_small() -> None:
    data = run_benchmark("bench_client_apply.py", "--downloads", "400")
    assert data["downloads"] == 400
    applied, raw = data["cpu_us_per_download_p50"], data["raw_sqlite_txn_cpu_us_p50"]
    assert isinstance(applied, float) and isinstance(raw, float) and 0 < raw < applied


def test_bench_failover_small() -> None:
    data = run_benchmark("bench_failover.py", "--runs", "1", "--clients", "2")
    assert data["runs"] == 1 and data["mode"] == "failover"
    assert data["acknowledged_missing"] == data["duplicates"] == data["missing"] == 0
    assert data["replicas_equal"] is True and data["acknowledged_before_kill"] > 0
    for key in ("resume_after_kill_s_median", "resume_after_recovery_s_median", "recovery_s_max"):
        assert isinstance(data[key], int | float) and data[key] > 0, key


def test_bench_integrations_small() -> None:
    data = run_benchmark(
        "bench_integrations.py", "--quick", "--objects", "1000", "--samples", "10",
        "--burst", "50",
    )  # fmt: skip
    assert data["objects"] == 1000 and data["samples"] == 10 and data["burst_transactions"] == 50
    for key in ("commit_to_handler_p50_ms", "handler_write_to_device_p50_ms",
                "handler_events_per_s", "handler_transactions_per_s", "rest_get_page_p50_ms",
                "rest_post_to_device_p50_ms"):
        assert isinstance(data[key], int | float) and data[key] > 0, key


def test_bench_adapter_small() -> None:
    data = run_benchmark("bench_adapter.py", "--objects", "300", "--samples", "3")
    assert data["objects"] == 300 and data["samples"] == 3
    for key in ("realm_to_pg_rows_per_s", "streaming_rows_per_s", "end_to_end_rows_per_s",
                "raw_executemany_rows_per_s", "raw_copy_rows_per_s", "sql_update_to_device_p50_ms"):
        assert isinstance(data[key], int | float) and data[key] > 0, key


def test_bench_cluster_latency_small() -> None:
    data = run_benchmark("bench_cluster.py", "--parts", "latency", "--pings", "5")
    for key in ("cross_latency_p50_ms", "pg_one_latency_p50_ms", "sqlite_one_latency_p50_ms",
                "pg_commit_p50_ms"):
        assert isinstance(data[key], int | float) and data[key] > 0, key
