"""Inputs for the detection kinds: real photos (scikit-image ships them), text rendered
with a TrueType font, and a video whose caption shows for a known time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tests.support.media import write_video

# Debian's fonts-dejavu-core (.ci/system-deps installs it).
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def font(size: int) -> ImageFont.FreeTypeFont:
    if not FONT.is_file():
        raise RuntimeError(f"{FONT} is missing: apt-get install -y fonts-dejavu-core")
    return ImageFont.truetype(str(FONT), size)


def photo(name: str, path: Path) -> Path:
    """scikit-image's `astronaut`, `coffee`, `chelsea` … saved as PNG."""
    import skimage.data

    Image.fromarray(getattr(skimage.data, name)()).save(path)
    return path


def text_picture(lines: list[str], width: int = 640, height: int = 200) -> Image.Image:
    picture = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(picture)
    step = height // (len(lines) + 1)
    for row, line in enumerate(lines):
        draw.text((24, step * (row + 1) - 24), line, fill="black", font=font(40))
    return picture


def caption_video(
    path: Path, caption: str, *, shown: tuple[float, float], seconds: float = 6.0, fps: int = 10
) -> Path:
    """640x360 H.264: a gray background, with `caption` in white on black from shown[0] up to
    (not including) shown[1] seconds."""
    blank = Image.new("RGB", (640, 360), (90, 110, 130))
    titled = blank.copy()
    draw = ImageDraw.Draw(titled)
    draw.rectangle((40, 260, 600, 330), fill="black")
    draw.text((60, 272), caption, fill="white", font=font(40))
    pictures = (
        np.asarray(titled if shown[0] <= index / fps < shown[1] else blank)
        for index in range(int(seconds * fps))
    )
    return write_video(path, pictures, width=640, height=360, fps=fps)
