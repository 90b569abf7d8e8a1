"""PyAV steps the encoders share: decode a time range, mux packets, report progress."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import av
import av.error

from pipeline.contract.errors import INPUT_UNREADABLE, TaskError
from pipeline.contract.media import Progress
from pipeline.contract.plans import Trim

# Report progress at most this often (fraction of the work).
PROGRESS_STEP = 0.01


def decode_range(
    source: av.container.InputContainer,
    video: av.video.stream.VideoStream | None,
    audio: av.audio.stream.AudioStream | None,
    trim: Trim,
    origin: float,
) -> Iterator[tuple[Any, Any]]:
    """(stream, frame) for the chosen streams, from a seek before `trim.start` until every
    stream has passed `trim.end`."""
    streams = [s for s in (video, audio) if s is not None]
    if trim.start > 0:
        anchor = video or audio
        assert anchor is not None and anchor.time_base is not None
        source.seek(int((origin + trim.start) / anchor.time_base), stream=anchor, backward=True)
    end = None if trim.end is None else origin + trim.end
    finished: set[int] = set()
    try:
        for packet in source.demux(*streams):
            if packet.stream.index in finished:
                continue
            frame: Any
            for frame in packet.decode():
                if end is not None and frame.time is not None and frame.time > end:
                    finished.add(packet.stream.index)
                    break
                yield packet.stream, frame
            if len(finished) == len(streams):
                return
    except av.error.FFmpegError as exc:
        raise TaskError(INPUT_UNREADABLE, f"could not decode the input: {exc}") from exc


def mux(output: av.container.OutputContainer, packets: Any) -> None:
    for packet in packets:
        output.mux(packet)


class Meter:
    """Turns media timestamps into calls of `progress`, at most once per PROGRESS_STEP."""

    def __init__(self, trim: Trim, duration: float | None, progress: Progress) -> None:
        end = trim.end if trim.end is not None else duration
        self.start, self.span = trim.start, (end - trim.start) if end else None
        self.progress, self.reported = progress, 0.0

    def at(self, t: float) -> None:
        if not self.span:
            return
        done = min(1.0, max(0.0, (t - self.start) / self.span))
        if done - self.reported >= PROGRESS_STEP:
            self.reported = done
            self.progress(done)


def origin_seconds(source: av.container.InputContainer) -> float:
    return source.start_time / av.time_base if source.start_time else 0.0


def duration_seconds(source: av.container.InputContainer) -> float | None:
    return source.duration / av.time_base if source.duration else None
