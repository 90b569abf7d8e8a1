"""One model call for frames from several tasks at once.

An actor runs a few tasks at a time on one operator instance, each in its own thread. Each
task decodes and samples its own frames, then hands a handful to a `Batcher` and waits. A
single model thread gathers the frames of every waiting task into one `detect` call, so a
GPU sees one batch of 32 frames instead of four of 8, and a model that is not thread-safe
(OpenCV's YuNet keeps its input size between calls) is only ever called from one thread.
Decoding stays in the tasks' threads and overlaps the model step.

Bounds: a call holds at most `max_frames` frames and `max_bytes` bytes of pixels (a frame
larger than that alone goes alone), which bounds the model's input memory whatever the
resolution. With a partial batch the model thread waits up to `linger_s` for the other
tasks' frames, and only while fewer tasks are waiting than have joined (`joined()`), so a
lone task never waits. Results go back in order; an error in `detect` goes to the tasks
whose frames were in that call, and the thread carries on. Every wait has a deadline.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, TypeVar, cast

import numpy as np

R = TypeVar("R")

_IDLE_S = 1.0  # how often an idle model thread looks whether it was closed
_POLL_S = 0.5  # how often a waiting caller looks whether the model thread still runs


@dataclass(eq=False)
class _Request(Generic[R]):
    """One caller's frames, how far the model has got with them, and the answer."""

    frames: Sequence[np.ndarray]
    results: list[R | None]
    taken: int = 0  # frames handed to the model so far
    answered: int = 0
    error: BaseException | None = None
    trace: TracebackType | None = None
    done: threading.Event = field(default_factory=threading.Event)


_Slice = tuple[_Request[R], int, int]  # a request's frames [start, stop) in one model call


class Batcher(Generic[R]):
    """Batches `detect(frames) -> one result per frame` across the threads calling `run`."""

    def __init__(
        self,
        detect: Callable[[Sequence[np.ndarray]], list[R]],
        *,
        max_frames: int,
        max_bytes: int,
        linger_s: float = 0.005,
        name: str = "batcher",
    ) -> None:
        if max_frames < 1 or max_bytes < 1:
            raise ValueError("a batch must allow at least one frame and one byte")
        self.detect = detect
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.linger_s = linger_s
        self.name = name
        self._lock = threading.Condition()
        self._pending: deque[_Request[R]] = deque()
        self._joined = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self.calls = self.frames = 0  # model calls made and frames in them, for benchmarks

    @contextmanager
    def joined(self) -> Iterator[None]:
        """Around one task's calls: tells the model thread how many callers to expect."""
        with self._lock:
            self._joined += 1
        try:
            yield
        finally:
            with self._lock:
                self._joined -= 1
                self._lock.notify_all()  # a lingering model thread need not wait for it

    def run(
        self,
        frames: Sequence[np.ndarray],
        *,
        timeout: float,
        check: Callable[[], None] | None = None,
    ) -> list[R]:
        """`detect(frames)`, computed in a shared call. Raises what `detect` raised, or
        TimeoutError after `timeout` seconds. `check` is called every half second while
        waiting; what it raises (a request to stop the task) ends the wait. A caller that
        gives up has its frames not yet taken dropped."""
        if not frames:
            return []
        request: _Request[R] = _Request(frames, [None] * len(frames))
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
            self._pending.append(request)
            self._lock.notify_all()
        deadline = time.monotonic() + timeout
        try:
            while not request.done.wait(max(0.0, min(_POLL_S, deadline - time.monotonic()))):
                if check is not None:
                    check()
                if not self._thread.is_alive():
                    raise TimeoutError(f"{self.name}: the model thread stopped")
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{self.name}: the model gave no answer in {timeout:g} s")
        except BaseException:
            with self._lock:
                if request in self._pending:
                    self._pending.remove(request)
            if not request.done.is_set():
                raise
        if request.error is not None:
            raise request.error.with_traceback(request.trace)
        return cast(list[R], request.results)  # every slot is filled

    def close(self, timeout: float = 5.0) -> None:
        """Stop the model thread once the frames already submitted are done."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _serve(self) -> None:
        while (batch := self._gather()) is not None:
            frames = [f for request, start, stop in batch for f in request.frames[start:stop]]
            self.calls, self.frames = self.calls + 1, self.frames + len(frames)
            try:
                results = self.detect(frames)
                if len(results) != len(frames):
                    raise RuntimeError(f"detect gave {len(results)} results for {len(frames)}")
            except BaseException as exc:  # handed to the callers in this batch, raised there
                self._answer(batch, error=exc)
            else:
                self._answer(batch, results=results)

    def _gather(self) -> list[_Slice[R]] | None:
        """Wait for work, linger for more while it is coming, take one batch's worth."""
        with self._lock:
            while not self._pending:
                if self._closed:
                    return None
                self._lock.wait(_IDLE_S)
            until = time.monotonic() + self.linger_s
            while (
                len(self._pending) < self._joined
                and not self._full()
                and (left := until - time.monotonic()) > 0
            ):
                self._lock.wait(left)
            return self._take()

    def _full(self) -> bool:
        frames = nbytes = 0
        for request in self._pending:
            for frame in request.frames[request.taken :]:
                frames, nbytes = frames + 1, nbytes + frame.nbytes
                if frames >= self.max_frames or nbytes >= self.max_bytes:
                    return True
        return False

    def _take(self) -> list[_Slice[R]]:
        batch: list[_Slice[R]] = []
        frames = nbytes = 0
        while self._pending:
            request = self._pending[0]
            start = request.taken
            while request.taken < len(request.frames):
                size = request.frames[request.taken].nbytes
                if frames and (frames >= self.max_frames or nbytes + size > self.max_bytes):
                    break
                frames, nbytes, request.taken = frames + 1, nbytes + size, request.taken + 1
            if request.taken > start:
                batch.append((request, start, request.taken))
            if request.taken < len(request.frames):
                break  # the batch is full; the rest of this request goes first next time
            self._pending.popleft()
        return batch

    def _answer(
        self,
        batch: list[_Slice[R]],
        results: list[R] | None = None,
        error: BaseException | None = None,
    ) -> None:
        offset = 0
        with self._lock:
            for request, start, stop in batch:
                if error is not None:
                    if request.error is None:
                        request.error, request.trace = error, error.__traceback__
                    if request in self._pending:  # its other frames are not worth running
                        self._pending.remove(request)
                    request.done.set()
                    continue
                assert results is not None
                request.results[start:stop] = results[offset : offset + stop - start]
                request.answered += stop - start
                offset += stop - start
                if request.answered == len(request.frames) and request.error is None:
                    request.done.set()
