"""Run an iterator a few items ahead of its consumer, in a background thread.

Decoding (PyAV) and inference (ONNX Runtime, OpenCV, torch) both release the GIL, so a
video's next frames decode while the model works on the current batch instead of after it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_POLL_S = 0.1  # how often a blocked producer checks whether the consumer has gone
# How long a finished consumer waits for the producer to close its input. A producer stuck
# inside a decode call is left behind (a daemon thread): the task's time budget, not this
# wait, decides what happens to a decode that never returns.
_JOIN_S = 5.0


class _End:
    """Marks the end of the items, carrying the producer's exception if it failed."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def prefetch(items: Iterator[T], depth: int) -> Iterator[T]:
    """Yield what `items` yields, produced up to `depth` items ahead. Errors surface at the
    consumer, in order; when the consumer stops early, the producer stops and `items` is
    closed (so a generator's `with` blocks, e.g. an open container, are exited)."""
    buffer: queue.Queue[T | _End] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def offer(item: T | _End) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    break
            else:
                offer(_End())
        except BaseException as exc:  # handed to the consumer, raised there
            offer(_End(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=_JOIN_S)
