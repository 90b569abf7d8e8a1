"""Deliver task notifications from the store's outbox: signed, retried, at least once.

A task's own `webhook_url` gets the task envelope, signed as below. A webhook endpoint
(`/webhooks/endpoints`) gets `{type, timestamp, data}`, signed the Standard Webhooks way
(pipeline/standard_webhooks.py) with the endpoint's own secret.

Signature: `Strobe-Signature: v1=<hex>` where hex is HMAC-SHA256 with the project's webhook
secret over `"{Strobe-Timestamp}.{raw body}"`. While a rotation's overlap lasts the header
lists one signature per valid secret, comma-separated (`v1=<new>,v1=<old>`); a receiver
accepts a delivery when any of them matches its secret (`verify`). Receivers should also
check the timestamp is recent and de-duplicate on `Strobe-Event-Id` (at least once).

Each delivery is one request through `pipeline.guarded_http`: it connects only to the
address the URL guard approved and ends within `WebhookPolicy.timeout_s`, however slowly the
receiver answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from pipeline import standard_webhooks
from pipeline.api.envelope import API_VERSION
from pipeline.api.presenters import Presenter
from pipeline.api.workflow_views import run_state
from pipeline.contract.errors import INPUT_FORBIDDEN, TaskError
from pipeline.guarded_http import guarded_client
from pipeline.store import (
    EndpointsPort,
    OutboxPort,
    RunsPort,
    TasksPort,
    WebhookEvent,
    WebhookSecretsPort,
)
from pipeline.urlguard import check_url_syntax
from pipeline.webhook_secrets import signing_secrets
from pipeline.workflow import path_label, path_of

log = logging.getLogger(__name__)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signatures(secrets: Iterable[str], timestamp: str, body: bytes) -> str:
    """The `Strobe-Signature` value: one `v1=<hex>` per secret, comma-separated."""
    return ",".join(signature(secret, timestamp, body) for secret in secrets)


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """True when one of the header's signatures is `secret`'s."""
    expected = signature(secret, timestamp, body).encode()
    given = header.replace(",", " ").split()
    return any(hmac.compare_digest(expected, one.encode()) for one in given)


@dataclass(frozen=True)
class WebhookPolicy:
    max_attempts: int = 12
    base_delay_s: float = 2.0
    max_delay_s: float = 3600.0
    timeout_s: float = 10.0  # one delivery, from connecting to the last byte of the answer
    claim_s: float = 60.0  # another sender may retry an event claimed longer ago than this

    def delay_after(self, attempts: int) -> float | None:
        if attempts >= self.max_attempts:
            return None
        return min(self.max_delay_s, self.base_delay_s * 2 ** (attempts - 1))


class SenderStore(OutboxPort, TasksPort, RunsPort, EndpointsPort, WebhookSecretsPort, Protocol):
    """The store as the sender uses it: the outbox, the tasks and runs it tells of, the
    endpoints and the secrets."""


class WebhookSender:
    def __init__(
        self,
        store: SenderStore,
        presenter: Presenter,
        *,
        legacy_secret: str | None,
        allow_private: bool,
        secret_overlap_s: float = 24 * 3600,
        policy: WebhookPolicy = WebhookPolicy(),
        poll_s: float = 0.5,
    ) -> None:
        """`legacy_secret`: the installation's shared secret, signing beside a project's
        first own secret for `secret_overlap_s` (see `pipeline.webhook_secrets`)."""
        self.store, self.presenter, self.legacy_secret = store, presenter, legacy_secret
        self.allow_private, self.secret_overlap_s = allow_private, secret_overlap_s
        self.policy, self.poll_s = policy, poll_s

    def run(self, should_stop: Callable[[], bool]) -> None:
        while not should_stop():
            try:
                sent = self.send_due()
            except Exception:
                log.warning("webhook outbox unavailable", exc_info=True)
                sent = 0
            if not sent:
                time.sleep(self.poll_s)

    def send_due(self) -> int:
        events = self.store.claim_webhooks(10, self.policy.claim_s)
        for event in events:
            self.send(event)
        return len(events)

    def secrets_of(self, project_id: str) -> list[str]:
        found = signing_secrets(
            self.store,
            project_id,
            legacy=self.legacy_secret,
            overlap_s=self.secret_overlap_s,
        )
        return [s.secret for s in found]

    def send(self, event: WebhookEvent) -> None:
        if event.endpoint_id is not None:
            self.send_to_endpoint(event, event.endpoint_id)
            return
        if event.step is not None:
            self.send_http_step(event, event.step)
            return
        task = self.store.get_task(event.project_id, event.task_id)
        if task is None:
            self.store.webhook_failed(event.id, "the task no longer exists", None)
            return
        body = json.dumps(
            {
                "meta": {
                    "id": event.id,
                    "type": "event",
                    "event": event.event,
                    "project_id": event.project_id,
                    "version": API_VERSION,
                    "attempt": event.attempts,
                    "created": event.created,
                },
                "data": self.presenter.task(task),
                "links": {
                    "self": f"{self.presenter.base_url}/tasks/{task.id}",
                    "parent": f"{self.presenter.base_url}/tasks",
                },
            }
        ).encode()
        self.deliver(event, body, self.project_signed(event, body))

    def project_signed(self, event: WebhookEvent, body: bytes) -> dict[str, str]:
        """The headers of a delivery signed with the project's secrets (`Strobe-Signature`)."""
        timestamp = str(int(time.time()))
        return {
            "Content-Type": "application/json",
            "User-Agent": "Strobe-Webhooks/1",
            "Strobe-Event-Id": event.id,
            "Strobe-Event": event.event,
            "Strobe-Timestamp": timestamp,
            "Strobe-Signature": signatures(self.secrets_of(event.project_id), timestamp, body),
        }

    def send_to_endpoint(self, event: WebhookEvent, endpoint_id: str) -> None:
        """An event to a webhook endpoint: `{type, timestamp, data}` with the task or run as
        it is now, signed with the endpoint's secret (pipeline/standard_webhooks.py)."""
        endpoint = self.store.get_endpoint(event.project_id, endpoint_id)
        if endpoint is None:
            self.store.webhook_failed(event.id, "the endpoint was deleted", None)
            return
        data = self.object_of(event)
        if data is None:
            self.store.webhook_failed(event.id, "the task or run no longer exists", None)
            return
        payload = {"type": event.event, "timestamp": event.created, "data": data}
        body = json.dumps(payload).encode()
        signed = standard_webhooks.headers(endpoint.secret, event.id, str(int(time.time())), body)
        headers = {"Content-Type": "application/json", "User-Agent": "Strobe-Webhooks/1"}
        self.deliver(event, body, headers | signed)

    def send_http_step(self, event: WebhookEvent, step: str) -> None:
        """A workflow's http step: the run as it stands, signed like a task's webhook (the
        project's secrets, `Strobe-Signature`), with the step's path."""
        run = self.store.get_run(event.project_id, event.task_id)
        if run is None:
            self.store.webhook_failed(event.id, "the run no longer exists", None)
            return
        shown = run_state(self.store, run)
        label = path_label(path_of(step))
        payload = {"type": event.event, "step": label, "timestamp": event.created, "data": shown}
        body = json.dumps(payload).encode()
        self.deliver(event, body, self.project_signed(event, body))

    def object_of(self, event: WebhookEvent) -> dict[str, Any] | None:
        if event.event.startswith("run."):
            run = self.store.get_run(event.project_id, event.task_id)
            return run_state(self.store, run) if run else None
        task = self.store.get_task(event.project_id, event.task_id)
        return self.presenter.task(task) if task else None

    def deliver(self, event: WebhookEvent, body: bytes, headers: dict[str, str]) -> None:
        """POST the signed body: sent, retried later, or given up."""
        reason = check_url_syntax(event.url)
        if reason:  # can never work: given up at once
            self.store.webhook_failed(event.id, f"webhook_url {reason}", None)
            return
        try:
            with guarded_client(
                allow_private=self.allow_private, timeout_s=self.policy.timeout_s
            ) as client:
                response = client.post(event.url, content=body, headers=headers)
            if 200 <= response.status_code < 300:
                self.store.webhook_sent(event.id)
                return
            error = f"HTTP {response.status_code}"
        except TaskError as exc:
            if exc.code == INPUT_FORBIDDEN:
                self.store.webhook_failed(event.id, exc.message, None)
                return
            error = exc.message
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        delay = self.policy.delay_after(event.attempts)
        log.info(
            "webhook %s to %s failed (%s)%s",
            event.id,
            event.url,
            error,
            "" if delay is None else f"; retrying in {delay:g} s",
        )
        self.store.webhook_failed(event.id, error, delay)
