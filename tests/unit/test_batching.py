"""operators.batching: frames from several threads share model calls, within the bounds, and
each thread gets its own results, its own errors and a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from operators.batching import Batcher
from pipeline.contract.errors import TaskError

WAIT_S = 10.0  # generous: the machine is shared; a pass never waits this long


def frame(caller: int, index: int, nbytes: int = 8) -> np.ndarray:
    """A frame that says whose it is: its first two bytes are (caller, index)."""
    pixels = np.zeros(nbytes, np.uint8)
    pixels[:2] = caller, index
    return pixels


class Model:
    """Records each call's frames; answers `(caller, index)` per frame."""

    def __init__(self, before: Callable[[list[tuple[int, int]]], None] | None = None) -> None:
        self.calls: list[list[tuple[int, int]]] = []
        self.sizes: list[int] = []
        self.threads: set[str] = set()
        self.before = before

    def __call__(self, frames: Sequence[np.ndarray]) -> list[tuple[int, int]]:
        ids = [(int(f[0]), int(f[1])) for f in frames]
        self.calls.append(ids)
        self.sizes.append(sum(f.nbytes for f in frames))
        self.threads.add(threading.current_thread().name)
        if self.before is not None:
            self.before(ids)
        return ids


def in_threads(batcher: Batcher[object], jobs: dict[int, list[np.ndarray]]) -> dict[int, object]:
    """Each job in its own thread, all joined before any submits; result or exception."""
    got: dict[int, object] = {}
    ready = threading.Barrier(len(jobs))

    def task(caller: int) -> None:
        with batcher.joined():
            ready.wait(WAIT_S)
            try:
                got[caller] = batcher.run(jobs[caller], timeout=WAIT_S)
            except Exception as exc:
                got[caller] = exc

    threads = [threading.Thread(target=task, args=(c,)) for c in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 2)
    assert len(got) == len(jobs)
    return got


def test_one_call_holds_every_callers_frames_and_each_gets_its_own_back() -> None:
    model = Model()
    # The model thread lingers until all four joined callers are waiting (at most 5 s).
    batcher: Batcher[object] = Batcher(model, max_frames=64, max_bytes=1 << 20, linger_s=5.0)
    jobs = {c: [frame(c, i) for i in range(3 + c)] for c in range(4)}
    got = in_threads(batcher, jobs)
    for caller, frames in jobs.items():
        assert got[caller] == [(caller, i) for i in range(len(frames))]
    (call,) = model.calls
    assert {caller for caller, _ in call} == {0, 1, 2, 3}
    assert len(call) == sum(len(f) for f in jobs.values())
    batcher.close()


def test_a_lone_caller_does_not_wait_for_company() -> None:
    model = Model()
    batcher: Batcher[object] = Batcher(model, max_frames=8, max_bytes=1 << 20, linger_s=2.0)
    started = time.monotonic()
    with batcher.joined():
        for i in range(3):
            assert batcher.run([frame(0, i)], timeout=WAIT_S) == [(0, i)]
    assert time.monotonic() - started < 1.0
    batcher.close()


def test_the_frame_bound_splits_a_long_submission_in_order() -> None:
    model = Model()
    batcher: Batcher[object] = Batcher(model, max_frames=5, max_bytes=1 << 20)
    assert batcher.run([frame(7, i) for i in range(12)], timeout=WAIT_S) == [
        (7, i) for i in range(12)
    ]
    assert [len(call) for call in model.calls] == [5, 5, 2]
    assert (batcher.calls, batcher.frames) == (3, 12)
    batcher.close()


def test_the_byte_bound_holds_across_callers() -> None:
    model = Model()
    batcher: Batcher[object] = Batcher(model, max_frames=64, max_bytes=250, linger_s=5.0)
    jobs = {c: [frame(c, i, nbytes=100) for i in range(3)] for c in range(3)}
    started = time.monotonic()
    got = in_threads(batcher, jobs)
    # Under the 5 s linger: once a caller has its answer and leaves, nobody waits for it.
    assert time.monotonic() - started < 2.5
    for caller in jobs:
        assert got[caller] == [(caller, i) for i in range(3)]
    assert max(model.sizes) <= 250 and all(len(call) == 2 for call in model.calls[:-1])
    assert sum(len(call) for call in model.calls) == 9
    batcher.close()


def test_a_frame_over_the_byte_bound_goes_alone() -> None:
    model = Model()
    batcher: Batcher[object] = Batcher(model, max_frames=8, max_bytes=250)
    frames = [frame(1, 0, nbytes=100), frame(1, 1, nbytes=1000), frame(1, 2, nbytes=100)]
    assert batcher.run(frames, timeout=WAIT_S) == [(1, 0), (1, 1), (1, 2)]
    assert [len(call) for call in model.calls] == [1, 1, 1]
    batcher.close()


