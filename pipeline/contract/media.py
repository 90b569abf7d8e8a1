"""What operators read (`MediaSource`, `MediaInfo`, `Still`) and what they make (`Artifact`).

An operator reads media only through the `MediaSource` protocol, so it never touches PyAV,
storage or the network itself; the media layer implements it (`pipeline.media.MediaFile`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.contract.plans import AudioPlan, Encoded, VideoPlan


@dataclass(frozen=True)
class MediaInfo:
    container: str
    duration: float | None
    has_video: bool
    has_audio: bool
    is_image: bool
    width: int | None = None
    height: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    fps: float | None = None
    frames: int | None = None
    bitrate: int | None = None
    has_alpha: bool = False


@dataclass(frozen=True)
class Still:
    """One decoded picture: RGB or RGBA pixels (H x W x 3|4, uint8) and its time in seconds."""

    timestamp: float
    pixels: np.ndarray


class MediaSource(Protocol):
    @property
    def info(self) -> MediaInfo: ...

    @property
    def workdir(self) -> Path:
        """Scratch space for this task, removed when it ends: write large outputs here."""
        ...

    def still(self, at: float | None = None) -> Still: ...

    def frames(
        self, fps: float | None = None, start: float = 0.0, end: float | None = None
    ) -> Iterator[Still]:
        """Decoded RGB frames from `start` to `end`, sampled at `fps` (None: every frame).
        An image yields its one picture."""
        ...

    def encode_video(self, plan: VideoPlan, progress: Progress) -> Encoded:
        """Decode once, encode every rendition of `plan` into the workdir."""
        ...

    def encode_audio(self, plan: AudioPlan, progress: Progress) -> Encoded:
        """Encode the input's first audio stream as `plan` asks, into the workdir."""
        ...

    def audio(self, start: float = 0.0, end: float | None = None) -> np.ndarray:
        """The first audio stream from `start` to `end` seconds (None: to the end) for models:
        16 kHz mono float32 samples in -1..1. TaskError `no_audio_stream` when there is none."""
        ...


@dataclass(frozen=True)
class Asset:
    """A file stored beside the main output (an HLS segment, a sprite sheet, a VTT track).

    `name` is relative to the output's folder and may contain '/' (e.g. `720p/seg_001.m4s`),
    never '..'. Give `data` or a `path` inside the source's workdir.
    """

    name: str
    mimetype: str
    data: bytes | None = None
    path: Path | None = None


@dataclass(frozen=True)
class Artifact:
    """What an operator made: the main file (bytes or a path in the workdir), how to store it,
    and optionally assets beside it and summary fields for the output object.

    `media=True` means the main file is probed after writing and the output object carries
    what was probed (codec, size, duration …). In `summary`, the value of "urls" (a list)
    and of "links" (a dict) are asset names; the API turns them into download URLs.
    """

    extension: str
    mimetype: str
    format: str
    data: bytes | None = None
    path: Path | None = None
    media: bool = True
    assets: tuple[Asset, ...] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)


Progress = Callable[[float], None]
"""Called by operators with the fraction done, 0.0-1.0; cheap to call often."""


def no_progress(fraction: float) -> None:
    """The default progress sink: ignore."""
