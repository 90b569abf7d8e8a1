"""Inputs for transcode tests, and decoding outputs back to check them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.support.media import write_video


@dataclass(frozen=True)
class Decoded:
    """What decoding a whole file found."""

    container: str
    video_codec: str | None
    audio_codec: str | None
    sizes: frozenset[tuple[int, int]]
    frames: int
    first: float | None  # first and last video frame times
    last: float | None
    fps: float | None
    audio_seconds: float
    first_level: float | None  # mean luma of the first and last frames
    last_level: float | None

    @property
    def size(self) -> tuple[int, int]:
        (only,) = self.sizes
        return only

    @property
    def video_seconds(self) -> float:
        assert self.first is not None and self.last is not None and self.fps
        return self.last - self.first + 1 / self.fps


def decode_all(path: Path) -> Decoded:
    with av.open(str(path)) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        times: list[float] = []
        sizes: set[tuple[int, int]] = set()
        levels: list[float] = []
        samples = 0
        for frame in container.decode(*(s for s in (video, audio) if s is not None)):
            if isinstance(frame, av.VideoFrame):
                times.append(float(frame.time or 0.0))
                sizes.add((frame.width, frame.height))
                levels.append(float(frame.to_ndarray(format="gray").mean()))
            else:
                samples += frame.samples
        rate = audio.codec_context.sample_rate if audio is not None else 0
        return Decoded(
            container=container.format.name,
            video_codec=video.codec_context.codec.canonical_name if video else None,
            audio_codec=audio.codec_context.codec.canonical_name if audio else None,
            sizes=frozenset(sizes),
            frames=len(times),
            first=min(times) if times else None,
            last=max(times) if times else None,
            fps=float(video.average_rate) if video is not None and video.average_rate else None,
            audio_seconds=samples / rate if rate else 0.0,
            first_level=levels[0] if levels else None,
            last_level=levels[-1] if levels else None,
        )


def make_vfr_video(path: Path, *, width: int = 160, height: int = 90) -> Path:
    """H.264 in mp4 with irregular frame intervals (40, 80, 20, 120 … ms), 2 s long."""
    gaps_ms = [40, 80, 20, 120, 40, 60]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=50)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        pts, index = 0, 0
        while pts < 2000:
            pixels = np.full((height, width, 3), min(255, pts // 8), np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
            pts += gaps_ms[index % len(gaps_ms)]
            index += 1
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_noise_video(
    path: Path, *, width: int = 160, height: int = 90, seconds: float = 1.0
) -> Path:
    """Random pixels: every bit of bitrate shows in the file size."""
    rng = np.random.default_rng(3)
    fps = 25
    pictures = (
        rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(int(seconds * fps))
    )
    options = {"crf": "10", "preset": "ultrafast"}
    return write_video(path, pictures, width=width, height=height, fps=fps, options=options)


def make_panning_video(
    path: Path, *, width: int = 192, height: int = 108, seconds: float = 1.0
) -> Path:
    """A slow pan across a photo (scikit-image's astronaut), losslessly stored: detail that
    compresses the way footage does, so quality settings show in the size (on noise every
    encoder runs into its bitrate limits instead)."""
    import skimage.data

    photo = skimage.data.astronaut()  # 512x512 RGB
    fps = 25
    pictures = (
        photo[100 + index : 100 + index + 2 * height : 2, 2 * index :][:, : 2 * width : 2]
        for index in range(int(seconds * fps))
    )
    return write_video(path, pictures, width=width, height=height, fps=fps, codec="ffv1")


def playlist_entries(playlist: Path) -> list[str]:
    """URIs a playlist names: variant/media lines and URI="…" attributes, in order."""
    names: list[str] = []
    for line in playlist.read_text().splitlines():
        names += re.findall(r'URI="([^"]+)"', line)
        if line and not line.startswith("#"):
            names.append(line.strip())
    return names


def resolutions(master: Path) -> list[tuple[int, int]]:
    found = re.findall(r"RESOLUTION=(\d+)x(\d+)", master.read_text())
    return [(int(w), int(h)) for w, h in found]


MARK = (255, 0, 0)  # the patch make_turned_video paints in the stored picture's top-left


def make_turned_video(
    path: Path, *, rotation: int, width: int = 320, height: int = 180, seconds: float = 0.4
) -> Path:
    """A phone-style video: a `width` x `height` H.264 stream with a display matrix that
    turns it `rotation` degrees counter-clockwise (as FFmpeg and PyAV count them), gray
    with a red patch in the top-left corner of the stored picture."""
    fps = 25
    pixels = np.full((height, width, 3), 96, np.uint8)
    pixels[: height // 4, : width // 4] = MARK
    pictures = [pixels] * int(seconds * fps)
    return write_video(path, pictures, width=width, height=height, fps=fps, rotation=rotation)


def marked_corner(pixels: np.ndarray) -> str:
    """Which corner of an RGB picture holds the red patch: "top-left", "bottom-right" …"""
    height, width = pixels.shape[:2]
    corners = {
        "top-left": pixels[height // 16, width // 16],
        "top-right": pixels[height // 16, -width // 16],
        "bottom-left": pixels[-height // 16, width // 16],
        "bottom-right": pixels[-height // 16, -width // 16],
    }
    red = [name for name, (r, g, b) in corners.items() if r > 180 and g < 80 and b < 80]
    assert len(red) == 1, corners
    return red[0]


def first_picture(path: Path) -> tuple[np.ndarray, int]:
    """The first video frame as RGB pixels, and the display rotation it still carries."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24"), frame.rotation


def pixel_aspect(path: Path) -> Fraction:
    """The sample aspect ratio a player applies to the first video stream (1 when unset)."""
    with av.open(str(path)) as container:
        return container.streams.video[0].sample_aspect_ratio or Fraction(1)
