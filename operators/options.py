"""Each option's type and range, declared once, and each kind's options as a typed model.

The request schema (`pipeline/api/schemas.py`) builds its option fields from the types
below, so the API, its OpenAPI schema and the operators agree on every range. A kind's model
(its `KindSpec.options` in the catalog) names the options the kind takes, with the defaults
its operator applies; an operator reads its options through it (`KindSpec.parse_options`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.contract.errors import OPTION_OUT_OF_RANGE, TaskError

# Video codecs each video format can hold; the first one is the default.
VIDEO_CODECS: dict[str, tuple[str, ...]] = {
    "mp4": ("h264", "hevc"),
    "webm": ("vp9", "vp8", "av1"),
    "av1": ("av1",),
    "cmaf": ("h264", "hevc"),
}
CODEC_NAMES = tuple(dict.fromkeys(c for codecs in VIDEO_CODECS.values() for c in codecs))

MAX_DIMENSION = 8192
MAX_SECONDS = 86_400
MAX_FILENAME = 255

Width = Annotated[int, Field(ge=1, le=MAX_DIMENSION, description="Pixels")]
Height = Annotated[int, Field(ge=1, le=MAX_DIMENSION, description="Pixels")]
Fit = Literal["contain", "cover", "fill"]
Quality = Annotated[int, Field(ge=1, le=100, description="1 (smallest) to 100 (best)")]
Bitrate = Annotated[int, Field(ge=1_000, le=200_000_000, description="Bits per second")]
Fps = Annotated[float, Field(gt=0, le=240, description="Frames per second")]
Start = Annotated[float, Field(ge=0, le=MAX_SECONDS, description="Seconds into the input")]
End = Annotated[float, Field(gt=0, le=MAX_SECONDS, description="Seconds into the input")]
Duration = Annotated[float, Field(gt=0, le=MAX_SECONDS, description="Seconds")]
Confidence = Annotated[float, Field(ge=0, le=1, description="The lowest score reported")]
Language = Annotated[
    str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$", description="A language code")
]
Count = Annotated[int, Field(ge=1, le=1000)]
if TYPE_CHECKING:  # mypy sees a string; pydantic the names (which depend on the format)
    Codec = str
else:
    Codec = Annotated[
        Literal[CODEC_NAMES], Field(description="Video codec; which ones depends on format")
    ]
Interval = Annotated[float, Field(gt=0, le=3600, description="Seconds between two")]
Filename = Annotated[str, Field(min_length=1, max_length=MAX_FILENAME)]


class KindOptions(BaseModel):
    """The options of one kind, with its operator's defaults. Unknown names are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Stored with a task's options but not options of its operator (see the API's schemas).
    LABELS: ClassVar[tuple[str, ...]] = ("ref", "folder")

    format: str = ""  # "": the kind's first format (KindSpec.parse_options fills it in)
    filename: Filename | None = None

    @classmethod
    def names(cls) -> frozenset[str]:
        return frozenset(cls.model_fields)


Model = TypeVar("Model", bound=KindOptions)


def parse(model: type[Model], options: Mapping[str, Any]) -> Model:
    """A task's stored options as `model`, with its defaults. The API checked them when the
    task was created; options it never saw (a task from an older release, a direct call)
    that do not fit end the task `option_out_of_range`, naming the option."""
    given = {k: v for k, v in options.items() if k not in KindOptions.LABELS}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "options"
        raise TaskError(OPTION_OUT_OF_RANGE, f"option {name}: {first['msg']}") from None


class _Span(KindOptions):
    """A part of the input: from `start`, to `end` or for `duration` (not both)."""

    start: Start | None = None
    end: End | None = None
    duration: Duration | None = None


class ImageOptions(KindOptions):
    width: Width | None = None
    height: Height | None = None
    fit: Fit | None = None  # None: cover (operators/geometry.py)
    quality: Quality = 80
    start: Start | None = None  # which frame of a video


class VideoOptions(_Span):
    width: Width | None = None
    height: Height | None = None
    fit: Fit | None = None
    fps: Fps | None = None  # None: the input's
    quality: Quality | None = None  # None: the encoder's default (70)
    bitrate: Bitrate | None = None  # replaces quality
    codec: Codec | None = None  # None: the format's first (VIDEO_CODECS)


class AudioOptions(_Span):
    bitrate: Bitrate | None = None  # None: the format's default


class DetectOptions(_Span):
    fps: Fps = 1.0  # frames sampled per second
    confidence: Confidence = 0.5


class TranscriptOptions(_Span):
    language: Language | None = None  # None: detected


class WholeInputTranscriptOptions(KindOptions):
    language: Language | None = None


class DescriptionOptions(KindOptions):
    """No options: what it describes is the input's media and what other kinds found on it."""


class ThumbnailsOptions(_Span):
    width: Width = 160
    count: Count | None = None  # None: 10, unless `interval` is given
    interval: Interval | None = None
