"""The dispatcher's logic against a real SQLite store and an in-memory actor pool."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.executor import Failure, Job, JobResult
from pipeline.runtime.dispatcher import STOP_GRACE_S, Dispatcher
from pipeline.runtime.host import TaskStatus
from pipeline.runtime.retry import RetryPolicy
from pipeline.store import TaskRecord
from pipeline.store.sqlite import SQLiteStore
from tests.support.records import file_record, output_for, task_record

OWNER, OTHER = "worker-1", "worker-2"
PROJECT = "prj_a"


class FakePool:
    """Actors as slots per kind. Jobs finish when the test says so, or at once via `handler`."""

    def __init__(
        self, slots: dict[str, int], handler: Callable[[Job], JobResult] | None = None
    ) -> None:
        self.slots, self.handler = slots, handler
        self.submitted: list[Job] = []
        self.busy: dict[str, Job] = {}
        self.done: list[JobResult] = []
        self.scaled: list[dict[str, int]] = []
        self.status: dict[str, TaskStatus] = {}
        self.stopped: list[tuple[str, Failure]] = []
        self.killed: list[tuple[str, Failure]] = []

    def free_slots(self, kind: str) -> int:
        return self.slots.get(kind, 0) - sum(job.kind == kind for job in self.busy.values())

    def submit(self, job: Job) -> None:
        assert self.free_slots(job.kind) > 0, "the dispatcher overfilled a kind"
        self.submitted.append(job)
        self.busy[job.task_id] = job
        if self.handler:
            self.finish(self.handler(job))

    def finish(self, result: JobResult) -> None:
        del self.busy[result.task_id]
        self.done.append(result)

    def wait(self, timeout_s: float) -> list[JobResult]:
        done, self.done = self.done, []
        return done

    def scale(self, waiting: dict[str, int], workers: int) -> None:
        self.scaled.append(dict(waiting))
        self.workers = workers

    def statuses(self) -> dict[str, TaskStatus]:
        return {t: s for t, s in self.status.items() if t in self.busy}

    def stop(self, task_id: str, failure: Failure) -> None:
        self.stopped.append((task_id, failure))

    def kill(self, task_id: str, failure: Failure) -> None:
        self.killed.append((task_id, failure))
        self.finish(JobResult(task_id, error=failure))

    def snapshot(self) -> dict[str, Any]:
        return {"actors": {}, "blocked": {}, "actor_starts": 0}


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "strobe.db")


def make_dispatcher(
    store: SQLiteStore,
    pool: FakePool,
    *,
    kinds: list[str] | None = None,
    lease_s: float = 60.0,
    retry: RetryPolicy | None = None,
    budget_s: float = 600.0,
    clock: Callable[[], float] = time.monotonic,
) -> Dispatcher:
    return Dispatcher(
        store,
        pool,
        owner=OWNER,
        kinds=kinds or ["image"],
        lease_s=lease_s,
        retry=retry or RetryPolicy(),
        budget=lambda kind, options, media_s: budget_s + (media_s or 0.0),
        poll_s=0.0,
        clock=clock,
    )


def add_tasks(store: SQLiteStore, count: int, **fields: Any) -> list[TaskRecord]:
    tasks = [task_record(n=n, **fields) for n in range(count)]
    for task in tasks:
        store.create_task(task)
    return tasks


def stored(store: SQLiteStore, task: TaskRecord) -> TaskRecord:
    found = store.get_task(task.project_id, task.id)
    assert found is not None
    return found


def failure(task_id: str, *, retryable: bool, code: str = "input_unreachable") -> JobResult:
    message = f"{code} happened"
    return JobResult(task_id, error=Failure(code, message, retryable))


# --- leasing -----------------------------------------------------------------------------


def test_leases_only_as_many_tasks_as_there_are_free_slots(store: SQLiteStore) -> None:
    tasks = add_tasks(store, 5)
    pool = FakePool({"image": 2})
    dispatcher = make_dispatcher(store, pool)

    assert dispatcher.lease() == 2
    assert [job.task_id for job in pool.submitted] == [tasks[0].id, tasks[1].id]
    assert set(dispatcher.running) == {tasks[0].id, tasks[1].id}
    assert [stored(store, t).status for t in tasks] == ["processing"] * 2 + ["waiting"] * 3
    assert stored(store, tasks[0]).lease_owner == OWNER

    assert dispatcher.lease() == 0  # no free slot, nothing more taken
    assert stored(store, tasks[2]).status == "waiting"

    pool.finish(JobResult(tasks[0].id, output=output_for(tasks[0])))
    assert dispatcher.lease() == 1
    assert pool.submitted[-1].task_id == tasks[2].id


def test_leases_only_the_kinds_it_serves_and_skips_full_kinds(store: SQLiteStore) -> None:
    [video] = add_tasks(store, 1, kind="video", options={"format": "mp4"})
    [audio] = add_tasks(store, 1, kind="audio", options={"format": "mp3"})
    [image] = add_tasks(store, 1)
    pool = FakePool({"image": 0, "audio": 1, "video": 1})
    dispatcher = make_dispatcher(store, pool, kinds=["image", "audio"])

    assert dispatcher.lease() == 1
    assert [job.task_id for job in pool.submitted] == [audio.id]
    assert stored(store, image).status == "waiting"  # its kind has no free slot
    assert stored(store, video).status == "waiting"  # not served here


def test_a_job_carries_the_task_and_its_input(store: SQLiteStore) -> None:
    source = file_record(project_id=PROJECT, filename="in.png")
    store.create_file(source)
    [by_url] = add_tasks(store, 1, options={"format": "png", "width": 10})
    by_file = task_record(n=1, input_file_id=source.id)
    store.create_task(by_file)
    pool = FakePool({"image": 2})

    assert make_dispatcher(store, pool).lease() == 2
    assert pool.submitted == [
        Job(
            task_id=by_url.id,
            project_id=PROJECT,
            kind="image",
            options={"format": "png", "width": 10},
            input_url=by_url.input_url,
            input_key=None,
            owner=OWNER,
        ),
        Job(
            task_id=by_file.id,
            project_id=PROJECT,
            kind="image",
            options={"format": "jpeg"},
            input_url=None,
            input_key=source.storage_key,
            owner=OWNER,
        ),
    ]


def test_a_task_whose_input_file_is_gone_fails_without_running(store: SQLiteStore) -> None:
    task = task_record(input_file_id="file_gone")
    store.create_task(task)
    pool = FakePool({"image": 1})
    dispatcher = make_dispatcher(store, pool)

    assert dispatcher.lease() == 0
    assert pool.submitted == []
    assert dispatcher.running == {}
    failed = stored(store, task)
    assert (failed.status, failed.error_code) == ("error", "input_unreadable")
    assert "file_gone" in (failed.error_message or "")


# --- recording results -------------------------------------------------------------------


def test_a_finished_job_completes_its_task(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    pool = FakePool({"image": 1})
    dispatcher = make_dispatcher(store, pool)
    dispatcher.lease()
    output = output_for(task, filesize=4321)

    pool.finish(JobResult(task.id, output=output, ran_on="node-7"))
    dispatcher.step()

    done = stored(store, task)
    assert (done.status, done.progress, done.output, done.ran_on) == (
        "ready",
        100,
        output,
        "node-7",
    )
    assert store.get_file(PROJECT, output.id) == output
    assert dispatcher.running == {} and dispatcher.unrecorded == []


def test_a_permanent_failure_is_an_error_at_once(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    pool = FakePool({"image": 1})
    dispatcher = make_dispatcher(store, pool)
    dispatcher.lease()

    pool.finish(failure(task.id, retryable=False, code="no_video_stream"))
    dispatcher.step()

    failed = stored(store, task)
    assert (failed.status, failed.error_code, failed.error_message, failed.attempts) == (
        "error",
        "no_video_stream",
        "no_video_stream happened",
        1,
    )
    assert dispatcher.running == {}


def test_a_retryable_failure_waits_out_its_backoff(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    pool = FakePool({"image": 1})
    dispatcher = make_dispatcher(store, pool, retry=RetryPolicy(max_attempts=3, base_delay_s=30))
    dispatcher.lease()

    pool.finish(failure(task.id, retryable=True))
    dispatcher.step()  # records the failure, then tries to lease again

    waiting = stored(store, task)
    assert (waiting.status, waiting.attempts, waiting.lease_owner) == ("waiting", 1, None)
    assert dispatcher.lease() == 0  # 30 s backoff: not runnable yet
    assert store.lease(OTHER, ["image"], 10, 60, 3) == []


def test_retryable_failures_run_again_until_attempts_run_out(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    pool = FakePool({"image": 1}, handler=lambda job: failure(job.task_id, retryable=True))
    dispatcher = make_dispatcher(store, pool, retry=RetryPolicy(max_attempts=3, base_delay_s=0))

    seen = []
    for _ in range(5):
        dispatcher.step()
        seen.append((stored(store, task).status, stored(store, task).attempts))
    assert seen[:3] == [("waiting", 1), ("waiting", 2), ("error", 3)]
    assert seen[3:] == [("error", 3)] * 2  # nothing leases an errored task
    assert len(pool.submitted) == 3
    assert stored(store, task).error_code == "input_unreachable"


def test_a_result_for_a_task_it_does_not_hold_is_ignored(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    dispatcher = make_dispatcher(store, FakePool({"image": 0}))
    dispatcher.record(failure(task.id, retryable=False))
    assert stored(store, task).status == "waiting"


def test_a_result_after_the_lease_was_lost_is_dropped(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    pool = FakePool({"image": 1})
    dispatcher = make_dispatcher(store, pool, lease_s=0.2)
    dispatcher.lease()
    time.sleep(0.3)
    [taken] = store.lease(OTHER, ["image"], 1, 60, 3)  # another worker takes it over

    pool.finish(JobResult(task.id, output=output_for(task)))
    dispatcher.step()

    current = stored(store, task)
    assert (current.status, current.lease_owner, current.attempts) == ("processing", OTHER, 2)
    assert current.output is None
    assert dispatcher.running == {}


def test_results_are_kept_while_the_store_is_down_and_recorded_later(tmp_path: Path) -> None:
    class FlakyStore(SQLiteStore):
        down = False

        def complete(self, *args: Any, **kwargs: Any) -> bool:
            if self.down:
                raise sqlite3.OperationalError("unable to open database file")
            return super().complete(*args, **kwargs)

    store = FlakyStore(tmp_path / "strobe.db")
    [task] = add_tasks(store, 1)
    pool = FakePool({"image": 1})
    dispatcher = make_dispatcher(store, pool)
    dispatcher.lease()
    result = JobResult(task.id, output=output_for(task))
    pool.finish(result)

    store.down = True
    with pytest.raises(sqlite3.OperationalError):
        dispatcher.step()
    assert dispatcher.unrecorded == [result]
    assert stored(store, task).status == "processing"

    store.down = False
    dispatcher.step()
    assert dispatcher.unrecorded == []
    assert stored(store, task).status == "ready"


# --- heartbeats and shutdown -------------------------------------------------------------


def test_heartbeats_keep_the_lease_of_running_tasks(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    dispatcher = make_dispatcher(store, FakePool({"image": 1}), lease_s=0.3)
    dispatcher.lease()
    time.sleep(0.15)  # past lease_s / 3: a heartbeat is due
    dispatcher.heartbeat()
    time.sleep(0.2)  # past the first lease's expiry, not the renewed one's
    assert store.lease(OTHER, ["image"], 1, 60, 3) == []
    assert stored(store, task).lease_owner == OWNER


def test_release_all_puts_running_tasks_back_to_waiting(store: SQLiteStore) -> None:
    tasks = add_tasks(store, 3)
    dispatcher = make_dispatcher(store, FakePool({"image": 2}))
    dispatcher.lease()

    dispatcher.release_all()

    assert dispatcher.running == {}
    assert [stored(store, t).status for t in tasks] == ["waiting"] * 3
    assert stored(store, tasks[0]).lease_owner is None
    assert [stored(store, t).attempts for t in tasks] == [0, 0, 0]  # a shutdown is no attempt
    taken = store.lease(OTHER, ["image"], 10, 60, 3)  # at once, by anyone
    assert [t.id for t in taken] == [t.id for t in tasks]


def test_run_serves_until_stopped(store: SQLiteStore) -> None:
    tasks = add_tasks(store, 5)
    by_id = {t.id: t for t in tasks}
    pool = FakePool(
        {"image": 2},
        handler=lambda job: JobResult(job.task_id, output=output_for(by_id[job.task_id])),
    )
    dispatcher = make_dispatcher(store, pool)
    deadline = time.monotonic() + 10

    def all_ready() -> bool:
        assert time.monotonic() < deadline, "the dispatcher did not finish the tasks"
        return all(stored(store, t).status == "ready" for t in tasks)

    dispatcher.run(all_ready)
    assert len(pool.submitted) == 5


def test_stopping_run_releases_what_is_still_running(store: SQLiteStore) -> None:
    tasks = add_tasks(store, 3)
    dispatcher = make_dispatcher(store, FakePool({"image": 2}))
    calls = iter(range(3))
    dispatcher.run(lambda: next(calls, None) is None)
    assert dispatcher.running == {}
    assert [stored(store, t).status for t in tasks] == ["waiting"] * 3
    assert [stored(store, t).attempts for t in tasks] == [0, 0, 0]  # released, not spent


def test_the_pool_hears_how_many_tasks_wait_per_kind(store: SQLiteStore) -> None:
    add_tasks(store, 2, kind="video")
    pool = FakePool({"image": 0, "video": 0})  # no actor for either kind yet
    dispatcher = make_dispatcher(store, pool, kinds=["image", "video"])
    dispatcher.step()
    assert pool.scaled == [{"image": 0, "video": 2}]
    assert pool.submitted == []  # nothing is leased for an actor that is not there


# --- watching running tasks --------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_reported_by_the_actor_reaches_the_store(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    pool = FakePool({"image": 1})
    dispatcher = make_dispatcher(store, pool)
    dispatcher.lease()
    pool.status[task.id] = TaskStatus(0.42, 10.0, True)
    dispatcher.watch()
    assert stored(store, task).progress == 42
    pool.status[task.id] = TaskStatus(0.30, 10.0, True)  # never backwards
    dispatcher.watch()
    assert stored(store, task).progress == 42


def test_a_task_past_its_budget_is_stopped_then_killed(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    pool, clock = FakePool({"image": 1}), Clock()
    dispatcher = make_dispatcher(store, pool, budget_s=100.0, clock=clock)
    dispatcher.lease()
    pool.status[task.id] = TaskStatus(0.5, 20.0, True)  # 20 s of media: 120 s budget
    clock.now += 110
    dispatcher.watch()
    assert pool.stopped == []  # within the budget the input's length allows
    clock.now += 20
    dispatcher.watch()
    [(stopped_id, why)] = pool.stopped
    assert (stopped_id, why.code, why.retryable) == (task.id, "timeout", False)
    assert "120 s budget" in why.message
    clock.now += STOP_GRACE_S / 2
    dispatcher.watch()
    assert pool.killed == []  # it has a grace period to stop by itself
    clock.now += STOP_GRACE_S
    dispatcher.watch()
    assert [t for t, _ in pool.killed] == [task.id]
    dispatcher.step()  # the killed job's result is recorded
    failed = stored(store, task)
    assert (failed.status, failed.error_code) == ("error", "timeout")
    assert dispatcher.running == {}


def test_a_fetch_past_the_budget_is_a_retryable_timeout(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    pool, clock = FakePool({"image": 1}), Clock()
    dispatcher = make_dispatcher(
        store, pool, budget_s=30.0, clock=clock, retry=RetryPolicy(base_delay_s=60)
    )
    dispatcher.lease()
    pool.status[task.id] = TaskStatus(0.0, None, False)  # still fetching the input
    clock.now += 31
    dispatcher.watch()
    [(_, why)] = pool.stopped
    assert (why.code, why.retryable) == ("timeout", True)
    pool.finish(JobResult(task.id, error=why))  # it stopped when asked
    dispatcher.step()
    waiting = stored(store, task)
    assert (waiting.status, waiting.error_code) == ("waiting", "timeout")
    assert pool.killed == []


def test_a_cancelled_task_is_stopped_in_its_actor(store: SQLiteStore) -> None:
    [task] = add_tasks(store, 1)
    pool = FakePool({"image": 1})
    dispatcher = make_dispatcher(store, pool)
    dispatcher.lease()
    store.cancel(task.project_id, task.id)
    dispatcher.heartbeat()
    assert [(t, f.code) for t, f in pool.stopped] == [(task.id, "cancelled")]
    assert stored(store, task).error_code == "cancelled"


def test_the_worker_reports_its_actors_and_oldest_task(store: SQLiteStore) -> None:
    add_tasks(store, 2)
    pool, clock = FakePool({"image": 2}), Clock()
    dispatcher = make_dispatcher(store, pool, clock=clock)
    dispatcher.lease()
    clock.now += 12.5
    dispatcher.report()
    [report] = store.worker_reports(max_age_s=60)
    assert (report["running"], report["oldest_running_s"]) == (2, 12.5)
    dispatcher.release_all()
    assert store.worker_reports(max_age_s=60) == []


def test_dispatchers_sharing_the_queue_tell_the_pool_how_many_they_are(
    store: SQLiteStore,
) -> None:
    add_tasks(store, 4)
    store.report_worker(OTHER, {"running": 0})  # another worker, alive
    pool = FakePool({"image": 0})
    dispatcher = make_dispatcher(store, pool)
    dispatcher.report()
    dispatcher.scale()
    assert pool.scaled[-1] == {"image": 4} and pool.workers == 2
