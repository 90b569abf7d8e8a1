"""Worker reports (what /metrics shows of the workers) and error counts, on every store."""

from __future__ import annotations

import time

from pipeline.store import Store
from tests.support.records import task_record


def test_a_report_replaces_the_last_one_of_its_worker(store: Store) -> None:
    store.report_worker("w1", {"running": 1, "actors": {"image": {"ready": 2}}})
    store.report_worker("w2", {"running": 0})
    store.report_worker("w1", {"running": 3, "actors": {}})
    assert store.worker_reports(max_age_s=60) == [{"running": 3, "actors": {}}, {"running": 0}]


def test_stale_and_forgotten_workers_are_left_out(store: Store) -> None:
    store.report_worker("gone", {"running": 9})
    store.report_worker("stopped", {"running": 1})
    store.forget_worker("stopped")
    time.sleep(0.3)
    store.report_worker("alive", {"running": 2})
    assert store.worker_reports(max_age_s=0.2) == [{"running": 2}]


def test_errors_are_counted_by_code(store: Store) -> None:
    for n, code in enumerate(("timeout", "timeout", "internal")):
        task = task_record(n=n)
        store.create_task(task)
        [leased] = store.lease("w1", ["image"], 1, 60, 3)
        store.fail(leased.id, "w1", code, "it happened", None)
    assert (store.count_errors("timeout"), store.count_errors("cancelled")) == (2, 0)