def test_an_error_reaches_only_its_batchs_callers_and_the_thread_carries_on() -> None:
    def refuse_caller_9(ids: list[tuple[int, int]]) -> None:
        if any(caller == 9 for caller, _ in ids):
            raise TaskError("input_unreadable", "frame 9 is bad")

    model = Model(refuse_caller_9)
    # Four one-frame callers, two frames a call: caller 9 shares its call with one other.
    batcher: Batcher[object] = Batcher(model, max_frames=2, max_bytes=1 << 20, linger_s=5.0)
    got = in_threads(batcher, {c: [frame(c, 0)] for c in (9, 1, 2, 3)})
    assert sorted(len(call) for call in model.calls) == [2, 2]
    (failed,) = [{c for c, _ in call} for call in model.calls if (9, 0) in call]
    for caller in (9, 1, 2, 3):
        if caller in failed:  # the error keeps its type and code
            error = got[caller]
            assert isinstance(error, TaskError) and error.code == "input_unreadable", error
        else:
            assert got[caller] == [(caller, 0)]
    # The next callers are served by the same thread.
    got = in_threads(batcher, {2: [frame(2, 0)], 3: [frame(3, 0), frame(3, 1)]})
    assert got == {2: [(2, 0)], 3: [(3, 0), (3, 1)]}
    assert len(model.threads) == 1
    batcher.close()


def test_an_error_in_a_later_chunk_fails_the_caller_and_drops_the_rest() -> None:
    def refuse_frame_6(ids: list[tuple[int, int]]) -> None:
        if (4, 6) in ids:
            raise ValueError("bad frame")

    model = Model(refuse_frame_6)
    batcher: Batcher[object] = Batcher(model, max_frames=4, max_bytes=1 << 20)
    with pytest.raises(ValueError, match="bad frame"):
        batcher.run([frame(4, i) for i in range(12)], timeout=WAIT_S)
    assert [len(call) for call in model.calls] == [4, 4]  # frames 8-11 never ran
    batcher.close()


def test_a_caller_gives_up_at_its_timeout_and_the_model_goes_on() -> None:
    release = threading.Event()

    def hang_on_caller_5(ids: list[tuple[int, int]]) -> None:
        if ids[0][0] == 5:
            release.wait(WAIT_S)

    model = Model(hang_on_caller_5)
    batcher: Batcher[object] = Batcher(model, max_frames=8, max_bytes=1 << 20)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no answer in 0.2 s"):
        batcher.run([frame(5, 0)], timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 2.0
    release.set()
    assert batcher.run([frame(6, 0)], timeout=WAIT_S) == [(6, 0)]
    batcher.close()


def test_the_model_thread_starts_on_first_use_named_and_daemon_and_stops_on_close() -> None:
    batcher: Batcher[object] = Batcher(Model(), max_frames=8, max_bytes=1 << 20, name="faces-m")
    assert not [t for t in threading.enumerate() if t.name == "faces-m"]
    assert batcher.run([], timeout=WAIT_S) == []
    assert not [t for t in threading.enumerate() if t.name == "faces-m"]
    batcher.run([frame(0, 0)], timeout=WAIT_S)
    (thread,) = [t for t in threading.enumerate() if t.name == "faces-m"]
    assert thread.daemon
    batcher.close()
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.run([frame(0, 0)], timeout=WAIT_S)


def test_a_stop_check_ends_the_wait_and_drops_the_frames_not_yet_taken() -> None:
    release = threading.Event()

    def hang_on_caller_5(ids: list[tuple[int, int]]) -> None:
        if ids[0][0] == 5:
            release.wait(WAIT_S)

    model = Model(hang_on_caller_5)
    batcher: Batcher[object] = Batcher(model, max_frames=1, max_bytes=1 << 20)
    busy = threading.Thread(target=batcher.run, args=([frame(5, 0)],), kwargs={"timeout": WAIT_S})
    busy.start()
    deadline = time.monotonic() + WAIT_S
    while not model.calls and time.monotonic() < deadline:
        time.sleep(0.01)  # until the model is stuck on caller 5
    stop = threading.Event()

    def check() -> None:  # as a task's progress report raises once the runtime stops it
        if stop.is_set():
            raise TaskError("timeout", "past its budget")

    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(TaskError, match="past its budget"):
        batcher.run([frame(6, 0), frame(6, 1)], timeout=WAIT_S, check=check)
    assert time.monotonic() - started < 2.0
    release.set()
    busy.join(WAIT_S)
    assert batcher.run([frame(7, 0)], timeout=WAIT_S) == [(7, 0)]
    assert [call[0][0] for call in model.calls] == [5, 7]  # caller 6's frames never ran
    batcher.close()
