"""`video`: transcode to mp4 (H.264 or HEVC, AAC), webm (VP9, VP8 or AV1, Opus), av1 (AV1/AAC
in mp4) or cmaf (an adaptive ladder of H.264 or HEVC renditions in fMP4 segments with HLS
and DASH manifests)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from operators.base import Operator
from operators.catalog import EXTENSIONS, KINDS, MIMETYPES
from operators.geometry import plan_resize
from operators.options import VIDEO_CODECS, VideoOptions
from operators.plans import even_resize, plan_trim, shrink_resize
from pipeline.contract.errors import OPTION_OUT_OF_RANGE, TaskError
from pipeline.contract.media import Artifact, Asset, MediaInfo, MediaSource, Progress, no_progress
from pipeline.contract.plans import Encoded, Rendition, VideoPlan

# format -> (container, audio codec family); video codecs per format: options.VIDEO_CODECS
FORMATS = {
    "mp4": ("mp4", "aac"),
    "webm": ("webm", "opus"),
    "av1": ("mp4", "aac"),
    "cmaf": ("cmaf", "aac"),
}
AUDIO_BITRATE = {"aac": 128_000, "opus": 96_000}
# CMAF ladder: the requested (or input) size, then these heights below it.
LADDER_HEIGHTS = (1080, 720, 480, 360, 240, 144)
MAX_RENDITIONS = 4
# A lower rung's even width may miss the top rung's aspect ratio by this much; its sample
# aspect ratio then makes up the difference, so players show every rung at one shape.
ASPECT_TOLERANCE = 0.01
BITS_PER_PIXEL = 0.1  # ladder bitrate = width * height * fps * this (~2.8 Mbit/s at 720p30)
MIN_LADDER_BITRATE = 64_000
SEGMENT_SECONDS = 4.0
FALLBACK_FPS = 25.0


class VideoOperator(Operator):
    kind = "video"

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        config: VideoOptions = KINDS["video"].parse_options(options)
        info = source.info
        container, audio = FORMATS[config.format]
        codec = video_codec(config)
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
            "decoder": encoded.video_decoder,
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


def video_codec(config: VideoOptions) -> str:
    """The codec family: `codec` when the format can hold it, else the format's default."""
    allowed = VIDEO_CODECS[config.format]
    if config.codec is None:
        return allowed[0]
    if config.codec not in allowed:  # the API refuses these; callers that skip it get this
        raise TaskError(
            OPTION_OUT_OF_RANGE,
            f"codec {config.codec!r} does not fit format {config.format!r}; "
            f"allowed: {', '.join(allowed)}",
        )
    return config.codec


def renditions(info: MediaInfo, config: VideoOptions, fps: float) -> tuple[Rendition, ...]:
    assert info.width and info.height
    top = even_resize(plan_resize(info.width, info.height, config.width, config.height, config.fit))
    first = Rendition(top, quality=config.quality, bitrate=config.bitrate)
    if config.format != "cmaf":
        return (first,)
    lower = [
        Rendition(shrink_resize(top, size), sample_aspect=sample_aspect(top.canvas, size))
        for size in ladder_sizes(*top.canvas)
    ]
    return tuple(
        Rendition(
            r.resize,
            bitrate=r.bitrate or ladder_bitrate(r.width, r.height, fps),
            sample_aspect=r.sample_aspect,
        )
        for r in (first, *lower)
    )


def ladder_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """Sizes of the lower rungs below a `width` x `height` top rung: each of LADDER_HEIGHTS
    under `height` with the nearest even width (ties down), skipped when that width misses
    the top's aspect ratio by more than ASPECT_TOLERANCE (tiny or extreme shapes). Portrait
    tops (phone video) step down their short side, the width, the same way."""
    if width < height:
        return [(w, h) for h, w in ladder_sizes(height, width)]
    found: list[tuple[int, int]] = []
    for h in LADDER_HEIGHTS:
        if h >= height:
            continue
        exact = width * h / height
        w = 2 * math.ceil(exact / 2 - 0.5)
        if w >= 2 and abs(w / exact - 1) <= ASPECT_TOLERANCE:
            found.append((w, h))
    return found[: MAX_RENDITIONS - 1]


def sample_aspect(top: tuple[int, int], size: tuple[int, int]) -> Fraction:
    """The pixel shape that shows `size` at exactly the display aspect ratio of `top`
    (square-pixelled): 854x480 over 640x360 -> 1281:1280."""
    return Fraction(top[0] * size[1], top[1] * size[0])


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
            "codec": plan.codec,
            "audio_codec": plan.audio,
            "width": top.width,
            "height": top.height,
            "fps": round(plan.fps or fps, 3),
            "renditions": [
                {
                    "width": r.width,
                    "height": r.height,
                    "bitrate": r.bitrate,
                    "sample_aspect_ratio": f"{r.sample_aspect.numerator}:"
                    f"{r.sample_aspect.denominator}",
                }
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
