"""The media layer: PyAV in, plain numbers and numpy arrays out.

PyAV objects never leave this module. Every failure to read becomes a TaskError with a
code from `pipeline.contract.errors`, so a corrupt upload fails its task instead of a worker.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.codec.hwaccel import HWAccel
from PIL import Image

from pipeline.contract.errors import (
    INPUT_TOO_LARGE,
    INPUT_UNREADABLE,
    NO_VIDEO_STREAM,
    OPTION_OUT_OF_RANGE,
    TaskError,
)
from pipeline.contract.media import MediaInfo, Progress, Still, no_progress
from pipeline.contract.plans import AudioPlan, Encoded, VideoPlan
from pipeline.decoders import hwaccel
from pipeline.demuxers import SUPPORTED_CONTAINERS as SUPPORTED
from pipeline.demuxers import input_options
from pipeline.prefetch import prefetch

log = logging.getLogger(__name__)
# Demuxers that hold single pictures rather than timed video.
_IMAGE_DEMUXERS = {"image2", "png_pipe", "webp_pipe", "jpeg_pipe", "bmp_pipe", "gif", "tiff_pipe"}
# Decoded frames kept ready ahead of the caller: at most this many, and this much memory.
MAX_PREFETCH_FRAMES = 16
PREFETCH_BYTES = 64 << 20


def probe(path: Path, *, max_pixels: int | None = None, rotated: bool = True) -> MediaInfo:
    """Read the container header: streams, size, duration. Decodes at most one picture,
    and none bigger than `max_pixels`. `rotated=False` skips looking for a display rotation
    (a first-frame decode), for files known to carry none, such as Strobe's own outputs."""
    with open_container(path, max_pixels) as container:
        return _describe(container, max_pixels, rotated=rotated)


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
            self._info = _describe(container, max_pixels)
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
        """Write `plan` into the workdir (see pipeline.transcode)."""
        from pipeline.transcode import encode_video

        return encode_video(
            self.path, plan, self.workdir / "encoded", progress, max_pixels=self.max_pixels
        )

    def encode_audio(self, plan: AudioPlan, progress: Progress = no_progress) -> Encoded:
        from pipeline.audio_encode import encode_audio

        return encode_audio(
            self.path, plan, self.workdir / "encoded", progress, max_pixels=self.max_pixels
        )

    def audio(self, start: float = 0.0, end: float | None = None) -> np.ndarray:
        """16 kHz mono float32 samples of the first audio stream (see pipeline.pcm)."""
        from pipeline.pcm import decode_pcm

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


def _quarter_turns(container: av.container.InputContainer, stream: Any) -> int:
    """Counter-clockwise quarter turns of the display rotation (phone videos). PyAV reads the
    display matrix only from decoded frames: decode the first one (a few packets at most);
    0 when none decodes there."""
    try:
        for packet in islice(container.demux(stream), _ROTATION_PACKETS):
            for frame in packet.decode():
                return round(frame.rotation / 90) % 4
    except av.error.FFmpegError:
        pass
    return 0


# Packets decoded, at most, to find the display rotation of a video (frame threads and
# reordering delay the first frame by a few).
_ROTATION_PACKETS = 64


def open_container(
    path: Path, max_pixels: int | None = None, hwaccel: HWAccel | None = None
) -> av.container.InputContainer:
    """Open `path` for reading with the allowed demuxers only (see pipeline.demuxers);
    `hwaccel` decodes video on a device (see pipeline.decoders)."""
    if path.stat().st_size == 0:
        raise TaskError(INPUT_UNREADABLE, "the input is empty (0 bytes)")
    try:
        container = av.open(
            str(path),
            mode="r",
            metadata_errors="ignore",
            options=input_options(max_pixels),
            hwaccel=hwaccel,
        )
    except av.error.FFmpegError as exc:
        # FFmpeg's message names the local path: it goes to the log, not to the client.
        log.info("could not open %s: %s", path, exc)
        if exc.errno == errno.EINVAL:  # what a demuxer or protocol off the allow-list reads as
            message = f"the input is not in a container Strobe opens; supported: {SUPPORTED}"
        else:
            message = (
                f"the input is not readable media: corrupt, truncated or not media ({exc.strerror})"
            )
        raise TaskError(INPUT_UNREADABLE, message) from exc
    if max_pixels:  # every open of an input, not only the probe: transcode, audio, pcm
        try:
            video = next((s for s in container.streams.video if not is_cover_art(s)), None)
            _check_pixels(container, video, max_pixels)
        except BaseException:
            container.close()
            raise
    return container


