"""A real `strobe serve` process (API + Ray workers) on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import Processes

KEYS = "sk_e2e_a:prj_a,sk_e2e_b:prj_b"


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def client(self, key: str = "sk_e2e_a") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )


def strobe_env(**extra: str) -> dict[str, str]:
    return {
        "STROBE_API_KEYS": KEYS,
        "STROBE_ALLOW_PRIVATE_URLS": "1",  # inputs come from a loopback test server
        "STROBE_FETCH_TIMEOUT": "2",
        "STROBE_MAX_ATTEMPTS": "2",
        **extra,
    }


@contextmanager
def running_server(data_dir: Path, **extra_env: str) -> Iterator[Server]:
    """`strobe serve` on a free port with its data in `data_dir`; stopped with SIGTERM."""
    processes = Processes(data_dir, strobe_env(**extra_env))
    try:
        url = processes.start_api("serve", "serve", "--data-dir", str(data_dir))
        yield Server(url=url, log=data_dir / "serve.log")
    finally:
        processes.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("strobe-data")) as running:
        yield running


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (its own browser download is not available)."""
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
    assert CHROMIUM.exists(), "Debian's chromium is needed (apt-get install chromium)"
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Strobe processes for one test, their env set by the test; all stopped at the end."""
    running = Processes(tmp_path, {})
    try:
        yield running
    finally:
        running.close()
