"""The Prometheus text exposition of the queue (the autoscaling signal, per kind) and of
what the workers report: their actors, their oldest running task, tasks over budget."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_GAUGES = (
    ("waiting", "Tasks waiting for a worker (including retries not yet due)."),
    ("processing", "Tasks leased by a worker and running."),
)


def render(
    depth: Mapping[str, Mapping[str, int]],
    kinds: Iterable[str],
    workers: Sequence[Mapping[str, Any]] = (),
    timed_out: int = 0,
) -> str:
    """Every kind in `kinds` gets a sample, zero when idle, so dashboards and scalers see the
    queue drain to nothing rather than a series that disappears. `workers` are the reports
    of the workers alive now."""
    names = sorted(set(kinds) | set(depth))
    lines = []
    for status, help_ in _GAUGES:
        metric = f"strobe_tasks_{status}"
        lines += [f"# HELP {metric} {help_}", f"# TYPE {metric} gauge"]
        for kind in names:
            lines.append(f'{metric}{{kind="{kind}"}} {depth.get(kind, {}).get(status, 0)}')
    total = sum(sum(counts.values()) for counts in depth.values())
    lines += [
        "# HELP strobe_queue_depth Tasks waiting or processing, all kinds.",
        "# TYPE strobe_queue_depth gauge",
        f"strobe_queue_depth {total}",
    ]
    lines += _runtime(names, workers, timed_out)
    return "\n".join(lines) + "\n"


def _runtime(names: list[str], workers: Sequence[Mapping[str, Any]], timed_out: int) -> list[str]:
    actors: dict[tuple[str, str], int] = {}
    blocked: dict[tuple[str, str], int] = {}
    for report in workers:
        for kind, counts in report.get("actors", {}).items():
            for state in ("ready", "starting"):
                actors[kind, state] = actors.get((kind, state), 0) + int(counts.get(state, 0))
        for kind, reason in report.get("blocked", {}).items():
            blocked[kind, str(reason)] = 1
    lines = [
        "# HELP strobe_actors Operator actors per kind: ready, or starting (asked of Ray and "
        "not yet placed, or loading their model).",
        "# TYPE strobe_actors gauge",
    ]
    for kind in sorted(set(names) | {k for k, _ in actors}):
        for state in ("ready", "starting"):
            lines.append(
                f'strobe_actors{{kind="{kind}",state="{state}"}} {actors.get((kind, state), 0)}'
            )
    lines += [
        "# HELP strobe_kind_blocked A kind whose actors cannot start now, and why (its tasks "
        "stay waiting).",
        "# TYPE strobe_kind_blocked gauge",
    ]
    for (kind, reason), one in sorted(blocked.items()):
        lines.append(f'strobe_kind_blocked{{kind="{kind}",reason="{_label(reason)}"}} {one}')
    oldest = max((float(r.get("oldest_running_s", 0.0)) for r in workers), default=0.0)
    starts = sum(int(r.get("actor_starts", 0)) for r in workers)
    # Workers on one Ray cluster each see all of its nodes: count each node once.
    nodes = {str(node) for r in workers for node in r.get("nodes", ())}
    lines += [
        "# HELP strobe_oldest_running_task_seconds How long the longest-running task has run.",
        "# TYPE strobe_oldest_running_task_seconds gauge",
        f"strobe_oldest_running_task_seconds {oldest:g}",
        "# HELP strobe_workers Workers that reported in the last 30 seconds.",
        "# TYPE strobe_workers gauge",
        f"strobe_workers {len(workers)}",
        "# HELP strobe_ray_nodes Ray nodes alive, as the workers alive now see their clusters.",
        "# TYPE strobe_ray_nodes gauge",
        f"strobe_ray_nodes {len(nodes)}",
        "# HELP strobe_actor_starts Actors started by the workers alive now, since they started.",
        "# TYPE strobe_actor_starts gauge",
        f"strobe_actor_starts {starts}",
        "# HELP strobe_tasks_timed_out Tasks whose last attempt ran past its time budget.",
        "# TYPE strobe_tasks_timed_out gauge",
        f"strobe_tasks_timed_out {timed_out}",
    ]
    return lines


def _label(value: str) -> str:
    """A Prometheus label value: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
