"""The Prometheus text exposition of the queue: the autoscaling signal, per kind."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_GAUGES = (
    ("waiting", "Tasks waiting for a worker (including retries not yet due)."),
    ("processing", "Tasks leased by a worker and running."),
)


def render(depth: Mapping[str, Mapping[str, int]], kinds: Iterable[str]) -> str:
    """Every kind in `kinds` gets a sample, zero when idle, so dashboards and scalers see the
    queue drain to nothing rather than a series that disappears."""
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
    return "\n".join(lines) + "\n"
