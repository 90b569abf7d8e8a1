"""The backlog turned into Ray resource requests, on a real local Ray instance.

`ray.autoscaler.sdk.request_resources` stores the request in the cluster's GCS, where the
autoscaler (VMs or KubeRay) reads it; we read it back from there, and a routing check: a kind
that wants hardware no node has falls back to CPU, or waits for it when it is required.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace

import pytest
import ray
from ray.experimental.internal_kv import _internal_kv_get

from pipeline.config import Settings
from pipeline.runtime.autoscale import BacklogSignal
from pipeline.runtime.ray_pool import RayActorPool, request_backlog
from pipeline.store import TaskQuery, open_store
from tests.support.queue import seed_queue

REQUEST_KEY = b"autoscaler_resource_request"  # ray_constants.AUTOSCALER_RESOURCE_REQUEST_CHANNEL


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()


def requested() -> list[dict[str, float]]:
    """What the autoscaler is being asked for, as stored in the GCS."""
    raw = _internal_kv_get(REQUEST_KEY)
    return [] if raw is None else json.loads(raw)


def test_the_backlog_is_requested_and_withdrawn_when_idle(
    local_ray: None, settings: Settings
) -> None:
    store = open_store(settings.database_url)
    seed_queue(store)  # image: 3 waiting + 1 processing; video: 2 waiting
    pool = RayActorPool(settings)
    signal = BacklogSignal(
        store, pool.shape, request_backlog, kinds=["image", "video"], max_per_kind=100
    )
    bundles = signal.tick()
    assert requested() == bundles == [{"CPU": 0.5}] * 4 + [{"CPU": 1.0}] * 2
    # The queue drains: the request is withdrawn, so the autoscaler may scale to zero.
    for project in ("prj_a", "prj_b"):
        for task in store.list_tasks(project, TaskQuery(limit=100)).items:
            store.cancel(project, task.id)
    assert store.queue_depth() == {}
    assert signal.tick() == [] and requested() == []


def test_required_hardware_shapes_the_request_and_holds_the_work(
    local_ray: None, settings: Settings
) -> None:
    """No node here advertises `nvenc`: video falls back to CPU; with STROBE_REQUIRE_GPU=1
    it asks for nvenc instead, creates no actor that could not be placed, and the request
    tells the autoscaler which node type to add."""
    assert RayActorPool(settings).shape("video") == {"CPU": 1.0}
    strict = RayActorPool(replace(settings, require_gpu=True))
    assert strict.shape("video") == {"CPU": 1.0, "nvenc": 1}
    strict.scale({"video": 2})
    assert strict.starts == 0 and "no node has" in strict.blocked["video"]
    assert strict.free_slots("video") == 0
    store = open_store(settings.database_url)
    seed_queue(store)
    BacklogSignal(store, strict.shape, request_backlog, kinds=["video"], max_per_kind=10).tick()
    assert requested() == [{"CPU": 1.0, "nvenc": 1}] * 2
    request_backlog([])
