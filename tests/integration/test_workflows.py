"""Automations and runs: the official SDK's automations client, the DAG's semantics and its
refusals, against an in-process app on a real SQLite store and local storage.

Steps run through the real executor and operators (`work`), leased and recorded through the
store as a dispatcher does; only Ray is left out (tests/e2e/test_workflows.py has it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from fastapi.testclient import TestClient

from operators.registry import load_operator
from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.executor import Job, execute
from pipeline.library import findings_for
from pipeline.storage import Storage, open_storage
from pipeline.store import Store, TaskRecord, open_store
from tests.integration.conftest import Samples
from tests.support.records import output_for, task_record
from tests.support.vision import text_picture

ittybit = pytest.importorskip("ittybit")
pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")
# The envelope dialect, asked for: with no header /automations answers the SDK's dialect.
AUTH = {"Authorization": "Bearer sk_a", "Accept-Version": "2024-08-21"}
KINDS = ["video", "image", "audio", "thumbnails", "objects", "chapters", "text", "description"]


@pytest.fixture
def parts(settings: Settings) -> tuple[Settings, Store, Storage]:
    return settings, open_store(settings.database_url), open_storage(settings.storage_url)


@pytest.fixture
def http(parts: tuple[Settings, Store, Storage]) -> Iterator[TestClient]:
    with TestClient(create_app(*parts)) as client:
        client.headers.update(AUTH)
        yield client


def work(parts: tuple[Settings, Store, Storage], *, fail: str | None = None) -> list[TaskRecord]:
    """Lease every waiting task and run it as a worker would; a task of kind `fail` is
    failed instead (as a corrupt input would fail it). The tasks leased."""
    settings, store, storage = parts
    leased = store.lease("test-worker", KINDS, 50, 60.0, 3)
    for task in leased:
        if task.kind == fail:
            assert store.fail(task.id, "test-worker", "input_unreadable", "corrupt", None)
            continue
        source = store.get_file(task.project_id, task.input_file_id or "")
        assert source is not None
        job = Job(
            task.id,
            task.project_id,
            task.kind,
            task.options,
            input_key=source.storage_key,
            findings=findings_for(store, task),  # as the dispatcher gathers them
        )
        result = execute(job, load_operator(task.kind)(), storage, settings)
        if result.output is not None:
            assert store.complete(task.id, "test-worker", result.output)
        else:
            assert result.error is not None
            assert store.fail(task.id, "test-worker", result.error.code, result.error.message, None)
    return leased


def upload(http: TestClient, path: Path, **params: str) -> dict[str, Any]:
    with path.open("rb") as body:
        answer = http.post("/files", params=params, files={"file": (path.name, body)})
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]


def automation(http: TestClient, workflow: list[Any], **fields: Any) -> dict[str, Any]:
    answer = http.post("/automations", json={"workflow": workflow, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]


def runs_of(http: TestClient, automation_id: str) -> list[dict[str, Any]]:
    answer = http.get("/runs", params={"automation_id": automation_id})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def run_of(http: TestClient, run_id: str) -> dict[str, Any]:
    answer = http.get(f"/runs/{run_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def drain(parts: tuple[Settings, Store, Storage], **kwargs: Any) -> None:
    for _ in range(10):
        if not work(parts, **kwargs):
            return
    raise AssertionError("the run kept making tasks")


# -- the official SDK --------------------------------------------------------------------


def test_the_sdk_creates_lists_gets_updates_and_deletes_an_automation(http: TestClient) -> None:
    del http.headers["Accept-Version"]  # the SDK sends its own, or none (create)
    sdk = ittybit.Ittybit(base_url="http://testserver", api_key="sk_a", httpx_client=http)
    created = sdk.automations.create(
        name="posters",
        trigger={"kind": "event", "event": "media.created"},
        workflow=[
            {"kind": "image", "ref": "thumbnail"},
            {"kind": "video", "next": [{"kind": "thumbnails", "ref": "strip"}]},
        ],
        status="active",
    )
    assert created.id.startswith("auto_") and created.status == "active"
    assert created.trigger.event == "media.created"
    assert [step.kind for step in created.workflow] == ["image", "video"]
    assert created.workflow[1].next[0].ref == "strip"

    assert [a.id for a in sdk.automations.list()] == [created.id]
    assert sdk.automations.get(created.id).name == "posters"

    updated = sdk.automations.update(
        created.id,
        name="posters v2",
        status="paused",
        trigger={"kind": "event", "event": "media.created"},
        workflow=[{"kind": "image", "ref": "poster"}],
    )
    assert (updated.name, updated.status) == ("posters v2", "paused")
    assert updated.workflow[0].ref == "poster"
    assert updated.updated >= created.updated

    deleted = sdk.automations.delete(created.id)
    assert created.id in (deleted.message or "")
    with pytest.raises(ittybit.core.api_error.ApiError) as gone:
        sdk.automations.get(created.id)
    assert gone.value.status_code == 404


def test_another_project_cannot_see_or_run_an_automation(
    http: TestClient, samples: Samples
) -> None:
    made = automation(http, [{"kind": "image"}])
    other = {"Authorization": "Bearer sk_b"}
    assert http.get(f"/automations/{made['id']}", headers=other).status_code == 404
    assert http.delete(f"/automations/{made['id']}", headers=other).status_code == 404
    photo = {"file": ("p.jpg", samples.photo.read_bytes())}
    theirs = http.post("/files", headers=other, files=photo)
    answer = http.post(
        f"/automations/{made['id']}/run", json={"file_id": theirs.json()["data"]["id"]}
    )
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "file_id"


# -- triggers and on-demand runs ---------------------------------------------------------


def test_an_upload_runs_the_workflow_and_the_outputs_join_its_media(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples, tmp_path: Path
) -> None:
    made = automation(
        http,
        [
            {"kind": "image", "format": "jpeg", "width": 80, "ref": "thumbnail"},
            {"kind": "video", "format": "mp4", "width": 96, "next": [
                {"kind": "image", "format": "png", "start": 1.0, "ref": "still"},
            ]},
        ],
    )  # fmt: skip
    file = upload(http, samples.clip_with_audio)
    (run,) = runs_of(http, made["id"])
    assert run["status"] == "processing" and run["input"]["file_id"] == file["id"]
    assert [s["status"] for s in run["steps"]] == ["waiting", "waiting"]
    assert run["steps"][1]["next"][0]["status"] == "pending"

    assert {t.kind for t in work(parts)} == {"image", "video"}
    run = run_of(http, run["id"])
    child = run["steps"][1]["next"][0]
    assert child["status"] == "waiting" and run["status"] == "processing"
    task = http.get(f"/tasks/{child['task_id']}").json()["data"]
    assert task["run_id"] == run["id"] and task["step"] == "workflow[1].next[0]"
    assert task["parent_id"] == run["steps"][1]["task_id"]
    transcoded = http.get(f"/tasks/{task['parent_id']}").json()["data"]["output"]
    assert task["input"] == transcoded["id"]  # the child reads its parent's output

    assert [t.kind for t in work(parts)] == ["image"]
    run = run_of(http, run["id"])
    assert run["status"] == "ready"
    media = http.get(f"/media/{file['media_id']}").json()["data"]
    assert set(media["urls"]) == {"thumbnail", "still"}
    still = tmp_path / "still.png"
    still.write_bytes(http.get(media["urls"]["still"].replace("http://testserver", "")).content)
    with av.open(str(still)) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (96, 54)  # made from the 96-wide transcode


def test_a_paused_automation_starts_nothing_and_a_run_on_demand_is_refused(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    made = automation(http, [{"kind": "image"}], status="paused")
    file = upload(http, samples.photo)
    assert runs_of(http, made["id"]) == []
    answer = http.post(f"/automations/{made['id']}/run", json={"file_id": file["id"]})
    assert answer.status_code == 409

    assert http.patch(f"/automations/{made['id']}", json={"status": "active"}).status_code == 200
    by_media = http.post(f"/automations/{made['id']}/run", json={"media_id": file["media_id"]})
    assert by_media.status_code == 201, by_media.text
    run = by_media.json()["data"]
    assert run["input"]["file_id"] == file["id"] and run["automation_id"] == made["id"]
    drain(parts)
    assert run_of(http, run["id"])["status"] == "ready"


def test_a_deleted_automation_lets_its_runs_finish_and_starts_no_more(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    made = automation(http, [{"kind": "image", "next": [{"kind": "image", "width": 32}]}])
    upload(http, samples.photo)
    (run,) = runs_of(http, made["id"])
    assert http.delete(f"/automations/{made['id']}").status_code == 200
    drain(parts)
    finished = run_of(http, run["id"])
    assert finished["status"] == "ready"
    assert [s["status"] for s in finished["steps"]] == ["ready"]
    assert finished["steps"][0]["next"][0]["status"] == "ready"
    upload(http, samples.photo)
    assert [r["id"] for r in runs_of(http, made["id"])] == [run["id"]]


# -- DAG semantics -----------------------------------------------------------------------


def test_conditions_gate_their_steps_both_ways(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    made = automation(
        http,
        [
            {"kind": "conditions", "conditions": [{"prop": "kind", "value": "video"}],
             "next": [{"kind": "image", "ref": "poster"}]},
            {"kind": "conditions",
             "conditions": [{"prop": "duration", "value": ">= 60"},
                            {"prop": "kind", "value": "video"}],
             "next": [{"kind": "thumbnails", "ref": "strip"}]},
            {"kind": "conditions", "conditions": [{"prop": "has_audio", "value": "false"}],
             "next": [{"kind": "image", "ref": "silent"}]},
        ],
    )  # fmt: skip
    upload(http, samples.clip)  # 2 s of video, no sound
    (run,) = runs_of(http, made["id"])
    gates = run["steps"]
    assert [g["held"] for g in gates] == [True, False, True]
    assert gates[0]["next"][0]["status"] == "waiting"
    assert gates[1]["next"][0] == {**gates[1]["next"][0], "status": "skipped", "task_id": None}
    drain(parts)
    run = run_of(http, run["id"])
    assert run["status"] == "ready"
    assert sorted(t for t in (s["next"][0]["ref"] for s in run["steps"])) == [
        "poster", "silent", "strip",
    ]  # fmt: skip
    assert len(run["tasks"]) == 2  # the skipped step made no task

    photo_run = http.post(
        f"/automations/{made['id']}/run", json={"file_id": upload(http, samples.photo)["id"]}
    ).json()["data"]
    assert [g["held"] for g in photo_run["steps"]] == [False, False, True]


def test_a_failed_step_fails_its_descendants_and_spares_its_siblings(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    made = automation(
        http,
        [
            {"kind": "video", "next": [{"kind": "image", "next": [{"kind": "objects"}]}]},
            {"kind": "image", "ref": "poster", "next": [{"kind": "image", "width": 40}]},
        ],
    )
    upload(http, samples.clip)
    (run,) = runs_of(http, made["id"])
    work(parts, fail="video")
    run = run_of(http, run["id"])
    failed, sibling = run["steps"]
    assert failed["status"] == "error" and failed["error"]["code"] == "input_unreadable"
    image = failed["next"][0]
    assert image["status"] == "error" and image["task_id"] is None
    assert image["error"]["code"] == "upstream_failed"
    message = image["error"]["message"]
    assert "workflow[0]" in message and failed["task_id"] in message
    assert image["next"][0]["error"]["code"] == "upstream_failed"
    assert sibling["status"] == "ready" and sibling["next"][0]["status"] == "waiting"
    assert run["status"] == "processing"  # the sibling branch still runs
    drain(parts)
    run = run_of(http, run["id"])
    assert run["steps"][1]["next"][0]["status"] == "ready"
    assert run["status"] == "error"


def test_two_branches_are_queued_together(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    made = automation(
        http,
        [
            {"kind": "video", "width": 64, "next": [{"kind": "thumbnails", "count": 2}]},
            {"kind": "audio", "format": "wav", "next": [{"kind": "audio", "format": "mp3"}]},
        ],
    )
    upload(http, samples.clip_with_audio)
    _, store, _ = parts
    # Both branches are leasable at once: two workers would take one each.
    first = store.lease("worker-1", ["video"], 1, 60.0, 3)
    second = store.lease("worker-2", ["audio"], 1, 60.0, 3)
    assert [t.kind for t in first + second] == ["video", "audio"]
    for task in first + second:
        store.release(task.id, task.lease_owner or "")
    drain(parts)
    (run,) = runs_of(http, made["id"])
    assert run["status"] == "ready"
    mp3 = run["steps"][1]["next"][0]
    output = http.get(f"/tasks/{mp3['task_id']}").json()["data"]["output"]
    assert output["format"] == "mp3" and output["duration"] > 1.5


def test_a_cancelled_step_fails_its_descendants(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    made = automation(http, [{"kind": "image", "next": [{"kind": "image", "width": 10}]}])
    upload(http, samples.photo)
    (run,) = runs_of(http, made["id"])
    assert http.delete(f"/tasks/{run['steps'][0]['task_id']}").status_code == 200
    run = run_of(http, run["id"])
    assert run["status"] == "error"
    assert run["steps"][0]["next"][0]["error"]["code"] == "upstream_failed"
    assert work(parts) == []


def test_a_step_the_input_cannot_feed_fails_as_a_task_would(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    """`audio` is a fine step for a video with sound; on a silent one it fails with the
    kind's own stream check, and the run says so."""
    made = automation(http, [{"kind": "audio"}])
    upload(http, samples.clip)
    drain(parts)
    (run,) = runs_of(http, made["id"])
    assert run["status"] == "error"
    assert run["steps"][0]["error"]["code"] == "no_audio_stream"


