"""No task is ever stranded: the two ways tasks were seen to wait forever, as tests.

1. Embedded, on 2 CPUs: idle actors of light kinds hold the CPUs, then bursts of kinds whose
   actors want a whole CPU arrive. A task bound to an actor Ray could not place stayed
   `processing` at 0 % for good.
2. Production topology (PostgreSQL, S3, a 2-CPU Ray head, two workers), one worker killed
   with kill -9 mid-work: the survivor kept renewing the lease of a task whose actor waited
   for a CPU that nothing would free.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.conftest import running_server, strobe_env
from tests.support.media import make_video
from tests.support.models import write_models
from tests.support.outputs import file_rows_postgres, once_problems, s3_objects
from tests.support.postgres import create_database
from tests.support.processes import Processes
from tests.support.ray_cluster import RAY_ENV, local_ray_cpus, ray_cluster
from tests.support.s3 import new_bucket
from tests.support.tasks import (
    KIND_BODIES,
    SILENT_VIDEO_OUTCOMES,
    create,
    mismatched,
    wait_ended,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# Their idle actors are left holding the CPUs (about 3.5 of them wanted: 0.5 each, video 1).
LIGHT_FIRST = ["image", "thumbnails", "text", "faces", "objects", "video"]
WHOLE_CPU = ["chapters", "speech", "outline", "subtitles"]  # each actor asks for 1 CPU
LIGHT_MIXED_IN = ["image", "nsfw", "thumbnails", "audio"]
# Two tasks of each whole-CPU kind a burst: a pool then starts two actors of a kind at once,
# the moment two can be placed on the one free CPU.
BURSTS, BURST_GAP_S, EACH = 3, 2.0, 2
# Every task here works on a 1 s, 160x90 clip in well under a second; what takes time is
# starting actors (torch, Whisper and ONNX imports, a few seconds each). The slowest of
# these tasks ends ~25 s after it was created when none is stranded (2-core machine); 120 s
# leaves room for a machine shared with other test runs. A stranded task never ends.
END_BOUND_S = 120.0
CLUSTER_TASKS = 16
# The killed worker's tasks wait out their lease (3 s) and run again. All 16 end ~40 s after
# the kill when none is stranded (2-core machine); 150 s leaves room for a shared machine.
CLUSTER_BOUND_S = 150.0
LEASE_S = 3


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def silent_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of 160x90 video with no audio track (the input the stranded speech task had)."""
    return make_video(
        tmp_path_factory.mktemp("clips") / "silent.mp4", width=160, height=90, seconds=1.0
    )


def burst_kinds(burst: int) -> list[str]:
    """Whole-CPU and light kinds interleaved, EACH of every whole-CPU kind, the order
    turned by one each burst."""
    whole = WHOLE_CPU[burst:] + WHOLE_CPU[:burst]
    return [k for pair in zip(whole * EACH, LIGHT_MIXED_IN * EACH, strict=True) for k in pair]


