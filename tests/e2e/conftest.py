"""A real `strobe serve` process (API + Ray workers) on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT_S = 90


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def client(self, key: str = "sk_e2e_a") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(data_dir: Path, **extra_env: str) -> Iterator[Server]:
    """`strobe serve` on a free port with its data in `data_dir`; stopped with SIGTERM."""
    port = _free_port()
    env = {
        **os.environ,
        "STROBE_API_KEYS": "sk_e2e_a:prj_a,sk_e2e_b:prj_b",
        "STROBE_ALLOW_PRIVATE_URLS": "1",  # inputs come from a loopback test server
        "STROBE_FETCH_TIMEOUT": "2",
        "STROBE_MAX_ATTEMPTS": "2",
        **extra_env,
    }
    log = data_dir / "serve.log"
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield Server(url=url, log=log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("strobe-data")) as running:
        yield running


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"strobe serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"strobe serve did not become healthy:\n{log.read_text()}")