# -- refusals ----------------------------------------------------------------------------


def nested(depth: int) -> dict[str, Any]:
    step: dict[str, Any] = {"kind": "video"}
    for _ in range(depth - 1):
        step = {"kind": "video", "next": [step]}
    return step


@pytest.mark.parametrize(
    ("workflow", "field", "words"),
    [
        ([{"kind": "image", "next": [{"kind": "subtitles"}]}], "workflow[0].next[0].kind",
         "cannot read"),
        ([{"kind": "thumbnails", "next": [{"kind": "image"}]}], "workflow[0].next[0].kind",
         "no media file"),
        ([{"kind": "video", "format": "cmaf", "next": [{"kind": "image"}]}],
         "workflow[0].next[0].kind", "no media file"),
        ([{"kind": "image"}, {"kind": "teleport"}], "workflow[1].kind", "unknown kind"),
        ([{"kind": "prompt", "prompt": "describe it"}], "workflow[0].kind", "not available"),
        ([nested(9)], "workflow[0]" + ".next[0]" * 8, "too deep"),
        ([{"kind": "image", "width": 0}], "workflow[0].width", "greater than"),
        ([{"kind": "image", "bogus": 1}], "workflow[0].bogus", "unknown field"),
        ([{"kind": "speech", "width": 10}], "workflow[0].width", "does not apply"),
        ([{"kind": "image", "url": "http://example.com/x.jpg"}], "workflow[0].file_id", "input"),
        ([{"kind": "conditions", "conditions": [{"prop": "colour", "value": "red"}]}],
         "workflow[0].conditions[0]", "unknown prop"),
        ([{"kind": "conditions", "conditions": [{"prop": "duration", "value": "> long"}]}],
         "workflow[0].conditions[0]", "compares numbers"),
        ([{"kind": "image", "ref": "a"}, {"kind": "video", "ref": "a"}], "workflow[1].ref",
         "already names workflow[0]"),
        ([], "workflow", "at least one"),
        ([{"kind": "image", "conditions": [{"prop": "kind", "value": "audio"}]}],
         "workflow[0].conditions", "only a conditions step"),
        ([{"kind": "image", "next": 0}], "workflow[0].next", "a list"),
        ([{"kind": "conditions", "conditions": [{"prop": "kind", "value": "x", "y": [1]}]}],
         "workflow[0].conditions[0].y", "unknown field"),
        ([{"kind": "conditions", "conditions": [{"prop": "duration", "value": "!=video"}]}],
         "workflow[0].conditions[0]", "is a number"),
        ([{"kind": "conditions", "conditions": [{"prop": "width", "value": "> nan"}]}],
         "workflow[0].conditions[0]", "compares numbers"),
        ([{"kind": "image", "next": [{"kind": "image"}] * 70}], "workflow[0].next[63]",
         "at most 64"),
    ],
)  # fmt: skip
def test_a_bad_workflow_is_refused_naming_the_step(
    http: TestClient, workflow: list[Any], field: str, words: str
) -> None:
    answer = http.post("/automations", json={"workflow": workflow})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == field and words in error["message"], error
    assert http.get("/automations").json()["meta"]["total"] == 0