def test_embedded_bursts_of_whole_cpu_kinds_on_two_cpus_all_end(
    tmp_path: Path, models_dir: Path, silent_clip: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = {**local_ray_cpus(2), "STROBE_MODELS_DIR": str(models_dir)}
    with running_server(data, **env) as server, server.client() as client:
        upload = client.post("/files", files={"file": ("silent.mp4", silent_clip.read_bytes())})
        assert upload.status_code == 201, upload.text
        file_id = upload.json()["data"]["id"]

        def submit(kinds: list[str]) -> dict[str, str]:
            return {create(client, {"file_id": file_id, **KIND_BODIES[k]}): k for k in kinds}

        # Light kinds first: when they are done, their idle actors hold the CPUs.
        first = submit(LIGHT_FIRST)
        wait_ended(client, first, END_BOUND_S, [server.log])
        later: dict[str, str] = {}
        for burst in range(BURSTS):
            later |= submit(burst_kinds(burst))
            time.sleep(BURST_GAP_S)
        tasks = wait_ended(client, later, END_BOUND_S, [server.log])
        tasks |= wait_ended(client, first, 1, [server.log])
    expected = {
        task_id: SILENT_VIDEO_OUTCOMES[kind] for task_id, kind in {**first, **later}.items()
    }
    wrong = mismatched(tasks, expected)
    assert not wrong, wrong


@pytest.fixture
def cluster_clip(media_dir: Path) -> str:
    make_video(media_dir / "stranding.mp4", width=160, height=90, seconds=1.0, audio=True)
    return "stranding.mp4"


def cluster_bodies() -> list[dict[str, Any]]:
    """16 tasks: every kind once, then more of the whole-CPU and light kinds."""
    extra: list[dict[str, Any]] = [
        {"kind": "video", "format": "webm", "width": 64},
        {"kind": "image", "format": "png", "width": 48},
        {"kind": "subtitles", "format": "srt"},
        {"kind": "thumbnails", "count": 3, "width": 48},
    ]
    bodies = [*KIND_BODIES.values(), *extra]
    assert len(bodies) == CLUSTER_TASKS
    return bodies


def holding_worker(database_url: str, workers: dict[str, int]) -> str | None:
    """The name of a worker (name -> PID) that holds a processing task, if any does (lease
    owners are `host:pid:random`)."""
    with psycopg.connect(database_url) as db:
        owners = db.execute("SELECT lease_owner FROM tasks WHERE status = 'processing'").fetchall()
    for name, pid in workers.items():
        if any(f":{pid}:" in (owner or "") for (owner,) in owners):
            return name
    return None


def test_production_two_workers_one_killed_mid_work_all_sixteen_ready_once(
    processes: Processes,
    tmp_path: Path,
    postgres_url: str,
    s3_endpoint: str,
    models_dir: Path,
    cluster_clip: str,
    http_base: str,
) -> None:
    bucket = new_bucket(s3_endpoint)
    database_url = create_database(postgres_url)
    processes.env = strobe_env(
        STROBE_DATA_DIR=str(tmp_path / "data"),
        STROBE_DATABASE_URL=database_url,
        STROBE_STORAGE_URL=f"s3://{bucket}/outputs",
        STROBE_S3_ENDPOINT_URL=s3_endpoint,
        STROBE_SECRET_KEY="stranding-secret",
        STROBE_MODELS_DIR=str(models_dir),
        STROBE_LEASE_SECONDS=str(LEASE_S),
        STROBE_MAX_ATTEMPTS="3",
        STROBE_FETCH_TIMEOUT="20",
        **RAY_ENV,
    )
    logs = [tmp_path / f"{name}.log" for name in ("worker-1", "worker-2", "api")]
    with ray_cluster(tmp_path, nodes=1, cpus_per_node=2, env=processes.env) as address:
        url = processes.start_api()
        workers = {
            name: processes.start(name, "worker", STROBE_RAY_ADDRESS=address).pid
            for name in ("worker-1", "worker-2")
        }
        headers = {"Authorization": "Bearer sk_e2e_a"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            # The input arrives after 2 s, so tasks stay in processing long enough to crash.
            source = f"{http_base}/slow/2/{cluster_clip}"
            bodies = cluster_bodies()
            ids = [create(client, {"url": source, **body}) for body in bodies]
            deadline = time.monotonic() + 120
            while (victim := holding_worker(database_url, workers)) is None:
                assert time.monotonic() < deadline, "no worker ever held a task"
                time.sleep(0.1)
            processes.kill9(victim)
            tasks = wait_ended(client, ids, CLUSTER_BOUND_S, logs)
    wrong = mismatched(tasks, dict.fromkeys(ids, "ready"))
    assert not wrong, wrong
    stored = s3_objects(s3_endpoint, bucket, "outputs/prj_a/")
    problems = once_problems(tasks, file_rows_postgres(database_url, ids), stored)
    assert not problems, problems
