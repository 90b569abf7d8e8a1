"""Frame decoding: Strobe's `MediaFile.frames()` against bare PyAV, on the CPU and, where the
hardware-decode probe passes (an NVIDIA GPU), on NVDEC.

Makes an H.264 clip with PyAV (no ffmpeg CLI needed, so it runs on a bare GPU node), then
decodes every frame to RGB both ways in the same run:

* bare: `av.open` (+ `HWAccel("cuda")` for the GPU rows), `thread_type="AUTO"`,
  `frame.to_ndarray(format="rgb24")` for each frame;
* strobe: `MediaFile(path).frames()` (probe, background decode, display rotation, RGB).

    .venv/bin/python -m benchmarks.decode [--seconds 10] [--size 1920x1080]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.codec.hwaccel import HWAccel

from pipeline.media import decoders
from pipeline.media.file import MediaFile
from tests.support.media import write_video

FPS = 30


def make_clip(path: Path, width: int, height: int, seconds: float) -> Path:
    """A moving gradient (so frames differ) in H.264 High, CRF 20."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 32, (height, width, 3), dtype=np.uint8)
    ramp = np.linspace(0, 200, width, dtype=np.float32)
    pictures = (
        noise + np.roll(ramp, index * 8).astype(np.uint8)[None, :, None]
        for index in range(round(seconds * FPS))
    )
    options = {"preset": "veryfast", "crf": "20"}
    return write_video(path, pictures, width=width, height=height, fps=FPS, options=options)


def bare(path: Path, hwaccel: HWAccel | None) -> int:
    count = 0
    with av.open(str(path), hwaccel=hwaccel) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_ndarray(format="rgb24")
            count += 1
    return count


def strobe(path: Path) -> int:
    return sum(1 for _ in MediaFile(path).frames())


def timed(action: Any, *args: Any) -> tuple[float, int]:
    started = time.perf_counter()
    frames = action(*args)
    return time.perf_counter() - started, frames


def compare(label: str, path: Path, hwaccel: HWAccel | None, rounds: int) -> float:
    """Median fps of each side over `rounds`, alternating; prints the ratio."""
    strobe_fps, bare_fps = [], []
    for _ in range(rounds):
        seconds, frames = timed(strobe, path)
        strobe_fps.append(frames / seconds)
        seconds, frames = timed(bare, path, hwaccel)
        bare_fps.append(frames / seconds)
    s, b = float(np.median(strobe_fps)), float(np.median(bare_fps))
    print(f"{label:<6} strobe {s:7.1f} fps   bare {b:7.1f} fps   ratio {s / b:4.2f}", flush=True)
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="strobe-decode-") as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", width, height, args.seconds)
        frames = round(args.seconds * FPS)
        print(f"{width}x{height} H.264, {frames} frames, every frame decoded to RGB")
        device = decoders.hardware_decoder()
        print(f"hardware decode probe: {device or 'none (CPU only)'}")
        os.environ[decoders.DISABLE_ENV] = "0"
        decoders.hardware_decoder.cache_clear()
        cpu = compare("cpu", clip, None, args.rounds)
        if device is not None:
            del os.environ[decoders.DISABLE_ENV]
            decoders.hardware_decoder.cache_clear()
            gpu = compare(device, clip, HWAccel(device), args.rounds)
            print(f"{device} / cpu through Strobe: {gpu / cpu:4.2f}x")


if __name__ == "__main__":
    main()
