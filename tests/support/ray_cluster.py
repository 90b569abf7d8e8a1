"""A Ray cluster of loopback nodes (`ray start --block`), each stopped by its session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port, kill_session, session_processes

# Every Ray process in the cluster, and every driver joining it, must agree on this.
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
_COUNT_NODES = (
    "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
    "print(sum(1 for n in ray.nodes() if n['Alive']))"
)


def local_ray_cpus(count: int) -> dict[str, str]:
    """The env that gives the embedded Ray of `strobe serve` / `strobe worker` (no
    STROBE_RAY_ADDRESS) `count` CPUs whatever the machine has: STROBE_RAY_NUM_CPUS is
    Strobe's setting, RAY_OVERRIDE_RESOURCES Ray's own override of a node's resources."""
    return {
        "STROBE_RAY_NUM_CPUS": str(count),
        "RAY_OVERRIDE_RESOURCES": json.dumps({"CPU": count}),
    }


@dataclass
class RayNodes:
    """A running cluster: its address and the `ray start --block` process of each node (0 is
    the head). Each node leads its own session, so every process a node starts (raylet,
    workers, actors) carries that session id and goes down with it."""

    address: str
    nodes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def kill_node(self, index: int) -> None:
        """Lose a node at once: SIGKILL every process of its session (no clean shutdown)."""
        kill_session(self.nodes[index].pid)
        self.nodes[index].wait()

    def pids(self, index: int, command_prefix: str) -> list[int]:
        """PIDs of node `index`'s processes whose command line starts with `command_prefix`
        (an actor's is `ray::ClassName`, `ray::ClassName.method` while one runs); those of
        other nodes, or of other Ray instances on the machine, are never listed."""
        return session_processes({self.nodes[index].pid}, command_prefix)


@contextmanager
def ray_cluster(
    log_dir: Path,
    nodes: int = 2,
    cpus_per_node: int = 2,
    node_resources: Sequence[Mapping[str, float]] = (),
    cores: Sequence[int] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Yields the head's address `127.0.0.1:PORT` once all nodes are alive (see ray_nodes)."""
    with ray_nodes(log_dir, nodes, cpus_per_node, node_resources, cores, env) as cluster:
        yield cluster.address


@contextmanager
def ray_nodes(
    log_dir: Path,
    nodes: int = 2,
    cpus_per_node: int = 2,
    node_resources: Sequence[Mapping[str, float]] = (),
    cores: Sequence[int] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[RayNodes]:
    """A cluster of `nodes` loopback nodes, `cpus_per_node` CPUs each. Node `i` (0 is the
    head) advertises the custom resources `node_resources[i]` (`ray start --resources`)
    and, given `cores`, runs pinned to CPU core `cores[i]` (`taskset`; its actors inherit
    the affinity), so that a node on a small machine really has only its own core. `env` is
    added to every node's environment: actors see the node's, not the driver's (Strobe
    needs the same STROBE_* and AWS_* settings on every node)."""
    ray = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    # A node stopped at the end drains for up to 30 s by default (work is over by then).
    env = {**os.environ, **(env or {}), **RAY_ENV, "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    commands = [
        [
            ray,
            "start",
            "--head",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
        ]
    ]
    commands += [
        [ray, "start", f"--address={address}", "--node-ip-address=127.0.0.1"]
        for _ in range(nodes - 1)
    ]
    cluster = RayNodes(address)
    started = cluster.nodes
    try:
        for index, command in enumerate(commands):
            with (log_dir / f"ray-node-{index}.log").open("ab") as out:
                started.append(
                    subprocess.Popen(
                        [
                            *_pin(cores, index),
                            *command,
                            f"--num-cpus={cpus_per_node}",
                            *_resources_flag(node_resources, index),
                            "--block",
                            "--disable-usage-stats",
                        ],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            if index == 0:
                _wait_nodes(address, 1, env)
        _wait_nodes(address, nodes, env)
        yield cluster
    finally:
        for process in reversed(started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            kill_session(process.pid)


def _pin(cores: Sequence[int], index: int) -> list[str]:
    return ["taskset", "-c", str(cores[index])] if index < len(cores) else []


def _resources_flag(node_resources: Sequence[Mapping[str, float]], index: int) -> list[str]:
    custom = node_resources[index] if index < len(node_resources) else {}
    return [f"--resources={json.dumps(dict(custom))}"] if custom else []


def node_ids_with(address: str, resource: str) -> set[str]:
    """The ids of the cluster's live nodes that advertise `resource`."""
    probe = subprocess.run(
        [sys.executable, "-c", _NODES_WITH, address, resource],
        env={**os.environ, **RAY_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    return set(json.loads(probe.stdout.strip().splitlines()[-1]))


_NODES_WITH = (
    "import json, ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
    "print(json.dumps([n['NodeID'] for n in ray.nodes() "
    "if n['Alive'] and n['Resources'].get(sys.argv[2], 0) > 0]))"
)


def _wait_nodes(address: str, want: int, env: dict[str, str], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            probe = subprocess.run(
                [sys.executable, "-c", _COUNT_NODES, address],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            continue  # a probe can hang while the head starts on a busy machine: ask again
        if probe.returncode == 0 and probe.stdout.strip().splitlines()[-1:] == [str(want)]:
            return
        time.sleep(1)
    raise RuntimeError(f"the Ray cluster at {address} did not reach {want} nodes")
