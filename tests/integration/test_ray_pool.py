"""The dispatcher and the Ray actor pool on a real local Ray instance with one CPU.

Placement, room-making, time budgets and dying actors are provoked on purpose with the
operators in tests/support/runtime_operators.py, which run in real actors on real inputs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import ray

from pipeline.config import Settings
from pipeline.ids import new_id, now_iso
from pipeline.runtime.dispatcher import Dispatcher
from pipeline.runtime.fleet import MIN_SERVICE_S, SERVICE_PER_START
from pipeline.runtime.ray_pool import RayActorPool
from pipeline.runtime.retry import RetryPolicy
from pipeline.storage import LocalStorage
from pipeline.store import TaskRecord
from pipeline.store.sqlite import SQLiteStore
from tests.support.media import make_video
from tests.support.records import file_record
from tests.support.runtime_operators import NEEDS_TPU, SCRIPTED, WHOLE_CPU

BOUND_S = 60  # generous for a loaded 2-core machine; each case takes a few seconds


@pytest.fixture(scope="module")
def one_cpu_ray() -> Iterator[None]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=1, include_dashboard=False, logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()


def node_is_free() -> None:
    """Wait until the actors an earlier test's pool killed have given their CPU back."""
    deadline = time.monotonic() + BOUND_S
    while ray.available_resources().get("CPU", 0.0) < 1.0:
        assert time.monotonic() < deadline, "an earlier test's actors still hold the CPU"
        time.sleep(0.1)


@dataclass
class Worker:
    store: SQLiteStore
    pool: RayActorPool
    dispatcher: Dispatcher

    def add(self, kind: str = "image", **options: Any) -> str:
        stamp = now_iso()
        task = TaskRecord(
            id=new_id("tsk"),
            project_id="prj_a",
            kind=kind,
            status="waiting",
            options={"format": "json", **options},
            created=stamp,
            updated=stamp,
            input_file_id="file_in",
        )
        self.store.create_task(task)
        return task.id

    def task(self, task_id: str) -> TaskRecord:
        found = self.store.get_task("prj_a", task_id)
        assert found is not None
        return found

    def wait_for(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + BOUND_S
        while not done():
            assert time.monotonic() < deadline, f"not within {BOUND_S} s: {what}"
            time.sleep(0.1)

    def wait_ended(self, *task_ids: str) -> list[TaskRecord]:
        ended = ("ready", "error")
        self.wait_for(
            lambda: all(self.task(t).status in ended for t in task_ids), f"tasks {task_ids} end"
        )
        return [self.task(t) for t in task_ids]


@contextmanager
def worker(
    settings: Settings,
    tmp_path: Path,
    operators: dict[str, str],
    *,
    budget_s: float = 600.0,
    max_attempts: int = 3,
) -> Iterator[Worker]:
    node_is_free()
    store = SQLiteStore(settings.data_dir / "strobe.db")
    storage = LocalStorage(settings.data_dir / "objects")
    # A video with sound has every stream a kind can need, whichever kind a test runs.
    clip = make_video(tmp_path / "in.mp4", width=64, height=48, seconds=1.0, audio=True)
    storage.put_file("prj_a/uploads/in.mp4", clip, "video/mp4")
    store.create_file(replace(file_record(), id="file_in", storage_key="prj_a/uploads/in.mp4"))
    pool = RayActorPool(settings, operators)
    dispatcher = Dispatcher(
        store,
        pool,
        owner="test-owner",
        kinds=sorted(operators),
        lease_s=30,
        retry=RetryPolicy(max_attempts=max_attempts, base_delay_s=0.1),
        budget=lambda kind, options, media_s: budget_s,
        stop_grace_s=1.0,
    )
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop.is_set,))
    thread.start()
    try:
        yield Worker(store, pool, dispatcher)
    finally:
        stop.set()
        thread.join(timeout=30)
        pool.close()


def test_tasks_run_through_ray_actors_to_ready(
    one_cpu_ray: None, settings: Settings, tmp_path: Path
) -> None:
    with worker(settings, tmp_path, {"image": SCRIPTED}) as w:
        ids = [w.add(mode="sleep", seconds=0.2) for _ in range(5)]
        tasks = w.wait_ended(*ids)
        assert [t.status for t in tasks] == ["ready"] * 5
        assert {t.ran_on for t in tasks} == {ray.get_runtime_context().get_node_id()}
        # Image actors claim half a CPU: at most two fit the node, and no more were asked for.
        assert 1 <= w.pool.starts <= 2


def test_no_task_is_handed_to_an_actor_before_it_is_placed_and_set_up(
    one_cpu_ray: None, settings: Settings
) -> None:
    node_is_free()
    pool = RayActorPool(settings, {"image": SCRIPTED})
    try:
        assert pool.free_slots("image") == 0  # nothing runs before an actor exists
        pool.scale({"image": 5})
        # Five tasks wait, the node holds two half-CPU actors: two are started, not five.
        assert pool.starts == 2 and pool.snapshot()["actors"]["image"]["starting"] == 2
        assert pool.snapshot()["nodes"] == [ray.get_runtime_context().get_node_id()]
        assert pool.free_slots("image") == 0  # asked for, not yet placed
        deadline = time.monotonic() + BOUND_S
        while pool.free_slots("image") < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        pool.scale({"image": 5})
        assert pool.starts == 2  # the node is full: no actor that could never be placed
    finally:
        pool.close()