def test_a_bad_update_leaves_the_automation_as_it_was(http: TestClient) -> None:
    made = automation(http, [{"kind": "image"}])
    unreadable = [{"kind": "image", "next": [{"kind": "speech"}]}]
    answer = http.patch(f"/automations/{made['id']}", json={"workflow": unreadable})
    assert answer.status_code == 422
    assert http.get(f"/automations/{made['id']}").json()["data"]["workflow"] == [{"kind": "image"}]
    assert http.patch(f"/automations/{made['id']}", json={"status": "gone"}).status_code == 422
    assert http.post(f"/automations/{made['id']}/run", json={}).status_code == 422
    missing = http.post(f"/automations/{made['id']}/run", json={"file_id": "file_nope"})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "file_id"


def test_the_2025_dialect_answers_bare_objects_and_lists(http: TestClient) -> None:
    v2025 = {"Accept-Version": "2025-08-20"}
    del http.headers["Accept-Version"]
    bare = http.post("/automations", json={"workflow": [{"kind": "video"}]})
    assert bare.json()["object"] == "automation"  # no header: the dialect that has the route
    assert http.get("/tasks").json()["meta"]["version"] == "2024-08-21"  # elsewhere as before
    made = http.post("/automations", json={"workflow": [{"kind": "image"}]}, headers=v2025)
    assert made.status_code == 201 and made.json()["object"] == "automation"
    listed = http.get("/automations", headers=v2025)
    assert [a["id"] for a in listed.json()] == [made.json()["id"], bare.json()["id"]]
    assert listed.headers["X-Total-Count"] == "2"
    assert isinstance(http.get("/runs", headers=v2025).json(), list)
    assert http.get("/runs/run_nope", headers=v2025).status_code == httpx.codes.NOT_FOUND


