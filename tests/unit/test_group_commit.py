"""GroupCommit's logic: rows queued while a batch commits go in the next one, and a bad row
fails only its own writer. (The stores' own group commit runs in
tests/contract/test_store_group_commit.py.)"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.store.group_commit import GroupCommit


def test_rows_queued_behind_a_commit_go_in_one_batch() -> None:
    lock = threading.Lock()
    batches: list[list[int]] = []
    group = GroupCommit(lock, batches.append)
    with ThreadPoolExecutor(20) as pool:
        with lock:  # a commit in progress: every writer queues behind it
            futures = [pool.submit(group.write, n) for n in range(20)]
            while len(group._queued) < 20:
                threading.Event().wait(0.01)
        for future in futures:
            future.result(timeout=10)
    assert len(batches) == 1 and sorted(batches[0]) == list(range(20))


def test_a_bad_row_fails_only_its_own_writer() -> None:
    committed: list[int] = []

    def commit(rows: list[int]) -> None:
        if 13 in rows:
            raise ValueError("row 13 is bad")
        committed.extend(rows)

    lock = threading.Lock()
    group = GroupCommit(lock, commit)
    with ThreadPoolExecutor(20) as pool:
        with lock:
            futures = {n: pool.submit(group.write, n) for n in range(20)}
            while len(group._queued) < 20:
                threading.Event().wait(0.01)
        for n, future in futures.items():
            if n == 13:
                with pytest.raises(ValueError, match="row 13"):
                    future.result(timeout=10)
            else:
                assert future.result(timeout=10) is None
    assert sorted(committed) == [n for n in range(20) if n != 13]
