"""Store.queue_depth(): the autoscaling signal, on every store adapter."""

from __future__ import annotations

from pipeline.store import Store
from tests.support.queue import SEEDED_DEPTH, seed_queue


def test_an_empty_store_has_no_depth(store: Store) -> None:
    assert store.queue_depth() == {}


def test_depth_counts_waiting_and_processing_per_kind_over_all_projects(store: Store) -> None:
    seed_queue(store)
    assert store.queue_depth() == SEEDED_DEPTH
