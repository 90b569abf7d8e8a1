"""Deliver task notifications from the store's outbox: signed, retried, at least once.

Signature: `Strobe-Signature: v1=<hex>` where hex is HMAC-SHA256 with the webhook secret
over `"{Strobe-Timestamp}.{raw body}"`. Receivers should also check the timestamp is recent
and de-duplicate on `Strobe-Event-Id` (delivery is at least once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from operators.base import TaskError
from pipeline.api.envelope import API_VERSION
from pipeline.api.presenters import Presenter
from pipeline.store import Store, WebhookEvent
from pipeline.urlguard import ensure_public

log = logging.getLogger(__name__)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), header)


@dataclass(frozen=True)
class WebhookPolicy:
    max_attempts: int = 12
    base_delay_s: float = 2.0
    max_delay_s: float = 3600.0
    timeout_s: float = 10.0
    claim_s: float = 60.0  # another sender may retry an event claimed longer ago than this

    def delay_after(self, attempts: int) -> float | None:
        if attempts >= self.max_attempts:
            return None
        return min(self.max_delay_s, self.base_delay_s * 2 ** (attempts - 1))


class WebhookSender:
    def __init__(
        self,
        store: Store,
        presenter: Presenter,
        *,
        secret: str,
        allow_private: bool,
        policy: WebhookPolicy = WebhookPolicy(),
        poll_s: float = 0.5,
    ) -> None:
        self.store, self.presenter, self.secret = store, presenter, secret
        self.allow_private, self.policy, self.poll_s = allow_private, policy, poll_s

    def run(self, should_stop: Callable[[], bool]) -> None:
        with httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False) as client:
            while not should_stop():
                try:
                    sent = self.send_due(client)
                except Exception:
                    log.warning("webhook outbox unavailable", exc_info=True)
                    sent = 0
                if not sent:
                    time.sleep(self.poll_s)

    def send_due(self, client: httpx.Client) -> int:
        events = self.store.claim_webhooks(10, self.policy.claim_s)
        for event in events:
            self.send(client, event)
        return len(events)

    def send(self, client: httpx.Client, event: WebhookEvent) -> None:
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
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Strobe-Webhooks/1",
            "Strobe-Event-Id": event.id,
            "Strobe-Event": event.event,
            "Strobe-Timestamp": timestamp,
            "Strobe-Signature": signature(self.secret, timestamp, body),
        }
        try:
            ensure_public(event.url, allow_private=self.allow_private)
            response = client.post(event.url, content=body, headers=headers)
            if 200 <= response.status_code < 300:
                self.store.webhook_sent(event.id)
                return
            error = f"HTTP {response.status_code}"
        except TaskError as exc:
            if exc.code == "input_forbidden":
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
