"""Webhook endpoints and events: subscribed events reach a loopback receiver, signed the
Standard Webhooks way, checked here with the spec's reference algorithm written out
independently of Strobe's code; refusals of bad endpoints; `GET /events`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.api.presenters import Presenter
from pipeline.config import Settings
from pipeline.storage import Storage, open_storage
from pipeline.store import Store, open_store
from pipeline.webhooks import WebhookPolicy, WebhookSender
from tests.integration.conftest import Samples
from tests.support.receiver import Receiver, webhook_receiver
from tests.support.records import output_for

AUTH = {"Authorization": "Bearer sk_a", "Accept-Version": "2024-08-21"}
FAST = WebhookPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.2, claim_s=0.3)


def standard_webhooks_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks reference check: the key is the base64 after `whsec_`; the
    signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the header holds
    space-separated `v1,<base64 HMAC-SHA256>` entries; the timestamp is within 5 minutes."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    for entry in headers["webhook-signature"].split(" "):
        version, _, given = entry.partition(",")
        if version == "v1" and hmac.compare_digest(given, expected):
            return True
    return False


@pytest.fixture
def parts(settings: Settings) -> tuple[Settings, Store, Storage]:
    loopback = replace(settings, allow_private_urls=True)  # the receiver is on loopback
    return loopback, open_store(settings.database_url), open_storage(settings.storage_url)


@pytest.fixture
def http(parts: tuple[Settings, Store, Storage]) -> Iterator[TestClient]:
    with TestClient(create_app(*parts)) as client:
        client.headers.update(AUTH)
        yield client


def sender(parts: tuple[Settings, Store, Storage]) -> WebhookSender:
    settings, store, storage = parts
    presenter = Presenter("http://strobe.test", settings.secret_key, storage, 3600)
    return WebhookSender(
        store,  # type: ignore[arg-type]
        presenter,
        legacy_secret=settings.webhook_secret,
        allow_private=True,
        policy=FAST,
    )


def deliver(parts: tuple[Settings, Store, Storage], receiver: Receiver, want: int) -> None:
    webhooks = sender(parts)
    deadline = time.monotonic() + 10
    while len(receiver.deliveries) < want and time.monotonic() < deadline:
        if not webhooks.send_due():
            time.sleep(0.05)
    webhooks.send_due()  # one more round: nothing beyond `want` may arrive
    assert len(receiver.deliveries) == want, [d.body for d in receiver.deliveries]


def endpoint(http: TestClient, url: str, topics: list[str]) -> dict[str, Any]:
    answer = http.post("/webhooks/endpoints", json={"url": url, "topics": topics})
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]


def run_one_step(http: TestClient, store: Store, samples: Samples, *, ok: bool) -> str:
    """A one-step workflow on an upload, its step finished (or failed) as a worker would;
    the task's id."""
    with samples.photo.open("rb") as body:
        file = http.post("/files", files={"file": ("p.jpg", body)}).json()["data"]
    made = http.post("/automations", json={"workflow": [{"kind": "image"}]}).json()["data"]
    http.post(f"/automations/{made['id']}/run", json={"file_id": file["id"]})
    http.delete(f"/automations/{made['id']}")  # so the next upload starts nothing
    (task,) = store.lease("w1", ["image"], 5, 60.0, 3)
    if ok:
        assert store.complete(task.id, "w1", output_for(task))
    else:
        assert store.fail(task.id, "w1", "input_unreadable", "not media", None)
    return task.id


