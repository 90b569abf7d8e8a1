"""Hardware video decode (NVDEC, through FFmpeg's CUDA hwaccel) when it really works here.

PyAV's wheels are built with the CUDA hwaccel, but it only works on a node with an NVIDIA
GPU and driver. So a worker decides once per process: it decodes a tiny H.264 clip with the
hardware decoder alone (no software fallback) and uses the hwaccel only when that gave the
right frames. Decoded frames are downloaded to system memory, so everything after the
decoder (filters, encoders, numpy) is unchanged. Each choice is logged.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
from av.codec.hwaccel import HWAccel, hwdevices_available

from pipeline.media.demuxers import input_options

log = logging.getLogger(__name__)

# Device types tried in order. CUDA covers NVDEC on every NVIDIA GPU, A100/H100/H200
# included (they have NVDEC though they have no NVENC).
DEVICE_TYPES = ("cuda",)
# `STROBE_HW_DECODE=0` keeps decoding on the CPU even where the probe passes.
DISABLE_ENV = "STROBE_HW_DECODE"
_PROBE_SIZE = (256, 144)  # NVDEC's minimum is 48x16 for H.264; keep well above it
_PROBE_FRAMES = 3


def hwaccel() -> HWAccel | None:
    """Settings for `av.open(..., hwaccel=...)`, or None to decode on the CPU. Streams the
    hardware cannot decode (codec, profile, size) fall back to software per stream."""
    device = hardware_decoder()
    return None if device is None else HWAccel(device, allow_software_fallback=True)


@functools.cache
def hardware_decoder() -> str | None:
    """The hwaccel device type that decoded the probe clip correctly, or None (cached)."""
    if os.environ.get(DISABLE_ENV, "1") == "0":
        log.info("hardware decode: off (%s=0)", DISABLE_ENV)
        return None
    available = set(hwdevices_available())
    with tempfile.TemporaryDirectory(prefix="strobe-hwprobe-") as tmp:
        clip = _probe_clip(Path(tmp) / "probe.mp4")
        for device in DEVICE_TYPES:
            if device not in available:
                log.info("hardware decode: %s not in this FFmpeg build", device)
                continue
            problem = _decode_problem(clip, device)
            if problem is None:
                log.info("hardware decode: using %s", device)
                return device
            log.info("hardware decode: %s unavailable (%s); decoding on the CPU", device, problem)
    return None


def _probe_clip(path: Path) -> Path:
    """A few frames of H.264 in mp4 (libx264 is always in PyAV's wheels)."""
    width, height = _PROBE_SIZE
    with av.open(str(path), "w") as output:
        stream: Any = output.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        for index in range(_PROBE_FRAMES):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([index * 40 % 256]) * plane.buffer_size)
            frame.pts = index
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def _decode_problem(clip: Path, device: str) -> str | None:
    """None when `device` decodes every probe frame at the right size in system memory."""
    try:
        accel = HWAccel(device, allow_software_fallback=False)
        with av.open(str(clip), options=input_options(), hwaccel=accel) as container:
            frames = list(container.decode(video=0))
            used = container.streams.video[0].codec_context.is_hwaccel
    except (av.error.FFmpegError, OSError, ValueError, RuntimeError) as exc:
        return str(exc) or type(exc).__name__
    if not used:
        return "the decoder did not use the device"
    if len(frames) != _PROBE_FRAMES:
        return f"decoded {len(frames)} of {_PROBE_FRAMES} frames"
    if any((f.width, f.height) != _PROBE_SIZE for f in frames):
        return "decoded frames have the wrong size"
    return None