def test_an_inline_workflow_runs_without_an_automation(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    file = upload(http, samples.photo)
    workflow = [{"kind": "image", "width": 50, "next": [{"kind": "image", "format": "webp"}]}]
    answer = http.post("/runs", json={"workflow": workflow, "file_id": file["id"]})
    assert answer.status_code == 201, answer.text
    run = answer.json()["data"]
    assert run["automation_id"] is None and run["steps"][0]["status"] == "waiting"
    drain(parts)
    done = run_of(http, run["id"])
    assert done["status"] == "ready"
    webp = http.get(f"/tasks/{done['steps'][0]['next'][0]['task_id']}").json()["data"]
    assert webp["output"]["format"] == "webp" and webp["output"]["width"] == 50
    refused = http.post("/runs", json={"workflow": [{"kind": "nope"}], "file_id": file["id"]})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "workflow[0].kind"
    assert http.get("/runs").json()["meta"]["total"] == 1


GATE = b'{"workflow": [{"kind": "conditions", "conditions": [{"prop": "kind", "value": %s}]}]}'


@pytest.mark.parametrize(
    "raw",
    [
        b'{"workflow": [{"kind": "image", "junk": NaN}]}',
        GATE % b"Infinity",
        GATE % b"1e999",
        GATE % b'"\\ud800"',  # a lone surrogate
    ],
)
def test_a_workflow_that_could_not_be_echoed_is_refused_and_not_stored(
    http: TestClient, raw: bytes
) -> None:
    """Stored as sent and echoed back: a NaN or a lone surrogate would poison every list."""
    answer = http.post("/automations", content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code in (400, 422), answer.text
    listed = http.get("/automations")
    assert listed.status_code == 200 and listed.json()["meta"]["total"] == 0


def test_a_patch_clears_a_name_but_never_nulls_the_workflow(http: TestClient) -> None:
    made = automation(http, [{"kind": "image"}], name="posters")
    cleared = http.patch(f"/automations/{made['id']}", json={"name": None})
    assert cleared.status_code == 200 and cleared.json()["data"]["name"] is None
    for field in ("workflow", "status", "trigger"):
        answer = http.patch(f"/automations/{made['id']}", json={field: None})
        assert answer.status_code == 422 and answer.json()["error"]["field"] == field


def test_a_media_with_many_outputs_still_runs_on_its_original(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    _, store, _ = parts
    file = upload(http, samples.photo)
    for _ in range(105):  # more outputs than one page of files
        task = replace(
            task_record(input_file_id=file["id"]), media_id=file["media_id"], input_url=None
        )
        store.create_task(task)
        (leased,) = store.lease("w", ["image"], 1, 60.0, 3)
        assert store.complete(leased.id, "w", output_for(leased))
    made = automation(http, [{"kind": "image"}])
    answer = http.post(f"/automations/{made['id']}/run", json={"media_id": file["media_id"]})
    assert answer.status_code == 201, answer.text
    assert answer.json()["data"]["input"]["file_id"] == file["id"]


def test_an_output_made_after_its_media_was_deleted_joins_no_media(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    made = automation(http, [{"kind": "image", "width": 20}])
    file = upload(http, samples.photo)
    assert http.delete(f"/media/{file['media_id']}").status_code == 200
    drain(parts)
    (run,) = runs_of(http, made["id"])
    output = http.get(f"/tasks/{run['steps'][0]['task_id']}").json()["data"]["output"]
    assert output["media_id"] is None


def test_a_project_has_a_bounded_number_of_automations(
    http: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipeline.api.routes_automations.MAX_AUTOMATIONS", 3)
    for _ in range(3):
        automation(http, [{"kind": "image"}])
    answer = http.post("/automations", json={"workflow": [{"kind": "image"}]})
    assert answer.status_code == 422 and "at most 3" in answer.json()["error"]["message"]


def test_a_description_step_waits_for_the_others_and_describes_what_they_found(
    http: TestClient, parts: tuple[Settings, Store, Storage], tmp_path: Path
) -> None:
    sign = tmp_path / "sign.png"
    text_picture(["Fresh Bread Daily"]).save(sign)
    made = automation(
        http,
        [
            {"kind": "description", "ref": "about"},
            {"kind": "image", "format": "png", "next": [{"kind": "text", "ref": "words"}]},
        ],
    )
    upload(http, sign)
    (run,) = runs_of(http, made["id"])
    assert run["steps"][0]["status"] == "pending"  # held until the rest has ended
    assert {t.kind for t in work(parts)} == {"image"}
    assert {t.kind for t in work(parts)} == {"text"}
    assert {t.kind for t in work(parts)} == {"description"}
    run = run_of(http, run["id"])
    assert run["status"] == "ready"
    task = http.get(f"/tasks/{run['steps'][0]['task_id']}").json()["data"]
    described = http.get(task["output"]["url"].replace("http://testserver", "")).json()
    assert described["method"] == "extractive" and described["sources"] == ["text"]
    assert "Fresh Bread Daily" in described["description"]
    assert {"fresh", "bread", "daily"} <= set(described["tags"])
    assert task["output"]["title"] == described["title"]
