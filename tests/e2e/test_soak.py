"""Soak: 300 tasks of every kind, mixed at random, through `strobe serve` on 2 CPUs. All end,
each as its kind and input say it must (no `internal` errors), and none runs past its budget.

The client keeps at most MAX_PENDING tasks unfinished, as `strobe batch` does. A task's run
is timed from the last poll that saw it `waiting` to its end (created to updated would count
its time in the queue too): a task over TASK_BOUND_S was stuck, not queued.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import running_server
from tests.support.media import make_video
from tests.support.models import write_models
from tests.support.ray_cluster import local_ray_cpus
from tests.support.tasks import (
    KIND_BODIES,
    SILENT_VIDEO_OUTCOMES,
    SOUND_VIDEO_OUTCOMES,
    metric,
    mismatched,
    outcome,
    run_bounded,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]
TASKS = 300
# At most this many unfinished at once: enough for the pool to run several tasks per actor
# start, few enough that kinds keep changing (a stream, not 12 batches).
MAX_PENDING = 100
SEED = 12  # the mix is random but the same on every run
# Each task is well under a second of work on a 1 s clip; actor starts (a few seconds
# each, as kinds change) dominate. 300 tasks end in ~170 s on 2 CPUs of a 2-core machine;
# 420 s leaves room for a machine shared with other test runs. A stuck task fails the test
# sooner, at TASK_BOUND_S.
SOAK_BOUND_S = 420.0
# A task's run, from the last poll that saw it waiting to its end: its work plus an actor
# start or two. Past 60 s it was stuck, or should have hit its time budget.
TASK_BOUND_S = 60.0


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("soak")
    return {
        "silent": make_video(folder / "silent.mp4", width=160, height=90, seconds=1.0),
        "sound": make_video(folder / "sound.mp4", width=160, height=90, seconds=1.0, audio=True),
    }


def soak_mix(file_ids: dict[str, str]) -> list[tuple[dict[str, Any], str]]:
    """TASKS (body, expected outcome) pairs: every kind on both inputs, shuffled."""
    expected = {"silent": SILENT_VIDEO_OUTCOMES, "sound": SOUND_VIDEO_OUTCOMES}
    pairs = [
        ({"file_id": file_ids[name], **body}, expected[name][kind])
        for kind, body in KIND_BODIES.items()
        for name in file_ids
    ]
    mix = [pairs[n % len(pairs)] for n in range(TASKS)]
    random.Random(SEED).shuffle(mix)
    return mix


def test_three_hundred_mixed_tasks_on_two_cpus(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, inputs: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    models = write_models(tmp_path_factory.mktemp("models"))
    env = {**local_ray_cpus(2), "STROBE_MODELS_DIR": str(models)}
    with running_server(data, **env) as server, server.client() as client:
        file_ids = {}
        for name, path in inputs.items():
            upload = client.post("/files", files={"file": (path.name, path.read_bytes())})
            assert upload.status_code == 201, upload.text
            file_ids[name] = upload.json()["data"]["id"]
        mix = soak_mix(file_ids)
        run = run_bounded(
            client,
            [body for body, _ in mix],
            max_pending=MAX_PENDING,
            timeout_s=SOAK_BOUND_S,
            run_bound_s=TASK_BOUND_S,
            logs=[server.log],
        )
        metrics = client.get("/metrics").text
    internal = [t for t in run.tasks.values() if outcome(t) == "internal"]
    assert not internal, [(t["id"], t["kind"], t["error"]["message"]) for t in internal]
    wrong = mismatched(run.tasks, {i: want for i, (_, want) in zip(run.ids, mix, strict=True)})
    assert not wrong, wrong
    slowest = sorted((run.run_seconds(i), i, run.tasks[i]["kind"]) for i in run.ids)[-5:]
    assert slowest[-1][0] <= TASK_BOUND_S, f"tasks past {TASK_BOUND_S:g} s: {slowest}"
    assert metric(metrics, "strobe_queue_depth") == 0
    timed_out = metric(metrics, "strobe_tasks_timed_out")  # once the runtime has budgets
    assert timed_out in (None, 0), f"{timed_out} tasks hit their time budget"
