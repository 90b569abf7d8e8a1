"""A store with a known backlog, for the queue-depth and /metrics tests."""

from __future__ import annotations

from pipeline.store import Store
from tests.support.records import output_for, task_record

SEEDED_DEPTH = {
    "image": {"waiting": 3, "processing": 1},
    "video": {"waiting": 2, "processing": 0},
}


def seed_queue(store: Store) -> None:
    """Image: 3 waiting, 1 processing, 1 ready; video: 2 waiting; audio: 1 error.
    Spread over two projects: the depth counts every project."""
    images = [task_record(n=n, project_id=("prj_a", "prj_b")[n % 2]) for n in range(5)]
    for task in images:
        store.create_task(task)
    for n in range(2):
        store.create_task(task_record(n=10 + n, kind="video", options={"format": "mp4"}))
    store.create_task(task_record(n=20, kind="audio", options={"format": "mp3"}))
    done, running = store.lease("worker", ["image"], 2, 60.0, 3)
    assert store.complete(done.id, "worker", output_for(done))
    assert running.status == "processing"
    (audio,) = store.lease("worker", ["audio"], 1, 60.0, 3)
    assert store.fail(audio.id, "worker", "input_unreadable", "not media", None)