def test_subscribed_events_arrive_signed_the_standard_webhooks_way(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    _, store, _ = parts
    with webhook_receiver(fail_first=1) as receiver, webhook_receiver() as runs_only:
        every = endpoint(http, receiver.url, ["task.succeeded", "run.succeeded", "run.failed"])
        only_runs = endpoint(http, runs_only.url, ["run.failed"])
        task_id = run_one_step(http, store, samples, ok=True)
        deliver(parts, receiver, want=2)
        assert runs_only.deliveries == []
        failed_task = run_one_step(http, store, samples, ok=False)
        deliver(parts, runs_only, want=1)
        assert len(receiver.deliveries) == 3  # run.failed too; task.failed is not its topic
    assert receiver.refused == 1  # the first try failed and was retried
    seen = {}
    for delivery in receiver.deliveries:
        headers = {k.lower(): v for k, v in delivery.headers.items()}
        assert standard_webhooks_verify(every["secret"], headers, delivery.body)
        assert not standard_webhooks_verify(only_runs["secret"], headers, delivery.body)
        event = json.loads(delivery.body)
        seen[event["type"]] = event
    assert set(seen) == {"task.succeeded", "run.succeeded", "run.failed"}
    assert seen["task.succeeded"]["data"]["id"] == task_id
    assert seen["task.succeeded"]["data"]["status"] == "ready"
    run = seen["run.succeeded"]["data"]
    assert run["object"] == "run" and run["status"] == "ready" and run["tasks"] == [task_id]

    (failure,) = runs_only.deliveries
    headers = {k.lower(): v for k, v in failure.headers.items()}
    assert standard_webhooks_verify(only_runs["secret"], headers, failure.body)
    failed_run = json.loads(failure.body)
    assert failed_run["type"] == "run.failed"
    assert failed_run["data"]["steps"][0]["task_id"] == failed_task

    events = http.get("/events").json()
    assert events["meta"]["total"] == 4
    types = [e["type"] for e in events["data"]]  # newest first; a run ends with its task
    assert set(types[:2]) == {"run.failed", "task.failed"}
    assert set(types[2:]) == {"run.succeeded", "task.succeeded"}
    only = http.get("/events", params={"type": "task.failed"}).json()["data"]
    assert [e["object_id"] for e in only] == [failed_task]


def test_the_secret_is_shown_once_and_a_deleted_endpoint_gets_nothing(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    _, store, _ = parts
    with webhook_receiver() as receiver:
        made = endpoint(http, receiver.url, ["task.succeeded"])
        assert made["secret"].startswith("whsec_")
        shown = http.get(f"/webhooks/endpoints/{made['id']}").json()["data"]
        assert "secret" not in shown and shown["topics"] == ["task.succeeded"]
        assert [e["id"] for e in http.get("/webhooks/endpoints").json()["data"]] == [made["id"]]
        run_one_step(http, store, samples, ok=True)  # a delivery is due...
        assert http.delete(f"/webhooks/endpoints/{made['id']}").status_code == 200
        deliver(parts, receiver, want=0)  # ...and given up
    assert http.get(f"/webhooks/endpoints/{made['id']}").status_code == 404
    other = {"Authorization": "Bearer sk_b"}
    assert http.get("/webhooks/endpoints", headers=other).json()["meta"]["total"] == 0
    assert http.get("/events", headers=other).json()["meta"]["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:9/hook", "topics": ["task.failed"]}, "url"),
        ({"url": "http://10.1.2.3/hook", "topics": ["task.failed"]}, "url"),
        ({"url": "file:///etc/passwd", "topics": ["task.failed"]}, "url"),
        ({"url": "https://user:pw@example.com/h", "topics": ["task.failed"]}, "url"),
        ({"url": "https://exa mple.com/h", "topics": ["task.failed"]}, "url"),
        ({"url": "https://example.com/h", "topics": ["task.failed", "task.exploded"]}, "topics[1]"),
        ({"url": "https://example.com/h", "topics": []}, "topics"),
        ({"url": "https://example.com/h", "topics": ["task.failed"], "x": 1}, "x"),
    ],
)
def test_a_bad_endpoint_is_refused(settings: Settings, body: dict[str, Any], field: str) -> None:
    parts = settings, open_store(settings.database_url), open_storage(settings.storage_url)
    with TestClient(create_app(*parts)) as client:
        answer = client.post("/webhooks/endpoints", json=body, headers=AUTH)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == field
        assert client.get("/webhooks/endpoints", headers=AUTH).json()["meta"]["total"] == 0


