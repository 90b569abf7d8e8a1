"""Workflow runs in the store, on every adapter: a run advances in the transaction of the
step that ends, once per step, whatever the timing of the steps that end together."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from pipeline.store import AutomationRecord, MediaRecord, RunRecord, Store, TaskQuery
from tests.contract.conftest import StoreOpener
from tests.support.records import file_record, output_for, stamp

OWNER = "worker-1"


def image(*nested: dict[str, Any], ref: str | None = None) -> dict[str, Any]:
    options = {"format": "jpeg", **({"ref": ref} if ref else {})}
    return {"kind": "image", "options": options, "next": list(nested)}


def started(store: Store, plan: list[Any]) -> RunRecord:
    source = file_record()
    store.create_file(source)
    return store.start_run(RunRecord.begin("prj_a", None, plan, source), source)


def step_tasks(store: Store, run: RunRecord) -> dict[str, str]:
    """step path key -> the task's status."""
    return {t.step or "": t.status for t in store.run_tasks(run.id)}


def finish_all(store: Store, owner: str = OWNER) -> int:
    leased = store.lease(owner, ["image"], 50, 60.0, 3)
    for task in leased:
        assert store.complete(task.id, owner, output_for(task))
    return len(leased)


def test_a_run_queues_its_first_steps_and_each_next_step_once_its_parent_is_ready(
    store: Store,
) -> None:
    run = started(store, [image(image(), image()), image()])
    assert run.status == "processing"
    assert step_tasks(store, run) == {"0": "waiting", "1": "waiting"}
    assert finish_all(store) == 2
    tasks = {t.step: t for t in store.run_tasks(run.id)}
    assert set(tasks) == {"0", "1", "0.0", "0.1"}
    assert tasks["0.0"].parent_id == tasks["0"].id
    assert tasks["0.0"].input_file_id == output_for(tasks["0"]).id
    assert store.get_run("prj_a", run.id).status == "processing"  # type: ignore[union-attr]
    assert finish_all(store) == 2
    done = store.get_run("prj_a", run.id)
    assert done is not None and done.status == "ready"
    assert finish_all(store) == 0


def test_steps_that_end_together_advance_the_run_once_each(open_store: StoreOpener) -> None:
    store = open_store()
    branches = [image(image()) for _ in range(8)]
    run = started(store, branches)
    leased = store.lease(OWNER, ["image"], 50, 60.0, 3)
    assert len(leased) == 8
    stores = [open_store() for _ in leased]  # a connection each, as separate workers
    gate = threading.Barrier(len(leased))

    def complete(worker: Store, index: int) -> None:
        gate.wait()
        assert worker.complete(leased[index].id, OWNER, output_for(leased[index]))

    threads = [threading.Thread(target=complete, args=(s, i)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    children = [t for t in store.run_tasks(run.id) if t.parent_id is not None]
    assert sorted(t.step or "" for t in children) == sorted(f"{i}.0" for i in range(8))
    assert finish_all(store) == 8
    assert store.get_run("prj_a", run.id).status == "ready"  # type: ignore[union-attr]


def test_a_lost_worker_past_its_budget_fails_the_step_and_settles_the_run(store: Store) -> None:
    run = started(store, [image(image())])
    (task,) = store.lease(OWNER, ["image"], 1, -1.0, 1)  # its lease has already run out
    assert store.lease("worker-2", ["image"], 1, 60.0, 1) == []  # the reaper ends it
    lost = {t.step: t for t in store.run_tasks(run.id)}
    assert lost["0"].error_code == "worker_lost" and set(lost) == {"0"}
    assert store.get_run("prj_a", run.id).status == "error"  # type: ignore[union-attr]
    assert task.id == lost["0"].id


def test_conditions_are_decided_on_the_input_and_recorded(store: Store) -> None:
    plan = [
        {"kind": "conditions", "conditions": [{"prop": "width", "value": ">32"}],
         "next": [image(ref="wide")]},
        {"kind": "conditions", "conditions": [{"prop": "kind", "value": "video"}],
         "next": [image(ref="video")]},
    ]  # fmt: skip
    run = started(store, plan)
    assert run.decisions == {"0": True, "1": False}
    assert step_tasks(store, run) == {"0.0": "waiting"}
    assert store.get_run("prj_a", run.id).decisions == {"0": True, "1": False}  # type: ignore[union-attr]


def test_a_run_whose_gates_all_fail_is_ready_at_once(store: Store) -> None:
    plan = [{"kind": "conditions", "conditions": [{"prop": "kind", "value": "audio"}],
             "next": [image()]}]  # fmt: skip
    run = started(store, plan)
    assert run.status == "ready" and store.run_tasks(run.id) == []


def test_only_active_media_created_automations_start_on_a_new_media(store: Store) -> None:
    def automation(status: str, project: str = "prj_a") -> AutomationRecord:
        record = AutomationRecord(
            id=f"auto_{status}_{project}",
            project_id=project,
            name=None,
            description=None,
            trigger={"kind": "event", "event": "media.created"},
            workflow=[{"kind": "image"}],
            plan=[image()],
            status=status,
            created=stamp(),
            updated=stamp(),
        )
        store.create_automation(record)
        return record

    active, _, _ = automation("active"), automation("paused"), automation("active", "prj_b")
    media = MediaRecord("med_1", "prj_a", stamp(), stamp(), kind="video")
    source = replace(file_record(), media_id="med_1")
    (run,) = store.keep_source(source, media, trigger=True)
    assert store.get_file("prj_a", source.id) == source
    assert store.get_media("prj_a", "med_1") is not None
    assert (run.automation_id, run.media_id, run.file_id) == (active.id, "med_1", source.id)
    (task,) = store.run_tasks(run.id)
    assert task.media_id == "med_1" and task.project_id == "prj_a"
    assert store.delete_automation("prj_a", active.id)
    second = replace(file_record(), id="file_second", media_id="med_2")
    assert store.keep_source(second, replace(media, id="med_2"), trigger=True) == []
    assert store.list_runs("prj_a", 1, 10).total == 1


def test_a_source_its_media_and_its_runs_are_kept_all_or_none(store: Store) -> None:
    """The media insert fails (its id is taken): neither the file nor the run is left."""
    store.create_automation(
        AutomationRecord(
            id="auto_a",
            project_id="prj_a",
            name=None,
            description=None,
            trigger={"kind": "event", "event": "media.created"},
            workflow=[{"kind": "image"}],
            plan=[image()],
            status="active",
            created=stamp(),
            updated=stamp(),
        )
    )
    media = MediaRecord("med_taken", "prj_a", stamp(), stamp())
    store.create_media(media)
    source = replace(file_record(), media_id="med_taken")
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        store.keep_source(source, media, trigger=True)
    assert store.get_file("prj_a", source.id) is None
    assert store.list_runs("prj_a", 1, 10).total == 0
    assert store.list_tasks("prj_a", TaskQuery(page=1, limit=10)).total == 0
