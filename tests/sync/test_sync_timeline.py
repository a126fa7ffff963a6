"""studio.sync.timeline: marks only while installed, in memory or as lines a
benchmark reads back from another process."""

from __future__ import annotations

from pathlib import Path

from studio.sync import timeline


def test_marks_are_recorded_only_while_a_timeline_is_installed() -> None:
    timeline.mark("before")  # nothing installed: a no-op
    recorder = timeline.Timeline()
    timeline.install(recorder)
    try:
        timeline.mark("a", 7)
        timeline.mark("b")
    finally:
        timeline.install(None)
    timeline.mark("after")
    assert [(m.stage, m.key) for m in recorder.marks] == [("a", 7), ("b", 0)]
    first, second = recorder.marks
    assert second.wall >= first.wall and second.cpu >= first.cpu


def test_a_process_writes_marks_that_another_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "marks.txt"
    with open(path, "w") as sink:
        writer = timeline.Timeline(sink)
        writer.mark("server.fsynced", 3)
        writer.mark("server.sent")
    assert writer.marks == []  # written, not kept
    marks = timeline.read_marks(str(path))
    assert [(m.stage, m.key) for m in marks] == [("server.fsynced", 3), ("server.sent", 0)]
    assert marks[1].wall >= marks[0].wall
