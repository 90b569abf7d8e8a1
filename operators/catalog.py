"""Each kind declared once: what it produces, which options it takes, how long it may run
and where its operator lives. Pure data, cheap to import.

The API validates requests against this table and its schema lists these kinds and
formats; the workers load each kind's operator from `operator` (`operators.registry`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """How long one task of a kind may run, from the moment an actor takes it: the input's
    fetch (STROBE_FETCH_TIMEOUT), then `base_s` plus `per_media_s` for every second of
    media, times the sampling rate for kinds that take `fps` (one frame per second and up).
    Sized for CPU nodes with room to spare: a task over it is stuck, not slow."""

    base_s: float
    per_media_s: float
    per_sampled_fps: bool = False


@dataclass(frozen=True)
class KindSpec:
    kind: str
    object: str  # "source", "track" or "intelligence"
    formats: tuple[str, ...]  # first one is the default
    options: frozenset[str]
    budget: Budget
    operator: str  # "package.module:Class", imported only by the workers that run the kind


_COMMON = frozenset({"format", "filename"})
_TIME = frozenset({"start", "end", "duration"})
_SIZE = frozenset({"width", "height", "fit"})
_DETECT = _COMMON | _TIME | frozenset({"fps", "confidence"})
# Budgets: a 720p x264 encode runs at ~4x real time on 2 cores (a CMAF ladder or AV1 far
# slower); OCR takes ~0.2 s a sampled frame; Whisper `small` on a CPU ~1x real time.
_ENCODE = Budget(base_s=120.0, per_media_s=8.0)
_DETECT_BUDGET = Budget(base_s=120.0, per_media_s=3.0, per_sampled_fps=True)
_TRANSCRIBE = Budget(base_s=180.0, per_media_s=4.0)

KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            "video",
            "source",
            ("mp4", "webm", "av1", "cmaf"),
            _COMMON | _TIME | _SIZE | {"fps", "quality", "bitrate", "codec"},
            _ENCODE,
            "operators.video:VideoOperator",
        ),
        KindSpec(
            "image",
            "source",
            ("jpeg", "png", "webp", "avif"),
            _COMMON | _SIZE | {"quality", "start"},
            Budget(base_s=120.0, per_media_s=0.0),
            "operators.image:ImageOperator",
        ),
        KindSpec(
            "audio",
            "source",
            ("mp3", "wav", "ogg"),
            _COMMON | _TIME | {"bitrate"},
            Budget(base_s=120.0, per_media_s=1.0),
            "operators.audio:AudioOperator",
        ),
        KindSpec(
            "objects",
            "intelligence",
            ("json",),
            _DETECT,
            _DETECT_BUDGET,
            "operators.objects:ObjectsOperator",
        ),
        KindSpec(
            "faces",
            "intelligence",
            ("json",),
            _DETECT,
            _DETECT_BUDGET,
            "operators.faces:FacesOperator",
        ),
        KindSpec(
            "text",
            "intelligence",
            ("json",),
            _DETECT,
            _DETECT_BUDGET,
            "operators.text:TextOperator",
        ),
        KindSpec(
            "nsfw",
            "intelligence",
            ("json",),
            _DETECT,
            _DETECT_BUDGET,
            "operators.nsfw:NsfwOperator",
        ),
        KindSpec(
            "speech",
            "intelligence",
            ("json",),
            _COMMON | _TIME | {"language"},
            _TRANSCRIBE,
            "operators.speech:SpeechOperator",
        ),
        KindSpec(
            "subtitles",
            "track",
            ("vtt", "srt"),
            _COMMON | _TIME | {"language"},
            _TRANSCRIBE,
            "operators.subtitles:SubtitlesOperator",
        ),
        KindSpec(
            "outline",
            "intelligence",
            ("json",),
            _COMMON | {"language"},
            _TRANSCRIBE,
            "operators.outline:OutlineOperator",
        ),
        # Chapters decode every frame for scene cuts, then transcribe.
        KindSpec(
            "chapters",
            "track",
            ("json", "vtt"),
            _COMMON | {"language"},
            _TRANSCRIBE,
            "operators.chapters:ChaptersOperator",
        ),
        KindSpec(
            "thumbnails",
            "track",
            ("json",),
            _COMMON | _TIME | {"width", "count", "interval"},
            Budget(base_s=120.0, per_media_s=1.0),
            "operators.thumbnails:ThumbnailsOperator",
        ),
    )
}

KIND_NAMES = tuple(KINDS)
FORMAT_NAMES = tuple(dict.fromkeys(f for spec in KINDS.values() for f in spec.formats))

# Video codecs each video format can hold; the first one is the default.
VIDEO_CODECS: dict[str, tuple[str, ...]] = {
    "mp4": ("h264", "hevc"),
    "webm": ("vp9", "vp8", "av1"),
    "av1": ("av1",),
    "cmaf": ("h264", "hevc"),
}

# Formats that name one kind, so `{"format": "jpeg"}` alone means an image task.
FORMAT_KIND: dict[str, str] = {
    fmt: spec.kind for spec in KINDS.values() if spec.object == "source" for fmt in spec.formats
}
FORMAT_ALIASES = {"jpg": "jpeg"}
CODEC_NAMES = tuple(dict.fromkeys(c for codecs in VIDEO_CODECS.values() for c in codecs))

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
