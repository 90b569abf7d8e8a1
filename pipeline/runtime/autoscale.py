"""The autoscaling signal: the store's backlog, turned into Ray resource requests.

Every worker runs one; they all read the same store, so they ask for the same thing (a Ray
resource request replaces the previous one, whoever made it). Ray-free: the request is
passed in (`ray_pool.request_backlog` in the worker).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from pipeline.runtime.placement import Shape, backlog_bundles
from pipeline.store import QueuePort

log = logging.getLogger(__name__)


class BacklogSignal:
    def __init__(
        self,
        store: QueuePort,
        shape_of: Callable[[str], Shape],
        request: Callable[[list[Shape]], None],
        *,
        kinds: Sequence[str],
        max_per_kind: int,
    ) -> None:
        self.store, self.shape_of, self.request = store, shape_of, request
        self.kinds, self.max_per_kind = list(kinds), max_per_kind
        self.last: list[Shape] | None = None  # None: nothing asked yet

    def tick(self) -> list[Shape]:
        """Ask for what the backlog needs now, when that changed; returns the bundles."""
        depth = self.store.queue_depth()
        shapes = {kind: self.shape_of(kind) for kind in self.kinds if kind in depth}
        bundles = backlog_bundles(depth, shapes, max_per_kind=self.max_per_kind)
        if bundles != self.last:
            self.request(bundles)  # [] withdraws the request: idle nodes may go
            log.info("asked the autoscaler for %d bundles", len(bundles))
            self.last = bundles
        return bundles

    def run(self, should_stop: Callable[[], bool], interval_s: float) -> None:
        while not should_stop():
            try:
                self.tick()
            except Exception:  # the store or the GCS is away: try again next time
                log.warning("could not update the autoscaler request", exc_info=True)
            deadline = time.monotonic() + interval_s
            while time.monotonic() < deadline and not should_stop():
                time.sleep(min(0.2, interval_s))
