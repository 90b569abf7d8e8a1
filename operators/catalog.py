"""What each kind produces and which options it takes: pure data, cheap to import.

The API validates requests against this table; the workers run only kinds that have an
operator in `operators.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindSpec:
    kind: str
    object: str  # "source", "track" or "intelligence"
    formats: tuple[str, ...]  # first one is the default
    options: frozenset[str]


_COMMON = frozenset({"format", "filename"})
_TIME = frozenset({"start", "end", "duration"})
_SIZE = frozenset({"width", "height", "fit"})
_DETECT = _COMMON | _TIME | frozenset({"fps", "confidence"})

KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            "video",
            "source",
            ("mp4", "webm", "av1", "cmaf"),
            _COMMON | _TIME | _SIZE | {"fps", "quality", "bitrate", "codec"},
        ),
        KindSpec(
            "image",
            "source",
            ("jpeg", "png", "webp", "avif"),
            _COMMON | _SIZE | {"quality", "start"},
        ),
        KindSpec("audio", "source", ("mp3", "wav", "ogg"), _COMMON | _TIME | {"bitrate"}),
        KindSpec("objects", "intelligence", ("json",), _DETECT),
        KindSpec("faces", "intelligence", ("json",), _DETECT),
        KindSpec("text", "intelligence", ("json",), _DETECT),
        KindSpec("nsfw", "intelligence", ("json",), _DETECT),
        KindSpec("speech", "intelligence", ("json",), _COMMON | _TIME | {"language"}),
        KindSpec("subtitles", "track", ("vtt", "srt"), _COMMON | _TIME | {"language"}),
        KindSpec("outline", "intelligence", ("json",), _COMMON | {"language"}),
        KindSpec("chapters", "track", ("json", "vtt"), _COMMON | {"language"}),
        KindSpec(
            "thumbnails", "track", ("json",), _COMMON | _TIME | {"width", "count", "interval"}
        ),
    )
}

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