def test_a_kind_with_work_gets_room_from_idle_actors_of_other_kinds(
    one_cpu_ray: None, settings: Settings, tmp_path: Path
) -> None:
    with worker(settings, tmp_path, {"image": SCRIPTED, "speech": WHOLE_CPU}) as w:
        light = w.wait_ended(*[w.add(mode="sleep", seconds=0.5) for _ in range(8)])
        assert {t.status for t in light} == {"ready"}
        # Both half-CPU actors were started for that work and now idle, holding the CPU.
        w.wait_for(lambda: w.pool.snapshot()["actors"]["image"]["ready"] == 2, "two idle")
        [heavy] = w.wait_ended(w.add("speech"))
        assert heavy.status == "ready"


def first_served(pool: RayActorPool, kind: str) -> float:
    """On the pool's clock, when the first ready actor of `kind` will have served the
    minimum that makes it drainable (`Actor.has_served`: 3x its start, at least 5 s)."""
    return min(
        actor.ready_at + max(MIN_SERVICE_S, SERVICE_PER_START * (actor.ready_at - actor.requested))
        for actor in list(pool.actors)
        if actor.kind == kind and actor.ready_at is not None and actor.requested is not None
    )


def test_a_starved_kind_drains_busy_actors_of_another_kind(
    one_cpu_ray: None, settings: Settings, tmp_path: Path
) -> None:
    with worker(settings, tmp_path, {"image": SCRIPTED, "speech": WHOLE_CPU}) as w:
        # A stream of light work that never runs dry keeps both half-CPU actors busy: the
        # test tops it up for as long as the whole-CPU task is not done, however slow the
        # machine (an actor with work first serves 3x its start, at least 5 s, before it is
        # drained)...
        light = [w.add(mode="sleep", seconds=0.5) for _ in range(20)]
        w.wait_for(lambda: w.pool.snapshot()["actors"].get("image", {}).get("busy") == 2, "busy")
        heavy = w.add("speech")
        # The rule's own clock, not a guess: once an image actor has served its minimum
        # (slow starts on a loaded machine make it longer), the speech task gets BOUND_S.
        deadline = first_served(w.pool, "image") + BOUND_S
        while w.task(heavy).status not in ("ready", "error"):
            # ...yet the whole-CPU task does not wait for the stream to end.
            assert w.pool.clock() < deadline, "the whole-CPU task waited on the stream"
            if sum(w.task(t).status == "waiting" for t in light[-20:]) < 10:
                light += [w.add(mode="sleep", seconds=0.5) for _ in range(20)]
            time.sleep(0.2)
        assert w.task(heavy).status == "ready"
        assert any(w.task(t).status == "waiting" for t in light), "the stream had ended"
        # The rest of the stream drains: half a second a task on two actors, plus slack.
        drained_by = time.monotonic() + len(light) * 0.25 + BOUND_S
        while not all(w.task(t).status in ("ready", "error") for t in light):
            assert time.monotonic() < drained_by, "the stream did not drain"
            time.sleep(0.5)
        assert {w.task(t).status for t in light} == {"ready"}


def test_a_hung_operator_is_killed_at_its_budget_and_the_slot_is_used_again(
    one_cpu_ray: None, settings: Settings, tmp_path: Path
) -> None:
    with worker(settings, tmp_path, {"image": SCRIPTED}, budget_s=3.0) as w:
        [hung] = w.wait_ended(w.add(mode="hang"))
        assert (hung.status, hung.error_code) == ("error", "timeout")
        assert "budget" in (hung.error_message or "")
        after = w.wait_ended(*[w.add() for _ in range(3)])
        assert [t.status for t in after] == ["ready"] * 3


def test_an_operator_that_reports_progress_stops_when_asked(
    one_cpu_ray: None, settings: Settings, tmp_path: Path
) -> None:
    with worker(settings, tmp_path, {"image": SCRIPTED}, budget_s=2.0) as w:
        [busy] = w.wait_ended(w.add(mode="busy"))
        assert (busy.status, busy.error_code) == ("error", "timeout")
        assert busy.progress > 0  # its progress reached the store through the dispatcher
        [after] = w.wait_ended(w.add())
        assert after.status == "ready"
        assert w.pool.starts <= 2  # stopped, not killed: no actor was replaced for it


def test_an_actor_killed_mid_task_is_retried_then_worker_lost_and_others_carry_on(
    one_cpu_ray: None, settings: Settings, tmp_path: Path
) -> None:
    with worker(settings, tmp_path, {"image": SCRIPTED}, max_attempts=2) as w:
        dying = w.add(mode="die")
        fine = [w.add(mode="sleep", seconds=0.2) for _ in range(3)]
        [lost, *others] = w.wait_ended(dying, *fine)
        assert (lost.status, lost.error_code, lost.attempts) == ("error", "worker_lost", 2)
        assert [t.status for t in others] == ["ready"] * 3


def test_a_kind_no_node_can_hold_stays_waiting_and_says_why(
    one_cpu_ray: None, settings: Settings, tmp_path: Path
) -> None:
    strict = replace(settings, require_gpu=True)
    with worker(strict, tmp_path, {"image": SCRIPTED, "nsfw": NEEDS_TPU}) as w:
        stuck = w.add("nsfw")
        [other] = w.wait_ended(w.add())
        assert other.status == "ready"
        w.wait_for(lambda: "nsfw" in w.pool.blocked, "the pool says why")
        assert "no node has" in w.pool.blocked["nsfw"] and "tpu 1" in w.pool.blocked["nsfw"]
        assert w.task(stuck).status == "waiting"  # never leased, never bound to an actor
        w.dispatcher.report()
        [report] = w.store.worker_reports(max_age_s=60)
        assert "tpu" in report["blocked"]["nsfw"]
