"""Make real media for tests with PyAV and Pillow."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

ColorAt = Callable[[float], tuple[int, int, int]]


def gray_ramp(t: float) -> tuple[int, int, int]:
    """A color that changes with time, so a frame's time can be read back from its pixels."""
    level = int(t * 20) % 256
    return (level, level, level)


SCENE_CUTS = (4.0, 9.0)  # where `three_scenes` cuts, in seconds
SCENES_SECONDS = 13.0  # a length that gives each of its scenes a chapter


def three_scenes(t: float) -> tuple[int, int, int]:
    """Red, then blue, then green-yellow; each scene's brightness drifts slowly (no cut)."""
    drift = int(30 * (t % 4.0) / 4.0)
    if t < SCENE_CUTS[0]:
        return (200 + drift // 2, 30 + drift, 30)
    if t < SCENE_CUTS[1]:
        return (20, 40 + drift, 200 + drift // 2)
    return (120 + drift, 220, 40)


def make_video(
    path: Path,
    *,
    width: int = 320,
    height: int = 180,
    seconds: float = 3.0,
    fps: int = 25,
    audio: bool = False,
    color_at: ColorAt = gray_ramp,
    codec: str = "libx264",
    gop: int | None = None,
) -> Path:
    """An H.264 (and optionally AAC) file whose frame at time t is filled with color_at(t).

    `gop` sets the keyframe interval in frames (the encoder's default when None).
    """
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if gop is not None:
            stream.codec_context.gop_size = gop
        audio_stream = container.add_stream("aac", rate=48000) if audio else None
        frames = int(round(seconds * fps))
        for index in range(frames):
            t = index / fps
            pixels = np.empty((height, width, 3), np.uint8)
            pixels[:] = color_at(t)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio_stream is not None:
            _write_tone(container, audio_stream, seconds)
    return path


def write_video(
    path: Path,
    pictures: Iterable[np.ndarray],
    *,
    width: int,
    height: int,
    fps: int,
    codec: str = "libx264",
    options: Mapping[str, str] | None = None,
    rotation: int | None = None,
) -> Path:
    """Encode RGB pictures (height x width x 3, uint8), one frame each at `fps`, into a
    video-only file; `rotation` stores a display matrix (degrees counter-clockwise)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if options:
            stream.codec_context.options = dict(options)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for index, pixels in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _write_tone(
    container: av.container.OutputContainer, stream: av.AudioStream, seconds: float
) -> None:
    rate, samples_per_frame = 48000, 1024
    total = int(seconds * rate)
    for start in range(0, total, samples_per_frame):
        t = (np.arange(start, min(total, start + samples_per_frame)) / rate).astype(np.float32)
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def make_image(
    path: Path, *, width: int = 400, height: int = 300, mode: str = "RGB", fmt: str | None = None
) -> Path:
    """A picture with a red left half and a blue right half (alpha 50% on the right if RGBA)."""
    pixels = np.zeros((height, width, 4 if mode == "RGBA" else 3), np.uint8)
    pixels[:, : width // 2, 0] = 255
    pixels[:, width // 2 :, 2] = 255
    if mode == "RGBA":
        pixels[:, : width // 2, 3] = 255
        pixels[:, width // 2 :, 3] = 128
    Image.fromarray(pixels, mode).save(path, fmt)
    return path


def decode_picture(path: Path) -> np.ndarray:
    """Decode an image file with PyAV (not Pillow) to RGB pixels."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")
