"""`video`: transcode to mp4 (H.264/AAC), webm (VP9/Opus), av1 (AV1/AAC in mp4) or cmaf
(an adaptive ladder of H.264 renditions in fMP4 segments with HLS and DASH manifests)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from operators.base import (
    Artifact,
    Asset,
    MediaInfo,
    MediaSource,
    Operator,
    Progress,
    Resources,
    TaskError,
    no_progress,
)
from operators.catalog import EXTENSIONS, MIMETYPES
from operators.geometry import plan_resize
from operators.plans import Encoded, Rendition, VideoPlan, even_resize, plan_trim

# format -> (container, video codec family, audio codec family)
FORMATS = {
    "mp4": ("mp4", "h264", "aac"),
    "webm": ("webm", "vp9", "opus"),
    "av1": ("mp4", "av1", "aac"),
    "cmaf": ("cmaf", "h264", "aac"),
}
AUDIO_BITRATE = {"aac": 128_000, "opus": 96_000}
# CMAF ladder: the requested (or input) size, then these heights below it.
LADDER_HEIGHTS = (1080, 720, 480, 360, 240, 144)
MAX_RENDITIONS = 4
RUNG_TOLERANCE = 0.9  # a rung may sit this far below its nominal height
BITS_PER_PIXEL = 0.1  # ladder bitrate = width * height * fps * this (~2.8 Mbit/s at 720p30)
MIN_LADDER_BITRATE = 64_000
SEGMENT_SECONDS = 4.0
FALLBACK_FPS = 25.0


@dataclass(frozen=True)
class VideoConfig:
    format: str = "mp4"
    width: int | None = None
    height: int | None = None
    fit: str | None = None
    fps: float | None = None
    start: float | None = None
    end: float | None = None
    duration: float | None = None
    quality: int | None = None
    bitrate: int | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> VideoConfig:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in options.items() if k in names and v is not None})


class VideoOperator(Operator):
    kind = "video"
    # Encoders use every core they get; one actor per core keeps two tasks from thrashing.
    # An NVENC session where a node advertises `nvenc` (L4-class); else CPU encoders.
    resources = Resources(num_cpus=1.0, custom={"nvenc": 1})

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        config = VideoConfig.from_options(options)
        info = source.info
        if not info.has_video or info.is_image or not info.width or not info.height:
            raise TaskError("no_video_stream", "the input has no video stream")
        container, codec, audio = FORMATS[config.format]
        fps = config.fps or info.fps or FALLBACK_FPS
        plan = VideoPlan(
            container=container,
            codec=codec,
            renditions=renditions(info, config, fps),
            audio=audio if info.has_audio else None,
            audio_bitrate=AUDIO_BITRATE[audio],
            trim=plan_trim(config.start, config.end, config.duration, info.duration),
            fps=config.fps,
            segment_seconds=SEGMENT_SECONDS,
        )
        encoded = source.encode_video(plan, progress)
        summary: dict[str, Any] = {
            "encoder": encoded.video_encoder,
            "audio_encoder": encoded.audio_encoder,
        }
        if container != "cmaf":
            return Artifact(
                extension=EXTENSIONS[config.format],
                mimetype=MIMETYPES[config.format],
                format=config.format,
                path=encoded.path,
                summary=summary,
            )
        end = plan.trim.end if plan.trim.end is not None else info.duration
        summary["duration"] = None if end is None else round(end - plan.trim.start, 3)
        return cmaf_artifact(encoded, plan, fps, summary)


def renditions(info: MediaInfo, config: VideoConfig, fps: float) -> tuple[Rendition, ...]:
    assert info.width and info.height
    top = even_resize(plan_resize(info.width, info.height, config.width, config.height, config.fit))
    first = Rendition(top, quality=config.quality, bitrate=config.bitrate)
    if config.format != "cmaf":
        return (first,)
    width, height = top.canvas
    lower = [
        Rendition(even_resize(plan_resize(width, height, width * h // height, h, "fill")))
        for h in ladder_heights(width, height)
    ]
    return tuple(
        Rendition(r.resize, bitrate=r.bitrate or ladder_bitrate(r.width, r.height, fps))
        for r in (first, *lower)
    )


def ladder_heights(width: int, height: int) -> list[int]:
    """Heights below `height` for the lower rungs, each with an even width of exactly the
    same aspect ratio (DASH players switch only between renditions of one aspect): the
    largest such height at or below each of LADDER_HEIGHTS, skipped when over 10% lower."""
    step = 2 * height // math.gcd(width, height)  # heights that give whole, even widths
    step = step if (width * step // height) % 2 == 0 else 2 * step
    found: list[int] = []
    for target in LADDER_HEIGHTS:
        h = target // step * step
        if 0 < h < height and h >= RUNG_TOLERANCE * target and h not in found:
            found.append(h)
    return found[: MAX_RENDITIONS - 1]


def ladder_bitrate(width: int, height: int, fps: float) -> int:
    return max(MIN_LADDER_BITRATE, round(width * height * fps * BITS_PER_PIXEL))


def cmaf_artifact(
    encoded: Encoded, plan: VideoPlan, fps: float, summary: dict[str, Any]
) -> Artifact:
    """The HLS master playlist is the main file; segments, media playlists, the DASH
    manifest and a copy of the master (so `links.hls` resolves) go beside it."""
    folder = encoded.path.parent
    assets = tuple(
        Asset(name=path.relative_to(folder).as_posix(), mimetype=_mimetype(path.name), path=path)
        for path in encoded.files
    )
    top = plan.renditions[0]
    return Artifact(
        extension=EXTENSIONS["cmaf"],
        mimetype=MIMETYPES["cmaf"],
        format="cmaf",
        path=encoded.path,
        media=False,
        assets=assets,
        summary={
            **summary,
            "container": "cmaf",
            "codec": "h264",
            "audio_codec": plan.audio,
            "width": top.width,
            "height": top.height,
            "fps": round(plan.fps or fps, 3),
            "renditions": [
                {"width": r.width, "height": r.height, "bitrate": r.bitrate}
                for r in plan.renditions
            ],
            "links": {"hls": encoded.path.name, "dash": _named(encoded, ".mpd")},
        },
    )


def _named(encoded: Encoded, suffix: str) -> str:
    return next(p.name for p in encoded.files if p.suffix == suffix)


def _mimetype(name: str) -> str:
    if name.endswith(".m3u8"):
        return MIMETYPES["cmaf"]
    if name.endswith(".mpd"):
        return "application/dash+xml"
    return "video/mp4" if name.startswith("init") else "video/iso.segment"
