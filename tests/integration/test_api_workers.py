"""`strobe api --workers 2` on SQLite: two processes serve one port and share the store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Processes

HEADERS = {"Authorization": "Bearer sk_a"}
TASK = {"kind": "image", "url": "https://example.com/in.jpg", "format": "jpeg", "width": 32}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, Processes]]:
    env = {"STROBE_DATA_DIR": str(tmp_path / "data"), "STROBE_API_KEYS": "sk_a:prj_a"}
    processes = Processes(tmp_path, env)
    try:
        yield processes.start_api("api", "api", "--workers", "2"), processes
    finally:
        processes.close()


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_two_processes_serve_and_share_tasks(api: tuple[str, Processes]) -> None:
    url, processes = api
    children = processes.descendants("api")
    servers = [pid for pid in children if "spawn_main" in _cmdline(pid)]
    assert len(servers) == 2, f"expected two API processes, found {children}"
    before = {pid: cpu_ticks(pid) for pid in servers}

    def create(_: int) -> str:
        # A connection per request, so the kernel hands them to either process.
        response = httpx.post(f"{url}/tasks", json=TASK, headers=HEADERS, timeout=30)
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])

    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(create, range(200)))
    # Every task, whichever process created it, is read back through fresh connections too.
    with ThreadPoolExecutor(8) as pool:
        read = list(
            pool.map(
                lambda task_id: httpx.get(f"{url}/tasks/{task_id}", headers=HEADERS, timeout=30),
                created,
            )
        )
    assert [r.status_code for r in read] == [200] * len(created)
    assert [r.json()["data"]["id"] for r in read] == created
    listed = httpx.get(f"{url}/tasks", params={"limit": 1}, headers=HEADERS, timeout=30).json()
    assert listed["meta"]["total"] == len(created)
    time.sleep(0.2)
    busy = [pid for pid in servers if cpu_ticks(pid) - before[pid] >= 5]
    assert len(busy) == 2, "both API processes served requests"


def test_one_idempotency_key_creates_one_task_across_processes(
    api: tuple[str, Processes],
) -> None:
    url, _ = api
    headers = {**HEADERS, "Idempotency-Key": "once"}

    def create(_: int) -> httpx.Response:
        return httpx.post(f"{url}/tasks", json=TASK, headers=headers, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(40)))
    created = {r.json()["data"]["id"] for r in answers if r.status_code == 201}
    assert len(created) == 1
    assert {r.status_code for r in answers} <= {201, 409}
    listed = httpx.get(f"{url}/tasks", params={"limit": 1}, headers=HEADERS, timeout=30).json()
    assert listed["meta"]["total"] == 1


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_serve_with_two_api_processes_starts_its_workers_once(tmp_path: Path) -> None:
    env = {"STROBE_DATA_DIR": str(tmp_path / "data"), "STROBE_API_KEYS": "sk_a:prj_a"}
    processes = Processes(tmp_path, env)
    try:
        url = processes.start_api("serve", "serve", "--workers", "2")
        time.sleep(1.0)  # the worker is spawned before the API processes answer
        commands = [_cmdline(pid) for pid in processes.descendants("serve")]
        assert sum("pipeline.cli worker" in c for c in commands) == 1, commands
        assert sum("spawn_main" in c for c in commands) == 2, commands
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    finally:
        processes.close()
