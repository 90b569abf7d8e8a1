"""Opening and probing containers: the allowed demuxers, the pixel limit, `MediaInfo`.

Everything else in the media package opens its input through `open_container`. Every
failure to read becomes a TaskError with a code from `pipeline.contract.errors`.
"""

from __future__ import annotations

import errno
import logging
from fractions import Fraction
from itertools import islice
from pathlib import Path
from typing import Any

import av
import av.error
from av.codec.hwaccel import HWAccel
from PIL import Image

from pipeline.contract.errors import (
    INPUT_TOO_LARGE,
    INPUT_UNREADABLE,
    TaskError,
)
from pipeline.contract.media import MediaInfo
from pipeline.media.demuxers import SUPPORTED_CONTAINERS as SUPPORTED
from pipeline.media.demuxers import input_options

log = logging.getLogger(__name__)
# Demuxers that hold single pictures rather than timed video.
_IMAGE_DEMUXERS = {"image2", "png_pipe", "webp_pipe", "jpeg_pipe", "bmp_pipe", "gif", "tiff_pipe"}


def probe(path: Path, *, max_pixels: int | None = None, rotated: bool = True) -> MediaInfo:
    """Read the container header: streams, size, duration. Decodes at most one picture,
    and none bigger than `max_pixels`. `rotated=False` skips looking for a display rotation
    (a first-frame decode), for files known to carry none, such as Strobe's own outputs."""
    with open_container(path, max_pixels) as container:
        return describe_container(container, max_pixels, rotated=rotated)


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
    """Open `path` for reading with the allowed demuxers only (see pipeline.media.demuxers);
    `hwaccel` decodes video on a device (see pipeline.media.decoders)."""
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


def describe_container(
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
