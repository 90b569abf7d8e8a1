"""The contract every operator follows.

An operator is built from its options, loads what it needs once in `setup()`, and turns
one media input into one artifact in `process()`. What it needs of its input and of a node
is declared with its kind (`operators/catalog.py`): `process()` is only called with an
input that has the streams its kind needs. It reads media only through the
`MediaSource` protocol, so it never touches PyAV, storage or the network itself. The types
it trades in live in `pipeline.contract` (docs/ARCHITECTURE.md, "The contract").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress
from pipeline.contract.resources import Resources


class Operator(ABC):
    kind: ClassVar[str]
    # None: its kind's `resources` in the catalog. Set only by an operator standing in for a
    # kind with other needs (the runtime's tests).
    resources: ClassVar[Resources | None] = None
    # How many tasks one actor runs at once (threads calling `process` on one instance).
    # Above 1 the operator must be thread-safe; detection kinds batch their frames across
    # the tasks in flight (docs/ARCHITECTURE.md, "Cross-task batching").
    concurrent_tasks: ClassVar[int] = 1

    def setup(self) -> None:  # noqa: B027 - optional hook; most operators load nothing
        """Load models or probe hardware; raise TaskError (e.g. `model_missing`) when that
        cannot be done. The runtime calls it before a task until it has succeeded once, so a
        model fetched later is picked up without a restart; operators never retry it."""

    @abstractmethod
    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        """Turn one input into one artifact, or raise TaskError."""
