"""Encode plans: what an operator asks the media layer to write, as plain frozen data.

Operators decide sizes, codecs, trims and rates; the media layer (`pipeline.transcode`)
picks concrete encoders, runs PyAV and reports what it used in an `Encoded`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from operators.geometry import ResizePlan


@dataclass(frozen=True)
class Trim:
    """Seconds of the input to keep: `start` to `end` (None: to the end of the input)."""

    start: float = 0.0
    end: float | None = None


@dataclass(frozen=True)
class Rendition:
    """One encoded picture size: scale to `resize.scaled`, then crop or pad to the canvas.

    `sample_aspect` is the shape of one pixel (width / height): a player stretches the
    picture by it, so a rung whose even size is a little off the ladder's aspect ratio
    still shows at exactly the same shape."""

    resize: ResizePlan
    quality: int | None = None  # 1-100; the media layer maps it to the encoder's CRF/CQ
    bitrate: int | None = None  # bits per second; wins over quality when set
    sample_aspect: Fraction = Fraction(1)

    @property
    def width(self) -> int:
        return self.resize.canvas[0]

    @property
    def height(self) -> int:
        return self.resize.canvas[1]


@dataclass(frozen=True)
class VideoPlan:
    """A video output: `container` is "mp4", "webm" or "cmaf" (fMP4 segments + HLS + DASH).

    `codec` is a family ("h264", "hevc", "vp9", "vp8", "av1"); `audio` an audio family
    ("aac", "opus") or None to leave audio out. `fps` None keeps the input's average rate.
    Sizes are of the picture as shown: the media layer applies the input's display rotation.
    Several renditions are allowed only for "cmaf": the input is decoded once for all.
    """

    container: str
    codec: str
    renditions: tuple[Rendition, ...]
    audio: str | None
    audio_bitrate: int
    trim: Trim = Trim()
    fps: float | None = None
    segment_seconds: float = 4.0


@dataclass(frozen=True)
class AudioPlan:
    """An audio-only output: `container` "mp3", "wav" or "ogg"; `codec` "mp3", "pcm" or
    "opus"; `bitrate` None for uncompressed PCM."""

    container: str
    codec: str
    bitrate: int | None
    trim: Trim = Trim()


@dataclass(frozen=True)
class Encoded:
    """What the media layer wrote: the main file, every file it made (for segmented
    outputs, all of them, the main file included), and the encoders it used."""

    path: Path
    files: tuple[Path, ...]
    video_encoder: str | None = None
    video_decoder: str | None = None
    audio_encoder: str | None = None


def plan_trim(
    start: float | None, end: float | None, duration: float | None, media_duration: float | None
) -> Trim:
    """`start`/`end`/`duration` options -> a Trim inside the input, or option_out_of_range."""
    from operators.base import TaskError

    first = start or 0.0
    last = first + duration if duration else end
    if media_duration is not None and first >= media_duration:
        raise TaskError(
            "option_out_of_range",
            f"start {first:g} s is at or after the end of the input ({media_duration:.3f} s)",
        )
    if last is not None and media_duration is not None and last >= media_duration:
        last = None  # to the end: asking for more than there is keeps what there is
    return Trim(first, last)


def even(value: int, *, up: bool = False) -> int:
    """The nearest even size at or below `value` (above with `up`): yuv420p needs it."""
    if value % 2:
        value += 1 if up else -1
    return max(2, value)


def even_resize(plan: ResizePlan) -> ResizePlan:
    """`plan` with even canvas and scaled sizes, the picture still centred in the canvas."""
    canvas = (even(plan.canvas[0]), even(plan.canvas[1]))
    covers = plan.offset[0] < 0 or plan.offset[1] < 0
    scaled = (even(plan.scaled[0], up=covers), even(plan.scaled[1], up=covers))
    if plan.scaled == plan.canvas:
        scaled = canvas
    offset = ((canvas[0] - scaled[0]) // 2, (canvas[1] - scaled[1]) // 2)
    return ResizePlan(scaled=scaled, canvas=canvas, offset=offset)


def shrink_resize(plan: ResizePlan, canvas: tuple[int, int]) -> ResizePlan:
    """`plan` scaled down onto a smaller `canvas` (each axis by its own factor): the same
    crop or padding as `plan`, so every rung of a ladder shows the same picture."""
    fx, fy = canvas[0] / plan.canvas[0], canvas[1] / plan.canvas[1]
    scaled = (max(1, round(plan.scaled[0] * fx)), max(1, round(plan.scaled[1] * fy)))
    offset = ((canvas[0] - scaled[0]) // 2, (canvas[1] - scaled[1]) // 2)
    return even_resize(ResizePlan(scaled=scaled, canvas=canvas, offset=offset))
