"""The media layer: PyAV in, plain numbers and numpy arrays out.

PyAV objects never leave this module. Every failure to read becomes a TaskError with a
code from DESIGN.md, so a corrupt upload fails its task instead of a worker.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.error

from operators.base import MediaInfo, Still, TaskError

# Demuxers that hold single pictures rather than timed video.
_IMAGE_DEMUXERS = {"image2", "png_pipe", "webp_pipe", "jpeg_pipe", "bmp_pipe", "gif", "tiff_pipe"}


def probe(path: Path, *, max_pixels: int | None = None) -> MediaInfo:
    """Read the container header: streams, size, duration. Decodes nothing."""
    with _open(path) as container:
        return _describe(container, max_pixels)


class MediaFile:
    """A local media file that an operator reads through `operators.base.MediaSource`."""

    def __init__(self, path: Path, *, max_pixels: int | None = None) -> None:
        self.path = path
        self._info = probe(path, max_pixels=max_pixels)

    @property
    def info(self) -> MediaInfo:
        return self._info

    def still(self, at: float | None = None) -> Still:
        """The frame shown at `at` seconds (the first one when None)."""
        if not self._info.has_video:
            raise TaskError("no_video_stream", "the input has no video stream")
        at = at or 0.0
        duration = self._info.duration
        if at and duration is not None and at >= duration:
            raise TaskError(
                "option_out_of_range",
                f"start {at:g} s is at or after the end of the input ({duration:.3f} s)",
            )
        fmt = "rgba" if self._info.has_alpha else "rgb24"
        with _open(self.path) as container:
            try:
                frame = _frame_at(container, at)
            except av.error.FFmpegError as exc:
                raise TaskError("input_unreadable", f"could not decode the input: {exc}") from exc
            if frame is None:
                raise TaskError("input_unreadable", "the input has no decodable frames")
            timestamp = float(frame.time or 0.0)
            return Still(timestamp=timestamp, pixels=frame.to_ndarray(format=fmt))


def _frame_at(container: av.container.InputContainer, at: float) -> av.VideoFrame | None:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    if at > 0 and stream.time_base is not None:
        # Seek lands on the keyframe before `at`; decode forward to the nearest frame.
        container.seek(int(at / stream.time_base), stream=stream, backward=True)
    best = None
    for frame in container.decode(stream):
        if frame.time is None or frame.time <= at or best is None:
            best = frame
        else:
            # `frame` is the first one past `at`: keep whichever of the two is closer.
            if abs(frame.time - at) < abs((best.time or 0.0) - at):
                best = frame
            break
        if frame.time is not None and frame.time >= at:
            break
    return best


def _open(path: Path) -> av.container.InputContainer:
    if path.stat().st_size == 0:
        raise TaskError("input_unreadable", "the input is empty (0 bytes)")
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise TaskError("input_unreadable", f"not a readable media file: {exc}") from exc


def _describe(container: av.container.InputContainer, max_pixels: int | None) -> MediaInfo:
    video = next((s for s in container.streams.video if not _is_cover_art(s)), None)
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise TaskError("input_unreadable", "the input has no audio or video streams")
    width = video.codec_context.width if video else None
    height = video.codec_context.height if video else None
    if video is not None and not (width and height):
        raise TaskError("input_unreadable", "the video stream has no picture size")
    if max_pixels and width and height and width * height > max_pixels:
        raise TaskError(
            "input_too_large",
            f"the input is {width}x{height} pixels; the limit is {max_pixels} pixels",
        )
    fmt_name = container.format.name
    is_image = video is not None and (fmt_name in _IMAGE_DEMUXERS or _single_frame(video))
    return MediaInfo(
        container=fmt_name.split(",")[0],
        duration=None if is_image else _duration(container, video or audio),
        has_video=video is not None,
        has_audio=audio is not None,
        is_image=is_image,
        width=width,
        height=height,
        video_codec=video.codec_context.name if video else None,
        audio_codec=audio.codec_context.name if audio else None,
        fps=_fps(video) if video is not None and not is_image else None,
        frames=(video.frames or None) if video is not None else None,
        bitrate=container.bit_rate or None,
        has_alpha=bool(video is not None and _has_alpha(video)),
    )


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


def _is_cover_art(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)
