"""The store contract (tasks, the queue, files, the webhook outbox), run against every adapter."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from pipeline.store import Store, TaskQuery, TaskRecord
from tests.contract.conftest import StoreOpener
from tests.support.records import file_record, output_for, stamp, task_record

A, B = "prj_a", "prj_b"
OWNER, OTHER = "worker-1", "worker-2"
LEASE_S, MAX_ATTEMPTS = 60.0, 3


def add(store: Store, *tasks: TaskRecord) -> list[TaskRecord]:
    for task in tasks:
        store.create_task(task)
    return list(tasks)


def get(store: Store, task: TaskRecord) -> TaskRecord:
    found = store.get_task(task.project_id, task.id)
    assert found is not None
    return found


def lease(store: Store, owner: str = OWNER, limit: int = 10, **kw: Any) -> list[TaskRecord]:
    kinds = kw.pop("kinds", ["image"])
    return store.lease(
        owner, kinds, limit, kw.pop("lease_s", LEASE_S), kw.pop("max_attempts", MAX_ATTEMPTS)
    )


def ids(tasks: list[TaskRecord]) -> list[str]:
    return [t.id for t in tasks]


# --- tasks -------------------------------------------------------------------------------


def test_a_created_task_reads_back_unchanged(store: Store) -> None:
    task = task_record(
        options={"format": "png", "width": 320, "fit": "contain", "start": 1.5},
        updated=stamp(3),
    )
    store.create_task(task)
    assert store.get_task(A, task.id) == task


def test_a_task_on_a_file_with_a_webhook_reads_back_unchanged(store: Store) -> None:
    task = replace(task_record(input_file_id="file_in"), webhook_url="https://hooks.example/h")
    store.create_task(task)
    assert store.get_task(A, task.id) == task


def test_a_task_is_only_visible_to_its_project(store: Store) -> None:
    [task] = add(store, task_record(project_id=A))
    assert store.get_task(B, task.id) is None
    assert store.get_task(A, "tsk_missing") is None


def test_list_counts_and_pages(store: Store) -> None:
    tasks = add(store, *(task_record(n=n) for n in range(5)))
    newest_first = ids(tasks)[::-1]

    page = store.list_tasks(A, TaskQuery(page=1, limit=2))
    assert (page.total, ids(page.items)) == (5, newest_first[:2])
    assert ids(store.list_tasks(A, TaskQuery(page=2, limit=2)).items) == newest_first[2:4]
    last = store.list_tasks(A, TaskQuery(page=3, limit=2))
    assert (last.total, ids(last.items)) == (5, newest_first[4:])
    beyond = store.list_tasks(A, TaskQuery(page=4, limit=2))
    assert (beyond.total, beyond.items) == (5, [])


def test_list_only_shows_the_projects_tasks(store: Store) -> None:
    mine = add(store, task_record(n=0, project_id=A), task_record(n=2, project_id=A))
    theirs = add(store, task_record(n=1, project_id=B))
    page = store.list_tasks(A, TaskQuery())
    assert (page.total, set(ids(page.items))) == (2, set(ids(mine)))
    assert ids(store.list_tasks(B, TaskQuery()).items) == ids(theirs)
    assert store.list_tasks("prj_none", TaskQuery()).total == 0


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_sorts_by_created_and_updated(store: Store, order: str) -> None:
    # inserted out of order; `updated` runs the other way round from `created`
    tasks = [task_record(n=n, updated=stamp(100 - n)) for n in range(4)]
    add(store, tasks[2], tasks[0], tasks[3], tasks[1])
    by_created = ids(tasks) if order == "asc" else ids(tasks)[::-1]

    created = store.list_tasks(A, TaskQuery(sort="created", order=order, limit=10))
    assert ids(created.items) == by_created
    updated = store.list_tasks(A, TaskQuery(sort="updated", order=order, limit=10))
    assert ids(updated.items) == by_created[::-1]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_sorts_by_output_filesize_with_unfinished_tasks_last(store: Store, order: str) -> None:
    tasks = add(store, *(task_record(n=n) for n in range(4)))
    leased = lease(store, limit=3)
    for task, size in zip(leased, (300, 100, 200), strict=True):
        assert store.complete(task.id, OWNER, output_for(task, filesize=size))
    listed = store.list_tasks(A, TaskQuery(sort="filesize", order=order)).items
    sizes = [t.output.filesize if t.output else None for t in listed]
    assert sizes == ([100, 200, 300, None] if order == "asc" else [300, 200, 100, None])
    assert listed[-1].id == tasks[3].id


def test_list_filters_by_kind_and_status(store: Store) -> None:
    image0, image1 = add(store, task_record(n=0), task_record(n=1))
    [video] = add(store, task_record(n=2, kind="video", options={"format": "mp4"}))
    [failed] = add(store, task_record(n=3, status="error"))
    lease(store, limit=1)  # image0 -> processing

    def listed(**query: Any) -> set[str]:
        page = store.list_tasks(A, TaskQuery(limit=100, **query))
        assert page.total == len(page.items)
        return set(ids(page.items))

    assert listed(kind="video") == {video.id}
    assert listed(kind="image") == {image0.id, image1.id, failed.id}
    assert listed(status="processing") == {image0.id}
    assert listed(status="waiting") == {image1.id, video.id}
    assert listed(status="error") == {failed.id}
    assert listed(kind="image", status="waiting") == {image1.id}
    assert listed(kind="audio") == set()


# --- the queue ---------------------------------------------------------------------------


def test_lease_takes_the_oldest_waiting_tasks_of_the_kinds_asked(store: Store) -> None:
    images = [task_record(n=n, project_id=(A, B)[n % 2]) for n in range(1, 6)]
    add(store, images[3], images[1], images[4], images[0], images[2])  # insertion order ≠ age
    add(
        store,
        task_record(n=0, kind="video", options={"format": "mp4"}),  # older, other kind
        task_record(n=0, status="ready"),
        task_record(n=0, status="error"),
    )

    taken = lease(store, limit=3, lease_s=30)
    assert ids(taken) == ids(images[:3])  # from every project, oldest first
    for task in taken:
        assert (task.status, task.attempts, task.lease_owner) == ("processing", 1, OWNER)
        assert get(store, task) == task

    assert ids(lease(store, OTHER, limit=10)) == ids(images[3:])  # never the same task twice
    assert lease(store, limit=10) == []


def test_lease_over_several_kinds(store: Store) -> None:
    image, video, audio = add(
        store,
        task_record(n=0),
        task_record(n=1, kind="video", options={"format": "mp4"}),
        task_record(n=2, kind="audio", options={"format": "mp3"}),
    )
    assert ids(lease(store, kinds=["audio", "image"])) == [image.id, audio.id]
    assert get(store, video).status == "waiting"


def test_lease_with_nothing_to_take(store: Store) -> None:
    add(store, task_record())
    assert lease(store, limit=0) == []
    assert lease(store, kinds=[]) == []
    assert lease(store, kinds=["video"]) == []


def test_heartbeat_extends_the_lease_only_for_its_owner(store: Store) -> None:
    [task] = add(store, task_record())
    lease(store, lease_s=0.2)
    assert not store.heartbeat(task.id, OTHER, 30)
    assert store.heartbeat(task.id, OWNER, 30)
    time.sleep(0.3)  # past the first lease, within the extended one
    assert lease(store, OTHER) == []
    assert get(store, task).lease_owner == OWNER


def test_heartbeat_on_a_task_not_running_fails(store: Store) -> None:
    [task] = add(store, task_record())
    assert not store.heartbeat(task.id, OWNER, 30)
    assert not store.heartbeat("tsk_missing", OWNER, 30)


def test_complete_stores_the_output(store: Store) -> None:
    [task] = add(store, task_record())
    lease(store)
    output = output_for(task, filesize=4096)

    assert store.complete(task.id, OWNER, output, ran_on="node-1")

    done = get(store, task)
    assert (done.status, done.progress, done.lease_owner, done.ran_on) == (
        "ready",
        100,
        None,
        "node-1",
    )
    assert done.output == output
    assert store.get_file(A, output.id) == output
    assert store.get_file(None, output.id) == output  # signed links look files up by id
    assert store.get_file(B, output.id) is None
    assert not store.heartbeat(task.id, OWNER, 30)
    assert lease(store) == []


def test_only_the_owner_can_complete(store: Store) -> None:
    [task] = add(store, task_record())
    output = output_for(task)
    assert not store.complete(task.id, OWNER, output)  # not leased yet
    lease(store)
    assert not store.complete(task.id, OTHER, output)
    current = get(store, task)
    assert (current.status, current.output) == ("processing", None)
    assert store.get_file(A, output.id) is None


def test_fail_without_retry_is_an_error(store: Store) -> None:
    [task] = add(store, task_record())
    lease(store)
    assert not store.fail(task.id, OTHER, "input_unreachable", "HTTP 404", None)
    assert store.fail(task.id, OWNER, "input_unreachable", "HTTP 404", None)
    failed = get(store, task)
    assert (failed.status, failed.error_code, failed.error_message, failed.lease_owner) == (
        "error",
        "input_unreachable",
        "HTTP 404",
        None,
    )
    assert lease(store) == []
    assert not store.fail(task.id, OWNER, "again", "again", None)


def test_fail_with_retry_waits_then_runs_again(store: Store) -> None:
    [task] = add(store, task_record())
    lease(store)
    assert store.fail(task.id, OWNER, "input_unreachable", "HTTP 503", 0.3)
    waiting = get(store, task)
    assert (waiting.status, waiting.lease_owner, waiting.attempts) == ("waiting", None, 1)
    assert lease(store, OTHER) == []  # not before run_after
    time.sleep(0.4)
    [again] = lease(store, OTHER)
    assert (again.id, again.attempts, again.lease_owner) == (task.id, 2, OTHER)


def test_an_expired_lease_passes_to_another_worker(store: Store) -> None:
    [task] = add(store, task_record())
    lease(store, lease_s=0.2)
    assert lease(store, OTHER) == []  # still held
    time.sleep(0.3)

    [taken] = lease(store, OTHER)
    assert (taken.id, taken.status, taken.attempts, taken.lease_owner) == (
        task.id,
        "processing",
        2,
        OTHER,
    )
    output = output_for(task)
    assert not store.heartbeat(task.id, OWNER, 30)
    assert not store.complete(task.id, OWNER, output)
    assert not store.fail(task.id, OWNER, "internal", "late", None)
    assert not store.set_progress(task.id, OWNER, 50)
    assert store.complete(task.id, OTHER, output)
    assert get(store, task).status == "ready"


def test_an_expired_lease_with_no_attempts_left_is_worker_lost(store: Store) -> None:
    [task] = add(store, task_record())
    lease(store, lease_s=0.1, max_attempts=1)
    time.sleep(0.2)
    assert lease(store, OTHER, max_attempts=1) == []
    lost = get(store, task)
    assert (lost.status, lost.error_code, lost.lease_owner) == ("error", "worker_lost", None)
    assert lost.error_message


def test_progress_is_recorded_for_the_owner_only(store: Store) -> None:
    [task] = add(store, task_record())
    assert not store.set_progress(task.id, OWNER, 10)  # not running
    lease(store)
    assert store.set_progress(task.id, OWNER, 42)
    assert not store.set_progress(task.id, OTHER, 80)
    assert get(store, task).progress == 42
    assert store.set_progress(task.id, OWNER, 100)
    running = get(store, task)
    assert running.status == "processing" and running.progress < 100  # 100 means ready


@pytest.mark.parametrize("leased", [False, True])
def test_cancel_turns_an_unfinished_task_into_an_error(store: Store, leased: bool) -> None:
    [task] = add(store, task_record())
    if leased:
        lease(store)
    assert store.cancel(B, task.id) is None
    cancelled = store.cancel(A, task.id)
    assert cancelled is not None
    assert (cancelled.status, cancelled.error_code, cancelled.lease_owner) == (
        "error",
        "cancelled",
        None,
    )
    assert get(store, task) == cancelled
    assert not store.complete(task.id, OWNER, output_for(task))  # a late result lands nowhere
    assert lease(store) == []


def test_cancel_leaves_a_finished_task_alone(store: Store) -> None:
    [task] = add(store, task_record())
    lease(store)
    store.complete(task.id, OWNER, output_for(task))
    ready = get(store, task)
    assert store.cancel(A, task.id) == ready


# --- files -------------------------------------------------------------------------------


def test_files_belong_to_a_project(store: Store) -> None:
    file = file_record(project_id=A, info={"format": "png", "width": 1, "duration": None})
    store.create_file(file)
    assert store.get_file(A, file.id) == file
    assert store.get_file(None, file.id) == file
    assert store.get_file(B, file.id) is None
    assert store.get_file(A, "file_missing") is None


# --- webhook outbox ----------------------------------------------------------------------


def hooked(n: int = 0) -> TaskRecord:
    return replace(task_record(n=n), webhook_url=f"https://hooks.example/{n}")


def test_finishing_a_task_with_a_webhook_queues_one_event(store: Store) -> None:
    ready, failed = add(store, hooked(0), hooked(1))
    [silent] = add(store, task_record(n=2))  # no webhook_url: no event
    lease(store, limit=3)
    assert store.complete(ready.id, OWNER, output_for(ready))
    assert store.fail(failed.id, OWNER, "no_video_stream", "no video", None)
    assert store.complete(silent.id, OWNER, output_for(silent))

    events = store.claim_webhooks(10, 60)
    assert {(e.task_id, e.event, e.url, e.attempts) for e in events} == {
        (ready.id, "task.ready", ready.webhook_url, 1),
        (failed.id, "task.error", failed.webhook_url, 1),
    }
    assert all(e.project_id == A for e in events)
    assert store.claim_webhooks(10, 60) == []  # claimed by the first sender


def test_a_retryable_failure_queues_no_event(store: Store) -> None:
    [task] = add(store, hooked())
    lease(store)
    store.fail(task.id, OWNER, "input_unreachable", "HTTP 503", 60)
    assert store.claim_webhooks(10, 60) == []


def test_webhook_claims_expire_and_deliveries_finish(store: Store) -> None:
    [task] = add(store, hooked())
    lease(store)
    store.complete(task.id, OWNER, output_for(task))
    [event] = store.claim_webhooks(10, 0.1)
    time.sleep(0.15)
    [again] = store.claim_webhooks(10, 60)  # the first sender died: claimable again
    assert (again.id, again.attempts) == (event.id, 2)

    store.webhook_failed(event.id, "HTTP 500", 0.1)
    assert store.claim_webhooks(10, 60) == []
    time.sleep(0.15)
    [third] = store.claim_webhooks(10, 0.01)
    assert third.attempts == 3
    store.webhook_sent(event.id)
    time.sleep(0.05)
    assert store.claim_webhooks(10, 60) == []


def test_a_webhook_given_up_on_is_not_sent_again(store: Store) -> None:
    [task] = add(store, hooked())
    lease(store)
    store.fail(task.id, OWNER, "no_video_stream", "no video", None)
    [event] = store.claim_webhooks(10, 0.01)
    store.webhook_failed(event.id, "HTTP 410", None)
    time.sleep(0.05)
    assert store.claim_webhooks(10, 60) == []


# --- concurrency -------------------------------------------------------------------------

WORKERS, TASKS, BATCH = 4, 60, 3


def lease_until_empty(opener: StoreOpener, owner: str, start: Any, results: Any) -> None:
    """In a child process: lease batches until none are left; report what was taken."""
    store = opener()
    start.wait(60)
    taken: list[str] = []
    while batch := store.lease(owner, ["image"], BATCH, LEASE_S, MAX_ATTEMPTS):
        for task in batch:
            assert store.heartbeat(task.id, owner, LEASE_S)
        taken.extend(task.id for task in batch)
        time.sleep(0.002)  # the batch's work: a fast worker must not drain the queue alone
    results.put((owner, taken))


def test_concurrent_workers_never_lease_the_same_task(open_store: StoreOpener) -> None:
    store = open_store()
    tasks = add(store, *(task_record(n=n) for n in range(TASKS)))
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(WORKERS), context.Queue()
    workers = [
        context.Process(target=lease_until_empty, args=(open_store, f"w{i}", start, results))
        for i in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    taken = dict(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(10)
        assert worker.exitcode == 0

    every = [task_id for batch in taken.values() for task_id in batch]
    assert len(every) == len(set(every)) == TASKS
    assert set(every) == set(ids(tasks))
    assert sum(1 for batch in taken.values() if batch) >= 2  # they really did compete
    for owner, batch in taken.items():
        for task_id in batch:
            current = store.get_task(A, task_id)
            assert current is not None
            assert (current.lease_owner, current.attempts) == (owner, 1)


def test_release_returns_a_task_without_spending_an_attempt(store: Store) -> None:
    task = task_record()
    store.create_task(task)
    [leased] = store.lease("w1", ["image"], 1, 60, 3)
    assert leased.attempts == 1
    assert not store.release(task.id, "someone-else")
    assert store.release(task.id, "w1")
    again = store.get_task(task.project_id, task.id)
    assert again is not None and (again.status, again.attempts, again.lease_owner) == (
        "waiting",
        0,
        None,
    )


def test_tasks_created_at_once_on_many_threads_are_all_committed(store: Store) -> None:
    tasks = [task_record(n=n) for n in range(200)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(store.create_task, tasks))
    for task in tasks:
        assert store.get_task(A, task.id) is not None
    assert store.list_tasks(A, TaskQuery(limit=1)).total == len(tasks)


def test_a_failing_create_fails_alone_among_concurrent_ones(store: Store) -> None:
    taken = task_record(n=0)
    store.create_task(taken)
    tasks = [task_record(n=n) for n in range(1, 60)]
    tasks.insert(30, taken)  # the same id again: its insert must fail, the others not
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(_create_or_error, [store] * len(tasks), tasks))
    assert [o for o in outcomes if o is not None] == [taken.id]
    assert store.list_tasks(A, TaskQuery(limit=1)).total == 60


def _create_or_error(store: Store, task: TaskRecord) -> str | None:
    try:
        store.create_task(task)
    except Exception:
        return task.id
    return None
