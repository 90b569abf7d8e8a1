"""Rate limiting per API key (issue 13, build item 8): a burst over the limit is answered
429 `rate_limited` with Retry-After, other keys are unaffected, and it is off by default."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.api.ratelimit import TokenBuckets
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store

A = {"Authorization": "Bearer sk_a"}
B = {"Authorization": "Bearer sk_b"}
RATE, BURST = 0.5, 5  # a token every 2 s: a slow machine cannot refill a burst


def client_for(settings: Settings) -> TestClient:
    app = create_app(
        settings, open_store(settings.database_url), open_storage(settings.storage_url)
    )
    return TestClient(app)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with client_for(replace(settings, rate_limit=RATE, rate_limit_burst=BURST)) as test_client:
        yield test_client


def test_a_burst_over_the_limit_gets_429_with_retry_after(client: TestClient) -> None:
    answers = [client.get("/tasks", headers=A) for _ in range(BURST + 3)]
    assert [r.status_code for r in answers[:BURST]] == [200] * BURST
    refused = answers[BURST:]
    assert {r.status_code for r in refused} == {429}
    for response in refused:
        body = response.json()
        assert body["data"] is None and body["meta"]["type"] == "error"
        assert body["error"]["code"] == "rate_limited"
        assert int(response.headers["Retry-After"]) >= 1
    # Writes count the same: a POST is refused before its body is looked at.
    post = client.post("/media", json={"title": "x"}, headers=A)
    assert post.status_code == 429


def test_other_keys_are_unaffected(client: TestClient) -> None:
    while client.get("/tasks", headers=A).status_code != 429:
        pass
    assert all(client.get("/tasks", headers=B).status_code == 200 for _ in range(BURST))


def test_the_key_gets_requests_again_after_retry_after(client: TestClient) -> None:
    while (refused := client.get("/tasks", headers=A)).status_code != 429:
        pass
    time.sleep(1 / RATE + 0.05)  # one token back
    assert int(refused.headers["Retry-After"]) <= 1 / RATE
    assert client.get("/tasks", headers=A).status_code == 200


def test_unknown_keys_and_open_routes_are_not_counted(client: TestClient) -> None:
    wrong = {"Authorization": "Bearer sk_guess"}
    assert {client.get("/tasks", headers=wrong).status_code for _ in range(20)} == {401}
    assert {client.get("/health").status_code for _ in range(20)} == {200}


def test_off_by_default(settings: Settings) -> None:
    assert settings.rate_limit == 0
    with client_for(settings) as client:
        assert {client.get("/tasks", headers=A).status_code for _ in range(60)} == {200}


def test_the_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=4.0, burst=2, clock=lambda: now[0])
    assert buckets.take("k") == 0 and buckets.take("k") == 0
    assert buckets.take("k") == pytest.approx(0.25)
    now[0] += 0.25
    assert buckets.take("k") == 0
    now[0] += 10  # a long pause refills to the burst, no further
    assert [buckets.take("k") for _ in range(3)][:2] == [0, 0]
    assert buckets.take("other") == 0