def project_signature_ok(store: Store, delivery: Any) -> bool:
    """The README's check for a task webhook: hex HMAC-SHA256 over `{timestamp}.{body}`
    with the project's secret, written out here."""
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    (secret,) = [s.secret for s in store.webhook_secrets("prj_a")]
    message = f"{headers['strobe-timestamp']}.".encode() + delivery.body
    expected = "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(expected, given) for given in headers["strobe-signature"].split(",")
    )


def step_run(http: TestClient, samples: Samples, workflow: list[Any]) -> dict[str, Any]:
    with samples.photo.open("rb") as body:
        file = http.post("/files", files={"file": ("p.jpg", body)}).json()["data"]
    answer = http.post("/runs", json={"workflow": workflow, "file_id": file["id"]})
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]


def test_an_http_step_posts_the_run_signed_once_its_parent_is_ready(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    settings, store, _ = parts
    store.ensure_webhook_secret("prj_a", "whsec_project_a", legacy=None, legacy_until=0)
    with webhook_receiver(fail_first=1) as receiver:
        run = step_run(
            http, samples, [{"kind": "image", "next": [{"kind": "http", "url": receiver.url}]}]
        )
        assert run["steps"][0]["next"][0]["status"] == "pending"
        deliver(parts, receiver, want=0)  # nothing before the image is ready
        (task,) = store.lease("w1", ["image"], 5, 60.0, 3)
        assert store.complete(task.id, "w1", output_for(task))
        shown = http.get(f"/runs/{run['id']}").json()["data"]
        assert shown["status"] == "processing"  # the POST is part of the run
        assert shown["steps"][0]["next"][0]["status"] == "processing"
        deliver(parts, receiver, want=1)
    (delivered,) = receiver.deliveries
    assert project_signature_ok(store, delivered)
    payload = json.loads(delivered.body)
    assert payload["type"] == "workflow.http" and payload["step"] == "workflow[0].next[0]"
    assert payload["data"]["id"] == run["id"] and payload["data"]["steps"][0]["status"] == "ready"
    done = http.get(f"/runs/{run['id']}").json()["data"]
    step = done["steps"][0]["next"][0]
    assert done["status"] == "ready" and (step["status"], step["attempts"]) == ("ready", 2)


def test_an_http_step_that_never_gets_through_fails_the_run(
    http: TestClient, parts: tuple[Settings, Store, Storage], samples: Samples
) -> None:
    _, store, _ = parts
    with webhook_receiver(fail_first=100) as receiver:
        run = step_run(
            http,
            samples,
            [
                {"kind": "http", "url": receiver.url},
                {"kind": "image", "next": [{"kind": "http", "url": receiver.url}]},
            ],
        )
        (task,) = store.lease("w1", ["image"], 5, 60.0, 3)
        assert store.fail(task.id, "w1", "input_unreadable", "not media", None)
        webhooks = sender(parts)
        for _ in range(200):  # every attempt the policy allows
            if http.get(f"/runs/{run['id']}").json()["data"]["status"] != "processing":
                break
            webhooks.send_due()
            time.sleep(0.05)
    assert receiver.refused == FAST.max_attempts  # the top-level step's POSTs only
    done = http.get(f"/runs/{run['id']}").json()["data"]
    first, image = done["steps"]
    assert done["status"] == "error"
    assert first["status"] == "error" and "HTTP 503" in first["error"]["message"]
    assert image["next"][0]["error"]["code"] == "upstream_failed"


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"kind": "http", "url": "http://10.0.0.8/hook"}, "workflow[0].url"),
        ({"kind": "http"}, "workflow[0].url"),
        ({"kind": "http", "url": "https://example.com/h", "method": "GET"}, "workflow[0].method"),
        ({"kind": "http", "url": "https://example.com/h", "next": [{"kind": "image"}]},
         "workflow[0].next"),
    ],
)  # fmt: skip
def test_a_bad_http_step_is_refused(settings: Settings, step: dict[str, Any], field: str) -> None:
    parts = settings, open_store(settings.database_url), open_storage(settings.storage_url)
    with TestClient(create_app(*parts)) as client:
        answer = client.post("/automations", json={"workflow": [step]}, headers=AUTH)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == field
