"""Which encoder to use, and how to set it up: NVENC when it really opens, else CPU.

An encoder counts as usable only after a codec context for it opened here, once per
process (the answer is cached): PyAV wheels list NVENC encoders that fail without a GPU,
and A100/H100/H200 GPUs have none. Each choice is logged, fallbacks included.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import av.error

log = logging.getLogger(__name__)

# Codec family -> encoders in order of preference (hardware first).
VIDEO_ENCODERS: dict[str, tuple[str, ...]] = {
    "h264": ("h264_nvenc", "libx264"),
    "hevc": ("hevc_nvenc", "libx265"),
    "vp9": ("libvpx-vp9",),
    "vp8": ("libvpx",),
    "av1": ("av1_nvenc", "libsvtav1", "libaom-av1"),
}
AUDIO_ENCODERS: dict[str, str] = {
    "aac": "aac",
    "opus": "libopus",
    "mp3": "libmp3lame",
    "pcm": "pcm_s16le",
}
HARDWARE = ("h264_nvenc", "hevc_nvenc", "av1_nvenc")
# Sample entry tags for MP4/CMAF: Apple players open HEVC only under `hvc1`; FFmpeg writes
# `hev1` unless told.
CODEC_TAGS: dict[str, str] = {"hevc": "hvc1"}

# A probe frame size every encoder accepts (NVENC refuses very small pictures).
_PROBE_SIZE = (256, 144)


@dataclass(frozen=True)
class QualityScale:
    """How `quality` 1-100 maps onto an encoder's constant-quality option: 100 -> best."""

    option: str
    best: int
    worst: int

    def value(self, quality: int) -> int:
        return round(self.best + (self.worst - self.best) * (100 - quality) / 99)


QUALITY: dict[str, QualityScale] = {
    "libx264": QualityScale("crf", 12, 45),
    # x265 CRF n looks like x264 CRF n-5 (x265's default 28 ~ x264's 23).
    "libx265": QualityScale("crf", 17, 50),
    "libvpx-vp9": QualityScale("crf", 15, 55),
    "libvpx": QualityScale("crf", 4, 60),
    "libsvtav1": QualityScale("crf", 18, 58),
    "libaom-av1": QualityScale("crf", 18, 58),
    "h264_nvenc": QualityScale("cq", 15, 45),
    "hevc_nvenc": QualityScale("cq", 18, 48),  # HEVC looks better at one QP: 3 up, same look
    "av1_nvenc": QualityScale("cq", 18, 55),
}
DEFAULT_QUALITY = 70  # x264 CRF 22, x265 CRF 27, VP9 CRF 27, VP8 CRF 21, SVT-AV1 CRF 30
# VP8's CRF is constrained quality: it needs a bitrate, which rate control also spends on
# keyframes whatever the CRF. A ceiling of this many bits per pixel per frame (~8 Mbit/s at
# 720p30), at least the floor, plus qmin = CRF keeps the CRF in charge of the size.
VP8_CEILING_BITS_PER_PIXEL = 0.3
VP8_CEILING_FLOOR = 500_000

# Speed settings: what a 2-core worker sustains for real-time-or-better 720p.
SPEED: dict[str, dict[str, str]] = {
    "libx264": {"preset": "veryfast"},
    "libx265": {"preset": "veryfast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "good", "cpu-used": "5", "row-mt": "1"},
    "libvpx": {"deadline": "good", "cpu-used": "5"},
    "libsvtav1": {"preset": "10"},
    "libaom-av1": {"cpu-used": "8", "row-mt": "1"},
    "h264_nvenc": {"preset": "p4"},
    "hevc_nvenc": {"preset": "p4"},
    "av1_nvenc": {"preset": "p4"},
}


@functools.cache
def usable(name: str) -> bool:
    """Whether `name` exists in this PyAV build and really opens (cached per process)."""
    try:
        codec = av.codec.Codec(name, "w")
        context: Any = av.CodecContext.create(codec)
        if codec.type == "video":
            context.width, context.height = _PROBE_SIZE
            context.pix_fmt = "yuv420p"
            context.time_base = Fraction(1, 25)
            context.options = dict(SPEED.get(name, {}))  # as used (and x265's logging off)
        context.open()
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        log.debug("encoder %s does not open: %s", name, exc)
        return False
    return True


@functools.cache
def video_encoder(family: str) -> str:
    """The encoder for a codec family: the first usable one, logged with its fallbacks."""
    candidates = VIDEO_ENCODERS[family]
    for name in candidates:
        if usable(name):
            skipped = candidates[: candidates.index(name)]
            if skipped:
                log.info("%s: %s unavailable, using %s", family, ", ".join(skipped), name)
            else:
                log.info("%s: using %s", family, name)
            return name
    raise RuntimeError(f"no working {family} encoder in this PyAV build ({candidates})")


def hardware_report() -> dict[str, bool]:
    """Which NVENC encoders open on this machine (probed once per process)."""
    report = {name: usable(name) for name in HARDWARE}
    log.info("hardware encoders: %s", report)
    return report


def probe_at_start() -> dict[str, str]:
    """Probe once when a worker starts: log the hardware encoders and the encoder chosen for
    each codec family, so a missing NVENC shows in the worker's log before any task."""
    hardware_report()
    return {family: video_encoder(family) for family in VIDEO_ENCODERS}


def video_options(
    encoder: str, *, quality: int | None, bitrate: int | None, pixel_rate: float = 0.0
) -> dict[str, str]:
    """Encoder options for a target quality (constant quality) or a target bitrate.
    `pixel_rate` (width * height * fps) sizes VP8's bitrate ceiling."""
    options = dict(SPEED.get(encoder, {}))
    if bitrate is None:
        scale = QUALITY.get(encoder)
        if scale is not None:
            options[scale.option] = str(scale.value(quality or DEFAULT_QUALITY))
            if encoder == "libvpx-vp9":
                options["b"] = "0"  # constant quality, not constrained quality
            if encoder == "libvpx":
                ceiling = round(pixel_rate * VP8_CEILING_BITS_PER_PIXEL)
                options["b"] = str(max(VP8_CEILING_FLOOR, ceiling))
                options["qmin"] = options[scale.option]
    return options
