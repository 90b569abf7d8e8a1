"""ThrottledProgress: percent from fractions, only forward, at most one write per interval."""

from __future__ import annotations

import pytest

from pipeline.runtime.progress import ThrottledProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_writes_at_most_once_per_interval(clock: Clock) -> None:
    written: list[int] = []
    progress = ThrottledProgress(written.append, min_interval_s=1.0, clock=clock)
    progress(0.1)  # too soon after the start
    clock.now += 1.0
    progress(0.2)
    progress(0.3)  # too soon after the last write
    clock.now += 0.5
    progress(0.4)
    clock.now += 0.5
    progress(0.5)
    assert written == [20, 50]


def test_never_goes_backwards_and_never_says_done(clock: Clock) -> None:
    written: list[int] = []
    progress = ThrottledProgress(written.append, min_interval_s=0.0, clock=clock)
    for fraction in (0.5, 0.4, 0.5, 0.999, 1.0, 1.7, -1.0):
        clock.now += 1
        progress(fraction)
    assert written == [50, 99]


def test_a_failing_write_does_not_fail_the_task(clock: Clock) -> None:
    def write(percent: int) -> None:
        raise ConnectionError("store unavailable")

    progress = ThrottledProgress(write, min_interval_s=0.0, clock=clock)
    clock.now += 1
    progress(0.5)  # logged, not raised
