"""Actor shapes (routing by hardware) and the autoscaler's bundles: pure functions."""

from __future__ import annotations

from pipeline.contract.resources import Resources
from pipeline.runtime.placement import actor_shape, backlog_bundles, fits

ENCODER = Resources(num_cpus=1.0, custom={"nvenc": 1})
MODEL = Resources(num_cpus=0.5, num_gpus=0.25, memory_mb=512)
CPU_ONLY = {"CPU": 8.0, "memory": 3e10}
NVENC_GPU = {"CPU": 16.0, "GPU": 1.0, "nvenc": 4.0}


def test_hardware_is_asked_for_only_where_the_cluster_has_it() -> None:
    assert actor_shape(ENCODER, NVENC_GPU, require=False) == {"CPU": 1.0, "nvenc": 1}
    assert actor_shape(ENCODER, CPU_ONLY, require=False) == {"CPU": 1.0}  # CPU fallback
    assert actor_shape(MODEL, NVENC_GPU, require=False) == {
        "CPU": 0.5,
        "GPU": 0.25,
        "memory": 512 * 1024**2,
    }
    assert actor_shape(MODEL, CPU_ONLY, require=False) == {"CPU": 0.5, "memory": 512 * 1024**2}


def test_required_hardware_is_asked_for_even_before_a_node_has_it() -> None:
    assert actor_shape(ENCODER, CPU_ONLY, require=True) == {"CPU": 1.0, "nvenc": 1}
    assert actor_shape(MODEL, CPU_ONLY, require=True)["GPU"] == 0.25


def test_fits_counts_the_scarcest_resource() -> None:
    assert fits({"CPU": 1.0, "nvenc": 1}, NVENC_GPU) == 4
    assert fits({"CPU": 1.0, "nvenc": 1}, CPU_ONLY) == 0
    assert fits({"CPU": 0.5}, {"CPU": 1.0}) == 2


def test_a_backlog_becomes_one_bundle_per_task_shaped_by_its_kind() -> None:
    shapes = {"video": {"CPU": 1.0, "nvenc": 1}, "objects": {"CPU": 0.5, "GPU": 0.25}}
    depth = {
        "video": {"waiting": 2, "processing": 1},
        "objects": {"waiting": 1, "processing": 0},
        "speech": {"waiting": 5, "processing": 0},  # not served here: left out
    }
    bundles = backlog_bundles(depth, shapes, max_per_kind=100)
    assert bundles == [{"CPU": 0.5, "GPU": 0.25}] + [{"CPU": 1.0, "nvenc": 1}] * 3
    assert len(backlog_bundles(depth, shapes, max_per_kind=2)) == 3  # 2 video + 1 objects


def test_no_backlog_asks_for_nothing() -> None:
    assert backlog_bundles({}, {"video": {"CPU": 1.0}}, max_per_kind=100) == []
