"""Where operators run and what the autoscaler is asked for: pure functions, no Ray.

An actor's shape is the Ray resources it asks for. GPUs and custom resources (e.g. `nvenc`)
are asked for only where the cluster has them, so work falls back to CPU nodes; with
`require=True` (STROBE_REQUIRE_GPU=1) they are always asked for, and actors wait for (or
the autoscaler adds) nodes that have them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.contract.resources import Resources

Shape = dict[str, float]


def actor_shape(resources: Resources, cluster: Mapping[str, float], *, require: bool) -> Shape:
    """The Ray resources one actor of an operator asks for on this cluster."""
    shape: Shape = {"CPU": resources.num_cpus}
    if resources.num_gpus and (require or cluster.get("GPU", 0) > 0):
        shape["GPU"] = resources.num_gpus
    for name, amount in resources.custom.items():
        if require or cluster.get(name, 0) > 0:
            shape[name] = amount
    if resources.memory_mb:
        shape["memory"] = float(resources.memory_mb * 1024**2)
    return {name: amount for name, amount in shape.items() if amount > 0}


def fits(shape: Shape, available: Mapping[str, float]) -> int:
    """How many actors of `shape` fit into `available` (an empty shape: unbounded)."""
    counts = [int(available.get(name, 0) / amount + 1e-9) for name, amount in shape.items()]
    return min(counts) if counts else 1_000_000


def backlog_bundles(
    depth: Mapping[str, Mapping[str, int]], shapes: Mapping[str, Shape], *, max_per_kind: int
) -> list[Shape]:
    """One bundle per unfinished task (waiting or processing), shaped like the actor that
    would run it, at most `max_per_kind` per kind; kinds this worker does not serve are
    left out. No backlog, no bundles: the autoscaler may scale to zero."""
    bundles: list[Shape] = []
    for kind in sorted(depth):
        if kind not in shapes:
            continue
        counts = depth[kind]
        wanted = min(counts.get("waiting", 0) + counts.get("processing", 0), max_per_kind)
        bundles += [dict(shapes[kind]) for _ in range(wanted)]
    return bundles


def subtract(available: Mapping[str, float], shapes: list[Shape]) -> dict[str, float]:
    """What is left of `available` once `shapes` (actors asked for but not yet placed) are
    taken from it: an actor counts against the cluster from the moment it is requested."""
    left = dict(available)
    for shape in shapes:
        for name, amount in shape.items():
            left[name] = left.get(name, 0.0) - amount
    return left


def never_fits(shape: Shape, node_totals: Sequence[Mapping[str, float]]) -> str | None:
    """Why no node could ever hold an actor of `shape` (None: some node could, once free).
    A node an autoscaler may add later is not known here: the backlog request covers it."""
    if any(all(node.get(n, 0.0) + 1e-9 >= a for n, a in shape.items()) for node in node_totals):
        return None
    wanted = ", ".join(f"{name} {amount:g}" for name, amount in sorted(shape.items()))
    return f"no node has {wanted}" if node_totals else "the cluster has no nodes"
