"""`strobe tasks list`'s elapsed column: running tasks count up, finished ones show their total."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.client.commands import elapsed

NOW = datetime(2026, 12, 3, 8, 0, 0, tzinfo=UTC)


def task(status: str, created: str, updated: str) -> dict[str, str]:
    return {"status": status, "created": created, "updated": updated}


def test_a_running_task_counts_up_to_now() -> None:
    running = task("processing", "2026-12-03T07:57:55.500Z", "2026-12-03T07:58:00.000Z")
    assert elapsed(running, NOW) == "2m04s"


def test_a_finished_task_shows_its_total() -> None:
    done = task("ready", "2026-12-03T07:59:50.000Z", "2026-12-03T07:59:52.250Z")
    assert elapsed(done, NOW) == "2.2s"
    long_error = task("error", "2026-12-03T05:00:00Z", "2026-12-03T06:01:02Z")
    assert elapsed(long_error, NOW) == "1h01m02s"


def test_a_task_without_times_shows_a_dash() -> None:
    assert elapsed({"status": "waiting"}, NOW) == "-"
