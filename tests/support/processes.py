"""Strobe processes for tests: each in its own session, stopped (or killed) by session."""

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

    def start_api(
        self, name: str = "api", *args: str, port: int | None = None, **extra_env: str
    ) -> str:
        """`strobe <args or api>` on `port` (default: a free one); returns its URL once
        /health answers."""
        port = port or free_port()
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

    def descendants(self, name: str, command_prefix: str = "") -> list[int]:
        """PIDs in the session `name` leads (the Ray processes a worker started, its actors)
        whose command line starts with `command_prefix`, e.g. `ray::OperatorActor`."""
        return session_processes({self.running[name].pid}, command_prefix)

    def kill9_descendant(self, name: str, pid: int) -> None:
        """SIGKILL one process that `name` started (an actor, say), never another's."""
        assert pid in self.descendants(name), f"{pid} is not in the session of {name}"
        os.kill(pid, signal.SIGKILL)

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
        kill_session(process.pid)

    def close(self) -> None:
        for name in list(self.running):
            self.stop(name)


def session_processes(sessions: set[int], command_prefix: str = "") -> list[int]:
    """PIDs of the live processes in any of `sessions` (session ids: the PIDs of the session
    leaders this test started) whose command line starts with `command_prefix`. Only these
    may be signalled: other processes on the machine belong to other runs."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid pgrp session …": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) in sessions and command.startswith(command_prefix):
            found.append(int(entry.name))
    return sorted(found)


def kill_session(leader: int) -> None:
    """SIGKILL the process group, then what else is left in the session it led: Ray puts
    each worker (and so each actor) in a process group of its own."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGKILL)
    for pid in session_processes({leader}):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
