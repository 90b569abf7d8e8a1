"""A throwaway PostgreSQL cluster on a free loopback port, for tests and benchmarks.

The server binaries are found through `pg_config --bindir` or /usr/lib/postgresql/*/bin (on
Debian they are not on PATH). PostgreSQL refuses to run as root, so as root the cluster runs
as the `postgres` OS user in a directory that user owns. It is stopped with `pg_ctl stop` and,
failing that, by the PID in postmaster.pid.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from pipeline.ids import new_id
from pipeline.store.postgres import PostgresStore
from tests.support.processes import free_port

MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them, e.g. "
    "`apt-get install -y postgresql` on Debian (.ci/run does this)"
)
# Tests throw the data away: no fsync. Benchmarks pass durable=True to keep the defaults.
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def find_bindir() -> Path:
    candidates: list[Path] = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout
        candidates.append(Path(out.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    if found := shutil.which("initdb"):
        candidates.append(Path(found).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise RuntimeError(MISSING)


class PostgresServer:
    """One cluster: `start()`, `restart()`, `stop()`; `url(db)` to connect as superuser."""

    def __init__(self, *, durable: bool = False, settings: dict[str, str] | None = None) -> None:
        self.bindir = find_bindir()
        self.as_postgres = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="strobe-pg-"))
        self.data, self.sockets = self.root / "data", self.root / "sockets"
        self.port = 0
        self.settings = {**({} if durable else FAST), **(settings or {})}
        self.sockets.mkdir()
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        initdb = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]
        try:
            self._pg("initdb", *initdb, "-D", self.data)
        except BaseException:
            self.remove()
            raise

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        for _ in range(3):  # the free port can be taken before the server binds it
            self.port = self.port or free_port()
            options = [f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets}"]
            options += [f"-c {name}={value}" for name, value in self.settings.items()]
            start = ["start", "-w", "-t", "30", "-D", self.data, "-l", self.root / "server.log"]
            try:
                self._pg("pg_ctl", *start, "-o", " ".join(options))
                return
            except RuntimeError:
                self.port = 0
        raise RuntimeError(f"PostgreSQL did not start:\n{self.log()}")

    def restart(self) -> None:
        """Stop (terminating every connection) and start again on the same port."""
        self._pg("pg_ctl", "stop", "-w", "-m", "fast", "-D", self.data)
        self.start()

    def stop(self) -> None:
        try:
            self._pg("pg_ctl", "stop", "-w", "-t", "30", "-m", "fast", "-D", self.data)
        except RuntimeError:
            pid = self._pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGQUIT)  # immediate shutdown, children too
                time.sleep(1)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().split()[0])
        return None

    def _pg(self, program: str, *args: Any) -> None:
        command = [str(self.bindir / program), *map(str, args)]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}")


@contextlib.contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[PostgresServer]:
    """A started cluster, stopped and deleted on exit."""
    server = PostgresServer(durable=durable)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.remove()


def create_database(admin_url: str, name: str | None = None) -> str:
    """A new empty database on the server of `admin_url`; returns its URL."""
    name = name or new_id("strobe")
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    """Drop the database of `url`, ending its connections (PostgreSQL 13+)."""
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PostgresOpener:
    """Opens PostgresStores on one database; picklable, so child processes can open it too.

    `close()` (in the process that made it) closes the stores it opened and drops the database.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.opened: list[PostgresStore] = []

    def __call__(self) -> PostgresStore:
        store = PostgresStore(self.url)
        self.opened.append(store)
        return store

    def close(self) -> None:
        for store in self.opened:
            store.close()
        self.opened.clear()
        drop_database(self.url)

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"])  # type: ignore[misc]
