"""What an actor of an operator claims from the cluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Resources:
    """What one actor of an operator claims from Ray (fractions allowed).

    `custom` names hardware the operator uses when a node has it, as the Ray custom resources
    nodes advertise at `ray start --resources` (e.g. `{"nvenc": 1}`); like GPUs, it is asked
    for where the cluster has it and dropped (CPU fallback) where not, unless
    STROBE_REQUIRE_GPU=1. `memory_mb` reserves RAM on the node (0: none)."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    custom: Mapping[str, float] = field(default_factory=dict)
    memory_mb: int = 0
