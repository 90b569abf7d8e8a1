"""The dispatcher and the Ray actor pool on a real (small) local Ray instance."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import ray

from pipeline.config import Settings
from pipeline.ids import new_id, now_iso
from pipeline.runtime.dispatcher import Dispatcher
from pipeline.runtime.ray_pool import RayActorPool
from pipeline.runtime.retry import RetryPolicy
from pipeline.storage import LocalStorage
from pipeline.store import TaskRecord
from pipeline.store.sqlite import SQLiteStore
from tests.support.media import make_image


@pytest.fixture(scope="module")
def one_cpu_ray() -> Iterator[None]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=1, include_dashboard=False, logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()


def test_the_pool_sizes_itself_to_the_cluster(one_cpu_ray: None, settings: Settings) -> None:
    pool = RayActorPool(replace(settings, actors_per_kind=4))
    assert pool.free_slots("image") == 2  # image actors claim 0.5 CPU; the node has 1


def test_tasks_run_through_ray_actors_to_ready(
    one_cpu_ray: None, settings: Settings, tmp_path: Path
) -> None:
    store = SQLiteStore(settings.data_dir / "strobe.db")
    storage = LocalStorage(settings.data_dir / "objects")
    picture = make_image(tmp_path / "in.png", width=120, height=90)
    storage.put_file("prj_a/uploads/in.png", picture, "image/png")
    from tests.support.records import file_record

    store.create_file(replace(file_record(), id="file_in", storage_key="prj_a/uploads/in.png"))
    ids = []
    for width in (10, 20, 30, 40, 50):
        stamp = now_iso()
        task = TaskRecord(
            id=new_id("tsk"),
            project_id="prj_a",
            kind="image",
            status="waiting",
            options={"format": "png", "width": width},
            created=stamp,
            updated=stamp,
            input_file_id="file_in",
        )
        store.create_task(task)
        ids.append(task.id)
    dispatcher = Dispatcher(
        store,
        RayActorPool(settings),
        owner="test-owner",
        kinds=["image"],
        lease_s=30,
        retry=RetryPolicy(),
    )
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop.is_set,))
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not all(store.get_task("prj_a", i).status == "ready" for i in ids):  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=30)
    tasks = [store.get_task("prj_a", i) for i in ids]
    assert [t.output.info["width"] for t in tasks if t and t.output] == [10, 20, 30, 40, 50]
    assert {t.ran_on for t in tasks if t} == {ray.get_runtime_context().get_node_id()}
