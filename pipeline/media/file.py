"""`MediaFile`: a local media file as operators read it (`pipeline.contract.media.MediaSource`).

Stills and sampled frames are decoded here; encodes and PCM are handed to their modules in
this package. PyAV objects never leave the media package; every failure to read becomes a
TaskError, so a corrupt upload fails its task instead of a worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import av.error
import numpy as np

from pipeline.contract.errors import (
    INPUT_UNREADABLE,
    NO_VIDEO_STREAM,
    OPTION_OUT_OF_RANGE,
    TaskError,
)
from pipeline.contract.media import MediaInfo, Progress, Still, no_progress
from pipeline.contract.plans import AudioPlan, Encoded, VideoPlan
from pipeline.media.audio_encode import encode_audio
from pipeline.media.containers import describe_container, open_container
from pipeline.media.decoders import hwaccel
from pipeline.media.pcm import decode_pcm
from pipeline.media.prefetch import prefetch
from pipeline.media.transcode import encode_video

# Decoded frames kept ready ahead of the caller: at most this many, and this much memory.
MAX_PREFETCH_FRAMES = 16
PREFETCH_BYTES = 64 << 20


class MediaFile:
    """A local media file that an operator reads through `pipeline.contract.media.MediaSource`."""

    def __init__(
        self, path: Path, *, max_pixels: int | None = None, workdir: Path | None = None
    ) -> None:
        self.path = path
        self.max_pixels = max_pixels
        self._workdir = workdir or path.parent
        container = open_container(path, max_pixels)
        try:
            self._info = describe_container(container, max_pixels)
        except BaseException:
            container.close()
            raise
        # A picture's still decodes from the probed container: one open of the file, not two.
        self._held: av.container.InputContainer | None = None
        if self._info.is_image:
            self._held = container
        else:
            container.close()

    @property
    def info(self) -> MediaInfo:
        return self._info

    @property
    def workdir(self) -> Path:
        self._workdir.mkdir(parents=True, exist_ok=True)
        return self._workdir

    def still(self, at: float | None = None) -> Still:
        """The frame shown at `at` seconds (the first one when None), upright."""
        if not self._info.has_video:
            raise TaskError(NO_VIDEO_STREAM, "the input has no video stream")
        at = at or 0.0
        duration = self._info.duration
        if at and duration is not None and at >= duration:
            raise TaskError(
                OPTION_OUT_OF_RANGE,
                f"start {at:g} s is at or after the end of the input ({duration:.3f} s)",
            )
        try:
            timestamp, pixels = self._decode_near(at)
        except av.error.FFmpegError as exc:
            raise TaskError(INPUT_UNREADABLE, f"could not decode the input: {exc}") from exc
        if at - timestamp > _gap_allowed(self._info.fps):
            raise TaskError(
                INPUT_UNREADABLE,
                f"the input's frames end at {timestamp:.3f} s, before the requested "
                f"{at:g} s: the file looks truncated",
            )
        return Still(timestamp=timestamp, pixels=pixels)

    def frames(
        self, fps: float | None = None, start: float = 0.0, end: float | None = None
    ) -> Iterator[Still]:
        """Decoded RGB frames from `start` to `end`, sampled at `fps` (None: every frame),
        decoded in the background a few frames ahead of the caller."""
        pixels = (self._info.width or 1) * (self._info.height or 1) * 3
        depth = max(2, min(MAX_PREFETCH_FRAMES, PREFETCH_BYTES // pixels))
        return prefetch(self._frames(fps, start, end), depth)

    def _frames(self, fps: float | None, start: float, end: float | None) -> Iterator[Still]:
        if not self._info.has_video:
            raise TaskError(NO_VIDEO_STREAM, "the input has no video stream")
        if self._info.is_image:
            yield self.still()
            return
        step = 1.0 / fps if fps else 0.0
        next_at = start
        with open_container(self.path, self.max_pixels, hwaccel()) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            origin = _start_seconds(stream)
            if start > 0 and stream.time_base is not None:
                container.seek(int((origin + start) / stream.time_base), stream=stream)
            try:
                for frame in container.decode(stream):
                    t = max(0.0, float(frame.time or 0.0) - origin)
                    if end is not None and t >= end:
                        break
                    if t + 1e-6 < next_at:
                        continue
                    yield Still(t, _upright(frame.to_ndarray(format="rgb24"), frame))
                    next_at = (t if not step else next_at) + step
                    while step and next_at <= t:
                        next_at += step
            except av.error.FFmpegError as exc:
                raise TaskError(INPUT_UNREADABLE, f"could not decode the input: {exc}") from exc

    def encode_video(self, plan: VideoPlan, progress: Progress = no_progress) -> Encoded:
        """Write `plan` into the workdir (see pipeline.media.transcode)."""
        return encode_video(
            self.path, plan, self.workdir / "encoded", progress, max_pixels=self.max_pixels
        )

    def encode_audio(self, plan: AudioPlan, progress: Progress = no_progress) -> Encoded:
        return encode_audio(
            self.path, plan, self.workdir / "encoded", progress, max_pixels=self.max_pixels
        )

    def audio(self, start: float = 0.0, end: float | None = None) -> np.ndarray:
        """16 kHz mono float32 samples of the first audio stream (see pipeline.media.pcm)."""
        return decode_pcm(self.path, start=start, end=end, max_pixels=self.max_pixels)

    def _decode_near(self, at: float) -> tuple[float, np.ndarray]:
        fmt = "rgba" if self._info.has_alpha else "rgb24"
        # Seek to the keyframe before `at`; some demuxers (MPEG-TS) land after it, so step
        # further back, and in the end decode from the very start.
        for back_off in (0.0, 2.0, 10.0, None):
            held, self._held = self._held, None
            with held or open_container(self.path, self.max_pixels) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                origin = _start_seconds(stream)
                seek_to = None if back_off is None else max(0.0, at - back_off)
                frame = _frame_near(container, stream, origin, seek_to, at)
                if frame is _OVERSHOT:
                    continue
                if frame is None:
                    raise TaskError(INPUT_UNREADABLE, "the input has no decodable frames")
                assert isinstance(frame, av.VideoFrame)
                timestamp = max(0.0, float(frame.time or 0.0) - origin)
                return timestamp, _upright(frame.to_ndarray(format=fmt), frame)
        raise TaskError(INPUT_UNREADABLE, "could not find the requested frame")


_OVERSHOT = object()


def _start_seconds(stream: av.video.stream.VideoStream) -> float:
    if stream.start_time and stream.time_base:
        return float(stream.start_time * stream.time_base)
    return 0.0


def _frame_near(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    origin: float,
    seek_to: float | None,
    at: float,
) -> av.VideoFrame | object | None:
    """Decode forward to the frame nearest `at` (stream time minus `origin`).

    Returns _OVERSHOT when the seek landed after `at`, so nothing at or before it was seen.
    """
    if seek_to and stream.time_base is not None:
        container.seek(int((origin + seek_to) / stream.time_base), stream=stream, backward=True)
    target = origin + at
    best = None
    for frame in container.decode(stream):
        time_s = frame.time
        if time_s is None:
            best = best or frame
            continue
        if best is None and seek_to is not None and time_s > target + _HALF_FRAME_SLACK:
            return _OVERSHOT
        if time_s <= target or best is None:
            best = frame
            if time_s >= target:
                break
            continue
        # `frame` is the first one past `target`: keep whichever of the two is closer.
        if abs(time_s - target) < abs((best.time or 0.0) - target):
            best = frame
        break
    if best is None and seek_to:
        return _OVERSHOT  # the seek went past the last frame
    return best


# A seek may land this far after the target before it counts as overshooting.
_HALF_FRAME_SLACK = 0.02


def _gap_allowed(fps: float | None) -> float:
    """How far before the requested time the last frame may be: two frame intervals."""
    return 2.0 / fps if fps else 0.5


def _upright(pixels: np.ndarray, frame: av.VideoFrame) -> np.ndarray:
    """Apply the display rotation (EXIF orientation, phone video metadata)."""
    quarter_turns = round(getattr(frame, "rotation", 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, quarter_turns)) if quarter_turns else pixels
