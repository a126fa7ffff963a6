"""How far the server compacts (studio.server.compaction.compaction_target)
and the flags that steer it; integration during a compaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.primitives.instructions import Changeset, CreateObject
from studio.server.compaction import compaction_target
from studio.server.config import parse_config
from studio.server.errors import ConfigError
from studio.sync.history import ServerHistory, plan_compaction

HOUR_MS = 3600 * 1000


def history_with_progress() -> tuple[ServerHistory, int, int]:
    """Ten versions integrated an hour apart; client a has integrated up to
    9 (the base of its last upload), client b up to 3."""
    history = ServerHistory()
    a, b = history.allocate_file_ident(), history.allocate_file_ident()
    for n in range(1, 11):
        history.integrate(
            a, [Changeset(a, n, n - 1, n, (CreateObject("Item", n),))], now_ms=n * HOUR_MS
        )
    history.record_progress(b, 3)
    return history, a, b


def target(history: ServerHistory, *, bound: tuple[int, ...] = (), retention_hours: float | None,
           now_hours: float = 11, stored: int = 10, state: int = 10) -> int:
    return compaction_target(
        history,
        stored=stored,
        state=state,
        bound=bound,
        retention_ms=None if retention_hours is None else int(retention_hours * HOUR_MS),
        now_ms=int(now_hours * HOUR_MS),
    )


def test_without_retention_every_client_holds_compaction_back() -> None:
    history, _, _ = history_with_progress()
    assert target(history, retention_hours=None) == 3
    assert target(history, retention_hours=None, now_hours=10_000) == 3


def test_a_client_silent_for_longer_than_the_retention_no_longer_holds_it_back() -> None:
    history, _, b = history_with_progress()
    # b lacks version 4, integrated 7 hours before "now": with 8 hours of
    # retention it still holds compaction back, with 6 it does not.
    assert target(history, retention_hours=8) == 3
    assert target(history, retention_hours=6) == 9
    # Bound right now: it holds compaction back whatever the retention.
    assert target(history, retention_hours=6, bound=(b,)) == 3
    # And a silent for long too: the latest stored version.
    assert target(history, retention_hours=0.5) == 10


def test_never_past_what_is_stored_or_what_the_state_applied() -> None:
    history, _, _ = history_with_progress()
    assert target(history, retention_hours=0.5, stored=6) == 6
    assert target(history, retention_hours=0.5, state=5) == 5


def test_uploads_integrated_while_a_compaction_is_planned_stay() -> None:
    history, a, _ = history_with_progress()
    source = history.compaction_source(5)
    assert source is not None
    # Integrated after the source was taken, before the compaction is applied.
    history.integrate(a, [Changeset(a, 11, 10, 11, (CreateObject("Item", 11),))])
    history.apply_compaction(plan_compaction(source))
    assert history.base_version == 5
    assert [e.server_version for e in history.entries()] == [6, 7, 8, 9, 10, 11]
    batch = history.download(history.allocate_file_ident(), 0)
    created = [i.primary_key for r in batch.changesets for i in r.changeset.instructions]
    assert created == list(range(1, 12))
    # A second plan made on the old floor is refused, not applied twice.
    with pytest.raises(Exception, match="planned on floor 0"):
        history.apply_compaction(plan_compaction(source))


def test_retention_flags(tmp_path: Path) -> None:
    data = ["--data", str(tmp_path)]
    defaults = parse_config(data, env={})
    assert defaults.history_retention is None
    assert (defaults.compaction_interval, defaults.compaction_min_versions) == (3600.0, 1000)
    config = parse_config(
        [*data, "--history-retention", "30d", "--compaction-interval", "15m",
         "--compaction-min-versions", "10"],
        env={},
    )
    assert config.history_retention == 30 * 86400
    assert (config.compaction_interval, config.compaction_min_versions) == (900.0, 10)
    assert parse_config([*data, "--history-retention", "0"], env={}).history_retention is None
    assert parse_config([*data, "--history-retention", "12h"], env={}).history_retention == 43200
    with pytest.raises(SystemExit):
        parse_config([*data, "--history-retention", "soon"], env={})
    with pytest.raises(ConfigError, match="at least 1"):
        parse_config([*data, "--compaction-min-versions", "0"], env={})
