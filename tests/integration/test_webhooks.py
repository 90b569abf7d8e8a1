"""Webhook outbox and sender against a real SQLite store and a loopback receiver."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from pipeline.api.presenters import Presenter
from pipeline.config import Settings
from pipeline.storage import LocalStorage
from pipeline.store.sqlite import SQLiteStore
from pipeline.webhooks import WebhookPolicy, WebhookSender, signature, verify
from tests.support.receiver import Receiver, webhook_receiver
from tests.support.records import output_for, task_record

FAST = WebhookPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.2, claim_s=0.3)


def make_sender(store: SQLiteStore, settings: Settings, **kwargs: object) -> WebhookSender:
    presenter = Presenter(
        "http://strobe.test", settings.secret_key, LocalStorage(settings.data_dir / "objects"), 3600
    )
    options = {"legacy_secret": settings.webhook_secret, "allow_private": True, "policy": FAST}
    return WebhookSender(store, presenter, **{**options, **kwargs})  # type: ignore[arg-type]


def finish(store: SQLiteStore, webhook_url: str, *, ok: bool = True) -> str:
    task = replace(task_record(), webhook_url=webhook_url)
    store.create_task(task)
    store.lease("w1", ["image"], 1, 60, 3)
    if ok:
        assert store.complete(task.id, "w1", output_for(task))
    else:
        assert store.fail(task.id, "w1", "input_unreadable", "not media", None)
    return task.id


def deliver_all(
    sender: WebhookSender, receiver: Receiver, want: int, timeout_s: float = 10
) -> None:
    deadline = time.monotonic() + timeout_s
    while len(receiver.deliveries) < want and time.monotonic() < deadline:
        if not sender.send_due():
            time.sleep(0.05)
    assert len(receiver.deliveries) == want


def test_signature_round_trip() -> None:
    body = b'{"a": 1}'
    header = signature("whsec_x", "1700000000", body)
    assert header.startswith("v1=") and len(header) == 3 + 64
    assert verify("whsec_x", "1700000000", body, header)
    assert not verify("whsec_x", "1700000001", body, header)
    assert not verify("whsec_y", "1700000000", body, header)
    assert not verify("whsec_x", "1700000000", body + b" ", header)


def test_ready_and_error_events_arrive_signed_after_failed_attempts(settings: Settings) -> None:
    store = SQLiteStore(settings.data_dir / "strobe.db")
    with webhook_receiver(fail_first=2) as receiver:
        ready_id = finish(store, receiver.url)
        error_id = finish(store, receiver.url, ok=False)
        deliver_all(make_sender(store, settings), receiver, want=2)
    assert receiver.refused == 2
    events = {}
    for delivery in receiver.deliveries:
        headers = {k.lower(): v for k, v in delivery.headers.items()}
        assert verify(
            settings.webhook_secret,
            headers["strobe-timestamp"],
            delivery.body,
            headers["strobe-signature"],
        )
        assert abs(int(headers["strobe-timestamp"]) - time.time()) < 60
        envelope = json.loads(delivery.body)
        assert envelope["meta"]["id"] == headers["strobe-event-id"]
        events[envelope["data"]["id"]] = envelope
    ready, error = events[ready_id], events[error_id]
    assert ready["meta"]["event"] == "task.ready" and ready["data"]["status"] == "ready"
    assert ready["data"]["output"]["id"].startswith("file_")
    assert ready["data"]["output"]["url"].startswith("http://strobe.test/files/")
    assert error["meta"]["event"] == "task.error"
    assert error["data"]["error"] == {"code": "input_unreadable", "message": "not media"}


def test_a_sender_that_dies_mid_delivery_loses_nothing(settings: Settings) -> None:
    store = SQLiteStore(settings.data_dir / "strobe.db")
    with webhook_receiver() as receiver:
        finish(store, receiver.url)
        # A sender claims the event, then its process dies before sending.
        assert len(store.claim_webhooks(10, FAST.claim_s)) == 1
        assert store.claim_webhooks(10, FAST.claim_s) == []  # claimed: nobody else sends it
        time.sleep(FAST.claim_s + 0.1)
        deliver_all(make_sender(store, settings), receiver, want=1)


def test_gives_up_after_the_retry_budget(settings: Settings) -> None:
    store = SQLiteStore(settings.data_dir / "strobe.db")
    with webhook_receiver(fail_first=100) as receiver:
        finish(store, receiver.url)
        sender = make_sender(store, settings)
        deadline = time.monotonic() + 10
        while receiver.refused < FAST.max_attempts and time.monotonic() < deadline:
            sender.send_due()
            time.sleep(0.05)
        time.sleep(FAST.max_delay_s + 0.1)
        assert sender.send_due() == 0  # given up: never sent again
    assert receiver.refused == FAST.max_attempts and receiver.deliveries == []


def test_private_address_is_refused_unless_allowed(settings: Settings) -> None:
    store = SQLiteStore(settings.data_dir / "strobe.db")
    with webhook_receiver() as receiver:
        finish(store, receiver.url.replace("127.0.0.1", "localhost"))
        sender = make_sender(store, settings, allow_private=False)
        assert sender.send_due() == 1
        time.sleep(FAST.max_delay_s + 0.1)
        assert sender.send_due() == 0  # refused for good, not retried
    assert receiver.deliveries == []


def test_tasks_without_webhook_make_no_events(settings: Settings) -> None:
    store = SQLiteStore(settings.data_dir / "strobe.db")
    task = task_record()
    store.create_task(task)
    store.lease("w1", ["image"], 1, 60, 3)
    store.complete(task.id, "w1", output_for(task))
    assert store.claim_webhooks(10, 1) == []


@pytest.mark.parametrize("status", ["waiting", "processing"])
def test_cancel_notifies_too(settings: Settings, status: str) -> None:
    store = SQLiteStore(settings.data_dir / "strobe.db")
    task = replace(task_record(), webhook_url="http://127.0.0.1:9/hooks")
    store.create_task(task)
    if status == "processing":
        store.lease("w1", ["image"], 1, 60, 3)
    cancelled = store.cancel(task.project_id, task.id)
    assert cancelled is not None and cancelled.error_code == "cancelled"
    [event] = store.claim_webhooks(10, 1)
    assert (event.task_id, event.event) == (task.id, "task.error")
    assert not store.complete(task.id, "w1", output_for(task))  # the worker's result is dropped