def _check_pixels(
    container: av.container.InputContainer,
    video: av.video.stream.VideoStream | None,
    max_pixels: int | None,
) -> None:
    """`input_too_large` for a picture over `max_pixels` (FFmpeg, told the limit, reports
    such a picture's size as 0); `input_unreadable` for a video stream with no size."""
    if video is None:
        return
    width, height = video.codec_context.width, video.codec_context.height
    if not (width and height):
        if max_pixels:
            raise TaskError(
                INPUT_TOO_LARGE,
                f"the input is {_header_size(container.name)} pixels; the limit is {max_pixels}",
            )
        raise TaskError(INPUT_UNREADABLE, "the video stream has no picture size")
    if max_pixels and width * height > max_pixels:
        raise TaskError(
            INPUT_TOO_LARGE,
            f"the input is {width}x{height} pixels; the limit is {max_pixels} pixels",
        )


def _describe(
    container: av.container.InputContainer, max_pixels: int | None, *, rotated: bool = True
) -> MediaInfo:
    video = next((s for s in container.streams.video if not is_cover_art(s)), None)
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise TaskError(INPUT_UNREADABLE, "the input has no audio or video streams")
    width = video.codec_context.width if video else None
    height = video.codec_context.height if video else None
    _check_pixels(container, video, max_pixels)
    fmt_name = container.format.name
    is_image = video is not None and (fmt_name in _IMAGE_DEMUXERS or _single_frame(video))
    if rotated and video is not None and not is_image and _quarter_turns(container, video) % 2:
        width, height = height, width  # the size as shown: operators size outputs by it
    return MediaInfo(
        container=fmt_name.split(",")[0],
        duration=None if is_image else _duration(container, video or audio),
        has_video=video is not None,
        has_audio=audio is not None,
        is_image=is_image,
        width=width,
        height=height,
        video_codec=video.codec_context.codec.canonical_name if video else None,
        audio_codec=audio.codec_context.codec.canonical_name if audio else None,
        fps=_fps(video) if video is not None and not is_image else None,
        frames=(video.frames or None) if video is not None else None,
        bitrate=container.bit_rate or None,
        has_alpha=bool(video is not None and _has_alpha(video)),
    )


def _header_size(path: str) -> str:
    """`WxH` from a picture's header without decoding it (FFmpeg refused to say)."""
    try:
        with Image.open(path) as picture:
            return "{}x{}".format(*picture.size)
    except (OSError, ValueError, Image.DecompressionBombError):
        return "an unknown number of"


def _duration(
    container: av.container.InputContainer, stream: av.stream.Stream | None
) -> float | None:
    if container.duration:
        return container.duration / av.time_base
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _fps(stream: av.video.stream.VideoStream) -> float | None:
    rate: Fraction | None = stream.average_rate or stream.base_rate
    return round(float(rate), 3) if rate else None


def _single_frame(stream: av.video.stream.VideoStream) -> bool:
    # AVIF and HEIF pictures arrive through the mp4 demuxer as one-frame "videos".
    return stream.frames == 1 and stream.codec_context.name in {"libdav1d", "av1", "hevc"}


def _has_alpha(stream: av.video.stream.VideoStream) -> bool:
    pix_fmt = stream.codec_context.pix_fmt or ""
    return any(tag in pix_fmt for tag in ("rgba", "argb", "bgra", "abgr", "yuva", "ya8", "ya16"))


def is_cover_art(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def describe(media: MediaInfo) -> dict[str, Any]:
    """The probed fields an output or uploaded file object carries."""
    return {
        "container": media.container,
        "codec": media.video_codec or media.audio_codec,
        "audio_codec": media.audio_codec if media.video_codec else None,
        "width": media.width,
        "height": media.height,
        "duration": media.duration,
        "fps": media.fps,
        "frames": media.frames,
        "bitrate": media.bitrate,
    }
