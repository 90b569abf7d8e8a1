"""Real media made once per session, in the directory the loopback HTTP server serves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.media import make_image, make_video
from tests.support.samples import make_audio, steep_ramp, truncated_copy

CLIP_SECONDS = 2.0
CLIP_FPS = 25
CLIP_SIZE = (160, 90)


@dataclass(frozen=True)
class Samples:
    """Files under `media_dir`, so each one is also served by `http_base`."""

    root: Path
    clip: Path  # 160x90, 2 s, 25 fps, H.264, keyframe every 10 frames, gray level = 100 * t
    clip_with_audio: Path  # the same picture plus an AAC tone
    photo: Path  # 400x300 JPEG, red left half, blue right half
    audio: Path  # AAC in MP4, no video
    text: Path
    empty: Path
    truncated: Path  # the first half of `clip`


@pytest.fixture(scope="session")
def samples(media_dir: Path) -> Samples:
    root = media_dir / "integration"
    root.mkdir(exist_ok=True)
    width, height = CLIP_SIZE
    clip = make_video(
        root / "clip.mp4",
        width=width,
        height=height,
        seconds=CLIP_SECONDS,
        fps=CLIP_FPS,
        color_at=steep_ramp,
        gop=10,
    )
    text = root / "notes.txt"
    text.write_text("this is not media\n" * 50)
    empty = root / "empty.mp4"
    empty.write_bytes(b"")
    return Samples(
        root=root,
        clip=clip,
        clip_with_audio=make_video(
            root / "clip-audio.mp4",
            width=width,
            height=height,
            seconds=CLIP_SECONDS,
            fps=CLIP_FPS,
            color_at=steep_ramp,
            audio=True,
        ),
        photo=make_image(root / "photo.jpg"),
        audio=make_audio(root / "tone.m4a"),
        text=text,
        empty=empty,
        truncated=truncated_copy(clip, root / "truncated.mp4"),
    )
