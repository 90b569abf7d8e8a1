"""The small contract every operator follows, and the types it trades in.

An operator is built from its options, loads what it needs once in `setup()`, and turns
one media input into one artifact in `process()`. It reads media only through the
`MediaSource` protocol, so it never touches PyAV, storage or the network itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np


class TaskError(Exception):
    """A task cannot finish; `code` is one of DESIGN.md's task error codes."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class Resources:
    """What one actor of an operator claims from Ray (fractions allowed)."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0


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

    def still(self, at: float | None = None) -> Still: ...


@dataclass(frozen=True)
class Artifact:
    """What an operator made: bytes plus the file name extension and MIME type to store them as."""

    data: bytes
    extension: str
    mimetype: str
    format: str


Progress = Callable[[float], None]
"""Called by operators with the fraction done, 0.0-1.0; cheap to call often."""


def no_progress(fraction: float) -> None:
    """The default progress sink: ignore."""


class Operator(ABC):
    kind: ClassVar[str]
    resources: ClassVar[Resources] = Resources()

    def setup(self) -> None:  # noqa: B027 - optional hook; most operators load nothing
        """Load models or probe hardware; called once per actor, before any task."""

    @abstractmethod
    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        """Turn one input into one artifact, or raise TaskError."""
