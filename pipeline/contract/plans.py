"""Encode plans: what an operator asks the media layer to write, as plain frozen data.

Operators decide sizes, codecs, trims and rates; the media layer (`pipeline.media.transcode`)
picks concrete encoders, runs PyAV and reports what it used in an `Encoded`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path


@dataclass(frozen=True)
class ResizePlan:
    """Scale the input to `scaled`, then crop (cover) or pad (contain) to `canvas`."""

    scaled: tuple[int, int]
    canvas: tuple[int, int]
    offset: tuple[int, int]  # where the scaled picture's top-left lands on the canvas


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
