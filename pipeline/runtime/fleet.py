"""The pool's actors as records, and its policy for making room: pure, no Ray.

Which idle actors to retire, and which busy one to drain, so that an actor of another kind
fits (docs/ARCHITECTURE.md, "Runtime": growth and room).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.runtime.placement import Shape, fits, subtract

IDLE_GRACE_S = 2.0  # an idle actor is retired for a growing kind only after this long
# An actor whose kind still has work serves at least this long, and this many times what its
# start cost (placement, model load), before it gives its room to a kind with no actor: else
# two kinds sharing a node hand it back and forth, paying a start for every task or two.
MIN_SERVICE_S = 5.0
SERVICE_PER_START = 3.0


@dataclass(eq=False)
class Actor:
    kind: str
    handle: Any  # Ray's actor handle; opaque here
    shape: Shape
    slots: int
    phase: str  # placing | setting_up | ready
    since: float  # when it entered its phase (for a ready actor without tasks: idle since)
    starting: Any = None  # the ready() or setup() call being waited on
    placed: float | None = None  # when Ray was seen to have placed it
    running: set[str] = field(default_factory=set)
    draining: bool = False  # takes no new task; retired once its tasks end
    requested: float | None = None  # when it was asked for (default: `since`)
    ready_at: float | None = None  # when its setup ended

    def __post_init__(self) -> None:
        if self.requested is None:
            self.requested = self.since

    def free(self) -> int:
        usable = self.phase == "ready" and not self.draining
        return self.slots - len(self.running) if usable else 0

    @property
    def idle(self) -> bool:
        return self.phase == "ready" and not self.running and not self.draining

    def has_served(self, now: float) -> bool:
        """Whether it has run long enough to repay its start (see MIN_SERVICE_S)."""
        if self.ready_at is None or self.requested is None:
            return self.phase == "ready"
        start_cost = self.ready_at - self.requested
        return now - self.ready_at >= max(MIN_SERVICE_S, SERVICE_PER_START * start_cost)


@dataclass(frozen=True)
class RoomPlan:
    retire: list[Actor]  # idle actors to kill now
    drain: Actor | None  # a busy actor to drain (starved kinds only)
    fits: bool  # the shape fits once `retire` are gone


def plan_room(
    kind: str,
    shape: Shape,
    room: Mapping[str, float],
    actors: list[Actor],
    waiting: Mapping[str, int],
    *,
    starved: bool,
    now: float,
) -> RoomPlan:
    """How to make room for one actor of `kind` with `shape`, given the free `room`.

    A growing kind (it has actors) takes only idle actors of kinds with nothing waiting,
    idle for a while; a starved kind (no actor) takes idle actors of kinds with nothing
    waiting, then idle ones of kinds with work that have served their minimum, and when that
    is not enough drains one busy actor that has served it, of the kind with the most
    (unless one is draining already: it is room on its way)."""
    idle = [a for a in actors if a.kind != kind and a.idle]
    if starved:
        idle = [a for a in idle if not waiting.get(a.kind) or a.has_served(now)]
    else:
        idle = [a for a in idle if not waiting.get(a.kind) and now - a.since >= IDLE_GRACE_S]
    count = {k: sum(a.kind == k for a in actors) for k in {a.kind for a in actors}}
    idle.sort(key=lambda a: (bool(waiting.get(a.kind)), -count[a.kind], a.since))
    retire: list[Actor] = []
    for actor in idle:
        if fits(shape, room) >= 1:
            break
        retire.append(actor)
        room = subtract(room, [{name: -amount for name, amount in actor.shape.items()}])
    if fits(shape, room) >= 1:
        return RoomPlan(retire, None, True)
    drain = None
    if starved and not any(a.draining for a in actors):
        busy = [
            a
            for a in actors
            if a.kind != kind and a.running and not a.draining and a.has_served(now)
        ]
        if busy:
            drain = max(busy, key=lambda a: (count[a.kind], -len(a.running)))
    return RoomPlan(retire if starved else [], drain, False)


def free_room(
    available: Mapping[str, float],
    actors: list[Actor],
    *,
    now: float,
    settle_s: float,
) -> dict[str, float]:
    """Free resources as the pool counts them: Ray's `available`, less the actors asked for
    and not yet placed (or placed within `settle_s`: Ray's view lags). An actor just killed
    is not added back before Ray shows it free: counting it twice would start an actor
    that cannot be placed; a start one call later costs a second."""
    unsettled = [a.shape for a in actors if a.placed is None or now - a.placed < settle_s]
    return subtract(available, unsettled)


def describe(shape: Shape) -> str:
    """`{"CPU": 1, "memory": 2**30}` -> `CPU 1, memory 1024 MiB`."""
    return ", ".join(
        f"{name} {amount / 1024**2:g} MiB" if name == "memory" else f"{name} {amount:g}"
        for name, amount in sorted(shape.items())
    )
