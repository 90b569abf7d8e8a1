"""Each kind declared once: what it produces, which options it takes, the input streams it
needs, what an actor of it asks of a node, how long it may run and where its operator
lives. Pure data, cheap to import.

The API validates requests against this table and its schema lists these kinds and
formats; the executor checks an input's streams against `needs` before the operator runs;
the pool sizes actors from `resources`; the workers load each kind's operator from
`operator` (`operators.registry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from operators.options import (
    AudioOptions,
    DescriptionOptions,
    DetectOptions,
    ImageOptions,
    KindOptions,
    ThumbnailsOptions,
    TranscriptOptions,
    VideoOptions,
    WholeInputTranscriptOptions,
    parse,
)
from pipeline.contract.errors import NO_AUDIO_STREAM, NO_VIDEO_STREAM, TaskError
from pipeline.contract.media import MediaInfo
from pipeline.contract.resources import Resources


@dataclass(frozen=True)
class Budget:
    """How long one task of a kind may run, from the moment an actor takes it: the input's
    fetch (STROBE_FETCH_TIMEOUT), then `base_s` plus `per_media_s` for every second of
    media, times the sampling rate for kinds that take `fps` (one frame per second and up).
    Sized for CPU nodes with room to spare: a task over it is stuck, not slow."""

    base_s: float
    per_media_s: float
    per_sampled_fps: bool = False


class Needs(Enum):
    """The input stream a kind cannot run without (an input may have more)."""

    NOTHING = "nothing"
    PICTURE = "an image or a video stream"  # a still image will do
    SIZED_PICTURE = "an image or a video stream with a frame size"
    MOVING_PICTURE = "a video stream"  # a still image will not do
    SOUND = "an audio stream"

    def missing_from(self, info: MediaInfo) -> bool:
        if self is Needs.SOUND:
            return not info.has_audio
        if self is Needs.PICTURE:
            return not info.has_video
        if self is Needs.SIZED_PICTURE:
            return not info.has_video or not info.width or not info.height
        if self is Needs.MOVING_PICTURE:
            return not info.has_video or info.is_image or not info.width or not info.height
        return False


@dataclass(frozen=True)
class KindSpec:
    kind: str
    object: str  # "source", "track" or "intelligence"
    formats: tuple[str, ...]  # first one is the default
    options: type[KindOptions]  # their types, ranges and defaults (operators/options.py)
    budget: Budget
    operator: str  # "package.module:Class", imported only by the workers that run the kind
    needs: Needs = Needs.NOTHING
    # What one actor of the kind asks of a node; a GPU or custom resource is dropped where
    # no node has one (the CPU fallback, pipeline/runtime/placement.py).
    resources: Resources = field(default_factory=Resources)
    # The kinds whose outputs on the input's media it reads (`FINDINGS_OPTION`); in a
    # workflow such a step runs once every other step of the run has ended.
    reads_findings: tuple[str, ...] = ()

    @property
    def option_names(self) -> frozenset[str]:
        return self.options.names()

    def parse_options(self, options: Mapping[str, Any]) -> Any:
        """A task's stored options as the kind's model (`options.parse`), the format
        defaulting to the kind's first. Typed by the caller: `opts: VideoOptions = ...`."""
        return parse(self.options, {"format": self.formats[0], **options})

    def check_input(self, info: MediaInfo) -> None:
        """Refuse an input without the stream this kind needs: the one place that check is
        made, before the operator runs (pipeline/executor.py)."""
        if self.needs.missing_from(info):
            code = NO_AUDIO_STREAM if self.needs is Needs.SOUND else NO_VIDEO_STREAM
            raise TaskError(code, f"{self.kind} needs {self.needs.value}; the input has none")


# Where the runtime hands a kind with `reads_findings` those outputs: kind -> its JSON.
FINDINGS_OPTION = "findings"

# Budgets: a 720p x264 encode runs at ~4x real time on 2 cores (a CMAF ladder or AV1 far
# slower); OCR takes ~0.2 s a sampled frame; Whisper `small` on a CPU ~1x real time.
_ENCODE = Budget(base_s=120.0, per_media_s=8.0)
_DETECT_BUDGET = Budget(base_s=120.0, per_media_s=3.0, per_sampled_fps=True)
_TRANSCRIBE = Budget(base_s=180.0, per_media_s=4.0)
# Resources. The pool claims GPUs and custom resources only where the cluster has them.
# A quarter of a GPU lets four detection actors share one; on CPU half a core each.
_DETECTOR = Resources(num_cpus=0.5, num_gpus=0.25)
# Whisper uses every core it is given; on GPU nodes half a GPU (fp16 `turbo` is ~2 GB).
_TRANSCRIBER = Resources(num_cpus=1.0, num_gpus=0.5)
# Video encoders use every core they get: one actor per core keeps two tasks from thrashing;
# an NVENC session where a node advertises `nvenc` (L4-class), else CPU encoders.
_ENCODER = Resources(num_cpus=1.0, custom={"nvenc": 1})
# Encoding a still, audio or a sprite is short and mostly single-threaded: two share a core.
_LIGHT = Resources(num_cpus=0.5)

KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            "video",
            "source",
            ("mp4", "webm", "av1", "cmaf"),
            VideoOptions,
            _ENCODE,
            "operators.video:VideoOperator",
            needs=Needs.MOVING_PICTURE,
            resources=_ENCODER,
        ),
        KindSpec(
            "image",
            "source",
            ("jpeg", "png", "webp", "avif"),
            ImageOptions,
            Budget(base_s=120.0, per_media_s=0.0),
            "operators.image:ImageOperator",
            needs=Needs.PICTURE,
            resources=_LIGHT,
        ),
        KindSpec(
            "audio",
            "source",
            ("mp3", "wav", "ogg"),
            AudioOptions,
            Budget(base_s=120.0, per_media_s=1.0),
            "operators.audio:AudioOperator",
            needs=Needs.SOUND,
            resources=_LIGHT,
        ),
        KindSpec(
            "objects",
            "intelligence",
            ("json",),
            DetectOptions,
            _DETECT_BUDGET,
            "operators.objects:ObjectsOperator",
            needs=Needs.PICTURE,
            resources=_DETECTOR,
        ),
        KindSpec(
            "faces",
            "intelligence",
            ("json",),
            DetectOptions,
            _DETECT_BUDGET,
            "operators.faces:FacesOperator",
            needs=Needs.PICTURE,
            resources=_LIGHT,  # OpenCV's cascade and DNN module run on CPU: no GPU
        ),
        KindSpec(
            "text",
            "intelligence",
            ("json",),
            DetectOptions,
            _DETECT_BUDGET,
            "operators.text:TextOperator",
            needs=Needs.PICTURE,
            resources=_DETECTOR,
        ),
        KindSpec(
            "nsfw",
            "intelligence",
            ("json",),
            DetectOptions,
            _DETECT_BUDGET,
            "operators.nsfw:NsfwOperator",
            needs=Needs.PICTURE,
            resources=_DETECTOR,
        ),
        KindSpec(
            "speech",
            "intelligence",
            ("json",),
            TranscriptOptions,
            _TRANSCRIBE,
            "operators.speech:SpeechOperator",
            needs=Needs.SOUND,
            resources=_TRANSCRIBER,
        ),
        KindSpec(
            "subtitles",
            "track",
            ("vtt", "srt"),
            TranscriptOptions,
            _TRANSCRIBE,
            "operators.subtitles:SubtitlesOperator",
            needs=Needs.SOUND,
            resources=_TRANSCRIBER,
        ),
        KindSpec(
            "outline",
            "intelligence",
            ("json",),
            WholeInputTranscriptOptions,
            _TRANSCRIBE,
            "operators.outline:OutlineOperator",
            needs=Needs.SOUND,
            resources=_TRANSCRIBER,
        ),
        # Chapters decode every frame for scene cuts, then transcribe.
        KindSpec(
            "chapters",
            "track",
            ("json", "vtt"),
            WholeInputTranscriptOptions,
            _TRANSCRIBE,
            "operators.chapters:ChaptersOperator",
            needs=Needs.MOVING_PICTURE,
            resources=_TRANSCRIBER,
        ),
        # Extractive: assembled from the other kinds' outputs, no model, no decoding.
        KindSpec(
            "description",
            "intelligence",
            ("json",),
            DescriptionOptions,
            Budget(base_s=60.0, per_media_s=0.0),
            "operators.description:DescriptionOperator",
            resources=_LIGHT,
            reads_findings=("speech", "text", "objects", "faces", "chapters", "outline", "nsfw"),
        ),
        KindSpec(
            "thumbnails",
            "track",
            ("json",),
            ThumbnailsOptions,
            Budget(base_s=120.0, per_media_s=1.0),
            "operators.thumbnails:ThumbnailsOperator",
            needs=Needs.SIZED_PICTURE,
            resources=_LIGHT,
        ),
    )
}

KIND_NAMES = tuple(KINDS)
FORMAT_NAMES = tuple(dict.fromkeys(f for spec in KINDS.values() for f in spec.formats))


# Formats that name one kind, so `{"format": "jpeg"}` alone means an image task.
FORMAT_KIND: dict[str, str] = {
    fmt: spec.kind for spec in KINDS.values() if spec.object == "source" for fmt in spec.formats
}
FORMAT_ALIASES = {"jpg": "jpeg"}

EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
MIMETYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}
EXTENSIONS |= {
    "mp4": "mp4",
    "webm": "webm",
    "av1": "mp4",
    "cmaf": "m3u8",
    "mp3": "mp3",
    "wav": "wav",
    "ogg": "ogg",
}
MIMETYPES |= {
    "mp4": "video/mp4",
    "webm": "video/webm",
    "av1": "video/mp4",
    "cmaf": "application/vnd.apple.mpegurl",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
}


def format_for_extension(filename: str) -> str | None:
    """`poster.jpg` -> `jpeg`: the format a filename's extension asks for, if any."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    ext = FORMAT_ALIASES.get(ext, ext)
    return ext if ext in FORMAT_KIND else None
