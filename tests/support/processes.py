"""Strobe processes for tests: each in its own session, stopped (or killed) by process group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

STARTUP_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """Starts `python -m pipeline.cli …` commands and always cleans up what they started.

    Each process leads its own process group, so the Ray processes a worker starts go down
    with it, even after a kill -9 of the worker itself.
    """

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir, self.env = log_dir, env
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "pipeline.cli", *args]
        with (self.log_dir / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(
                command,
                env={**os.environ, **self.env, **extra_env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = process
        return process

    def start_api(self, name: str = "api", *args: str, **extra_env: str) -> str:
        """`strobe <args or api>` on a free port; returns its URL once /health answers."""
        port = free_port()
        process = self.start(name, *(args or ("api",)), "--port", str(port), **extra_env)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.log(name)}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{name} did not become healthy:\n{self.log(name)}")

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def kill9(self, name: str) -> None:
        """Crash a process: SIGKILL it alone; what it started is cleaned up at close()."""
        self.running[name].kill()
        self.running[name].wait()

    def stop(self, name: str, timeout_s: float = 60) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _kill_group(process.pid)

    def close(self) -> None:
        for name in list(self.running):
            self.stop(name)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
