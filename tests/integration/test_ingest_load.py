"""The API stays responsive while URL ingests trickle: 40 at once against a real `strobe api`
process, each from a loopback server sending one byte every half second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.http import serving
from tests.support.processes import Processes

INGESTS = 40
LIMIT = 8
FETCH_TIMEOUT_S = 6


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    env = {
        "STROBE_DATA_DIR": str(tmp_path / "data"),
        "STROBE_API_KEYS": "sk_a:prj_a",
        "STROBE_ALLOW_PRIVATE_URLS": "1",  # the trickling server is on loopback
        "STROBE_FETCH_TIMEOUT": str(FETCH_TIMEOUT_S),
        "STROBE_MAX_CONCURRENT_INGESTS": str(LIMIT),
    }
    processes = Processes(tmp_path, env)
    try:
        yield processes.start_api()
    finally:
        processes.close()


@pytest.mark.parametrize("route", ["trickle", "trickle-headers"])
def test_health_answers_within_a_second_while_40_slow_ingests_are_in_flight(
    api: str, tmp_path: Path, route: str
) -> None:
    with serving(tmp_path) as server:
        source = f"http://127.0.0.1:{server.server_address[1]}/{route}/0.5"

        def ingest(n: int) -> tuple[httpx.Response, float]:
            started = time.monotonic()
            answer = httpx.post(
                f"{api}/files",
                json={"url": f"{source}/{n}"},
                headers={"Authorization": "Bearer sk_a"},
                timeout=FETCH_TIMEOUT_S * 4,
            )
            return answer, time.monotonic() - started

        with ThreadPoolExecutor(INGESTS) as pool:
            futures = [pool.submit(ingest, n) for n in range(INGESTS)]
            time.sleep(1.0)  # the admitted ones are downloading now
            waits = []
            for _ in range(5):
                started = time.monotonic()
                health = httpx.get(f"{api}/health", timeout=5)
                waits.append(time.monotonic() - started)
                assert health.status_code == 200
                time.sleep(0.3)
            in_flight = len(server.requests)  # type: ignore[attr-defined]
            results = [future.result() for future in futures]
    assert max(waits) < 1.0, waits
    assert in_flight == LIMIT  # the trickling server saw only the admitted ones
    refused = [answer for answer, _ in results if answer.status_code == 429]
    admitted = [(answer, took) for answer, took in results if answer.status_code != 429]
    assert len(refused) == INGESTS - LIMIT and len(admitted) == LIMIT
    for answer in refused:
        assert answer.json()["error"]["code"] == "rate_limited"
        assert answer.headers["Retry-After"].isdigit()
    for answer, took in admitted:  # cut at the fetch deadline, bytes still trickling in
        assert answer.json()["error"]["code"] == "input_unreachable", answer.text
        assert took < FETCH_TIMEOUT_S + 3, took
