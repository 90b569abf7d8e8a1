"""Store.queue_depth(): the autoscaling signal, on every store adapter."""

from __future__ import annotations

import time

from pipeline.store import Store
from tests.support.queue import SEEDED_DEPTH, seed_queue
from tests.support.records import task_record


def test_an_empty_store_has_no_depth(store: Store) -> None:
    assert store.queue_depth() == {}


def test_depth_counts_waiting_and_processing_per_kind_over_all_projects(store: Store) -> None:
    seed_queue(store)
    assert store.queue_depth() == SEEDED_DEPTH


def test_a_task_whose_lease_expired_counts_as_waiting(store: Store) -> None:
    """Its worker died: the task is claimable again, so it is demand for an actor (else no
    actor of its kind is started and it stays `processing` for good)."""
    store.create_task(task_record(n=1, kind="video", options={"format": "mp4"}))
    store.create_task(task_record(n=2, kind="video", options={"format": "mp4"}))
    store.lease("dead-worker", ["video"], 1, 0.01, 3)
    store.lease("live-worker", ["video"], 1, 60.0, 3)
    time.sleep(0.05)
    assert store.queue_depth() == {"video": {"waiting": 1, "processing": 1}}
