"""GET /metrics: queue depth per kind, Prometheus text, no key needed, no Ray in the API."""

from __future__ import annotations

import json
import subprocess
import sys

from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store
from tests.support.queue import seed_queue
from tests.support.records import task_record


def samples(text: str) -> dict[str, float]:
    """`name{labels} value` lines -> {"name{labels}": value}; comments checked for shape."""
    found = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.split()[1] in ("HELP", "TYPE"), line
            continue
        name, value = line.rsplit(" ", 1)
        found[name] = float(value)
    return found


def test_metrics_show_the_seeded_queue_without_a_key(settings: Settings) -> None:
    store = open_store(settings.database_url)
    seed_queue(store)
    app = create_app(settings, store, open_storage(settings.storage_url))
    with TestClient(app) as client:
        response = client.get("/metrics")  # no Authorization header
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)
    assert found['strobe_tasks_waiting{kind="image"}'] == 3
    assert found['strobe_tasks_processing{kind="image"}'] == 1
    assert found['strobe_tasks_waiting{kind="video"}'] == 2
    assert found['strobe_tasks_processing{kind="video"}'] == 0
    assert found['strobe_tasks_waiting{kind="audio"}'] == 0  # its one task ended in error
    assert found['strobe_tasks_waiting{kind="thumbnails"}'] == 0  # idle kinds show zero
    assert found["strobe_queue_depth"] == 6


def test_an_empty_queue_is_all_zeros(settings: Settings) -> None:
    app = create_app(
        settings, open_store(settings.database_url), open_storage(settings.storage_url)
    )
    with TestClient(app) as client:
        found = samples(client.get("/metrics").text)
    assert found["strobe_queue_depth"] == 0 and set(found.values()) == {0.0}


_PROBE = """
import json, sys
from fastapi.testclient import TestClient
from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store
settings = Settings.from_env({"STROBE_DATA_DIR": sys.argv[1]}).with_generated_secrets()
app = create_app(settings, open_store(settings.database_url), open_storage(settings.storage_url))
with TestClient(app) as client:
    status = client.get("/metrics").status_code
print(json.dumps({"status": status, "ray": "ray" in sys.modules, "torch": "torch" in sys.modules}))
"""


def test_serving_metrics_imports_neither_ray_nor_torch(settings: Settings) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"status": 200, "ray": False, "torch": False}


def test_metrics_show_the_workers_actors_blocked_kinds_and_budgets(settings: Settings) -> None:
    store = open_store(settings.database_url)
    reason = 'no node has GPU 0.5, tpu 1: "its tasks wait"'
    store.report_worker(
        "w1",
        {
            "actors": {"image": {"ready": 2, "starting": 0}, "speech": {"ready": 0, "starting": 1}},
            "blocked": {"nsfw": reason},
            "actor_starts": 5,
            "oldest_running_s": 12.5,
            "nodes": ["node-a", "node-b"],
        },
    )
    store.report_worker(  # on the same Ray cluster, with a third node
        "w2",
        {
            "actors": {"image": {"ready": 1, "starting": 1}},
            "oldest_running_s": 40.0,
            "nodes": ["node-b", "node-a", "node-c"],
        },
    )
    task = task_record()
    store.create_task(task)
    [leased] = store.lease("w1", ["image"], 1, 60, 3)
    store.fail(leased.id, "w1", "timeout", "past its budget", None)
    app = create_app(settings, store, open_storage(settings.storage_url))
    with TestClient(app) as client:
        found = samples(client.get("/metrics").text)
    assert found['strobe_actors{kind="image",state="ready"}'] == 3
    assert found['strobe_actors{kind="image",state="starting"}'] == 1
    assert found['strobe_actors{kind="speech",state="starting"}'] == 1
    assert found['strobe_actors{kind="video",state="ready"}'] == 0
    escaped = reason.replace('"', '\\"')
    assert found[f'strobe_kind_blocked{{kind="nsfw",reason="{escaped}"}}'] == 1
    assert found["strobe_oldest_running_task_seconds"] == 40
    assert found["strobe_workers"] == 2 and found["strobe_actor_starts"] == 5
    assert found["strobe_ray_nodes"] == 3
    assert found["strobe_tasks_timed_out"] == 1
