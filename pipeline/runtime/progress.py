"""Progress from operators to the store, at most one write per interval."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class ThrottledProgress:
    def __init__(
        self,
        write: Callable[[int], object],
        *,
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write, self._interval, self._clock = write, min_interval_s, clock
        self._last_percent = 0
        self._last_write = clock()

    def __call__(self, fraction: float) -> None:
        percent = max(0, min(99, int(fraction * 100)))
        now = self._clock()
        if percent <= self._last_percent or now - self._last_write < self._interval:
            return
        self._last_percent, self._last_write = percent, now
        try:
            self._write(percent)
        except Exception:  # progress is advisory: never fail a task over it
            log.warning("could not record progress", exc_info=True)
