"""More test inputs: audio-only files, stripes, oversized and broken files, RGBA decoding."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import av
import numpy as np
from PIL import Image

# Four vertical stripes, left to right: a crop, a pad and a stretch each move them differently.
STRIPES = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255))


def steep_ramp(t: float) -> tuple[int, int, int]:
    """Gray level 100 * t (capped at 255): neighbouring frames at 25 fps differ by 4 levels."""
    level = min(255, round(t * 100))
    return (level, level, level)


def level_time(level: float) -> float:
    """The time `steep_ramp` encoded into a gray level."""
    return level / 100


def make_audio(path: Path, *, seconds: float = 1.0, codec: str = "aac", rate: int = 48000) -> Path:
    """An audio-only file (a 440 Hz tone); the container follows the file's extension."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        assert isinstance(stream, av.AudioStream)
        samples_per_frame = 1024
        total = int(seconds * rate)
        for start in range(0, total, samples_per_frame):
            t = np.arange(start, min(total, start + samples_per_frame)) / rate
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            fmt = "fltp" if codec == "aac" else "flt"
            frame = av.AudioFrame.from_ndarray(tone, format=fmt, layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_stripes(
    path: Path, *, width: int = 400, height: int = 300, fmt: str | None = None
) -> Path:
    """`STRIPES` as four equal vertical bands (width must be a multiple of 4)."""
    pixels = np.zeros((height, width, 3), np.uint8)
    band = width // len(STRIPES)
    for index, color in enumerate(STRIPES):
        pixels[:, index * band : (index + 1) * band] = color
    Image.fromarray(pixels, "RGB").save(path, fmt)
    return path


def make_png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height but whose data holds one black row.

    A few hundred bytes on disk: anything that trusts the header without decoding can
    read its size cheaply; anything that decodes it allocates the full picture.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    data = zlib.compress(b"\0" * (width * 3 + 1))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


def truncated_copy(source: Path, dest: Path, fraction: float = 0.5) -> Path:
    """The first `fraction` of `source`'s bytes, as a download cut short would leave them."""
    data = source.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest


def decode_rgba(path: Path) -> np.ndarray:
    """Decode the first picture of a file with PyAV to RGBA pixels (opaque if it has no alpha)."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgba")


def codec_of(path: Path) -> str:
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.name
