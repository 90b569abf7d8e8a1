"""pipeline.media.prefetch: order, errors, early stop and the look-ahead bound."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pipeline.media.prefetch import prefetch


def test_yields_every_item_in_order() -> None:
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))


def test_an_error_arrives_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("broken frame")

    got = []
    with pytest.raises(ValueError, match="broken frame"):
        for item in prefetch(items(), depth=4):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_closes_the_source_and_its_thread() -> None:
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            yield from range(1_000_000)
        finally:
            closed.set()  # e.g. a container's `with` block exiting

    stream = prefetch(items(), depth=2)
    assert next(stream) == 0
    stream.close()
    assert closed.wait(2)
    assert not any(t.name == "prefetch" and t.is_alive() for t in threading.enumerate())


def test_the_producer_runs_at_most_depth_ahead() -> None:
    produced = []

    def items() -> Iterator[int]:
        for index in range(50):
            produced.append(index)
            yield index

    stream = prefetch(items(), depth=4)
    assert next(stream) == 0
    time.sleep(0.3)  # time enough to run far ahead if nothing held it back
    # One handed over, four queued, one produced and waiting for room.
    assert len(produced) <= 1 + 4 + 1
    assert list(stream) == list(range(1, 50))


def test_the_next_item_is_made_while_the_consumer_works() -> None:
    second_made = threading.Event()

    def items() -> Iterator[int]:
        yield 0
        second_made.set()  # decoding frame 2 ...
        yield 1

    stream = prefetch(items(), depth=2)
    assert next(stream) == 0
    # ... happens while the consumer still holds frame 1 (say, running the model on it).
    assert second_made.wait(5)
    assert list(stream) == [1]
