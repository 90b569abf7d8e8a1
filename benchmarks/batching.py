"""Cross-task batching for the detection kinds: frames per second with N tasks at once on one
operator instance (one thread per task, as an actor runs them, their frames sharing model
calls) against the same N tasks one at a time on the same instance.

Both sides run `operator.process(MediaFile(video), {"fps": ...})` whole: decode, sampling,
the model, the timeline and the JSON. They alternate (one at a time, then at once, for
`--rounds` rounds; the median counts) so a busy moment on a shared machine hits both alike.
The input is benchmarks/vision.py's video (three real photos, the middle one captioned);
`objects` runs SSDLite320 with random weights (no COCO download here: same network, same
work per frame). Each row also says how many frames a model call held on average when the
tasks ran at once, and whether every task's JSON came out the same both ways.

`--call-sizes 1,4,8,16,32` instead times the model alone (`operator.detect`) on 32 of the
video's frames in calls of each size: whether a bigger call is faster per frame at all.

    .venv/bin/python -m benchmarks.batching [--tasks 8 --seconds 10 --fps 1 --rounds 3]
        [--kinds text,faces,objects] [--call-sizes 1,4,8,16,32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from operators.detection import DetectionOperator, rgb
from pipeline.media.file import MediaFile

WAIT_S = 600.0


@dataclass(frozen=True)
class Comparison:
    kind: str
    device: str
    frames: int  # sampled frames in all the tasks together
    alone_s: float  # median seconds for the tasks one at a time
    together_s: float  # median seconds for the tasks at once
    per_call: float  # frames per model call when at once
    same: bool  # every task's JSON identical both ways

    def row(self) -> str:
        return (
            f"{self.kind:8} {self.device:5} {self.frames:6} {self.frames / self.alone_s:11.1f} "
            f"{self.frames / self.together_s:9.1f} {self.alone_s / self.together_s:6.2f} "
            f"{self.per_call:10.1f} {'yes' if self.same else 'NO':>5}"
        )


HEADER = (
    f"{'kind':8} {'device':5} {'frames':>6} {'alone fps':>11} {'at once':>9} {'ratio':>6} "
    f"{'frames/call':>10} {'same':>5}"
)


def one_at_a_time(operator: DetectionOperator, videos: Sequence[Path], fps: float) -> list[bytes]:
    return [operator.process(MediaFile(video), {"fps": fps}).data or b"" for video in videos]


def at_once(operator: DetectionOperator, videos: Sequence[Path], fps: float) -> list[bytes]:
    def task(video: Path) -> bytes:
        return operator.process(MediaFile(video), {"fps": fps}).data or b""

    with ThreadPoolExecutor(len(videos), thread_name_prefix="task") as pool:
        futures = [pool.submit(task, video) for video in videos]
        return [future.result(timeout=WAIT_S) for future in futures]


def compare(
    kind: str, operator: DetectionOperator, videos: Sequence[Path], fps: float, rounds: int
) -> Comparison:
    """Both ways, alternating, `rounds` times each, on one loaded operator."""
    operator.process(MediaFile(videos[0]), {"fps": fps, "end": 1.0})  # warm: first calls allocate
    times: tuple[list[float], list[float]] = ([], [])
    outputs: tuple[list[bytes], list[bytes]] = ([], [])
    calls = frames_in_calls = 0
    for _ in range(rounds):
        for side, way in enumerate((one_at_a_time, at_once)):
            before = operator.batcher.calls, operator.batcher.frames
            started = time.perf_counter()
            outputs[side][:] = way(operator, videos, fps)
            times[side].append(time.perf_counter() - started)
            if way is at_once:
                calls += operator.batcher.calls - before[0]
                frames_in_calls += operator.batcher.frames - before[1]
    frames = sum(json.loads(data)["frames"] for data in outputs[0])
    return Comparison(
        kind=kind,
        device=operator.device,
        frames=frames,
        alone_s=statistics.median(times[0]),
        together_s=statistics.median(times[1]),
        per_call=frames_in_calls / max(1, calls),
        same=outputs[0] == outputs[1],
    )


def call_sizes(
    operator: DetectionOperator, frames: Sequence[np.ndarray], sizes: Sequence[int], rounds: int
) -> dict[int, float]:
    """Frames per second of `detect` alone in calls of each size (median of `rounds`, the
    sizes interleaved within each round)."""
    operator.detect(frames[:1])
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(rounds):
        for size in sizes:
            started = time.perf_counter()
            for i in range(0, len(frames), size):
                operator.detect(frames[i : i + size])
            times[size].append(time.perf_counter() - started)
    return {size: len(frames) / statistics.median(spent) for size, spent in times.items()}


def main() -> None:
    from benchmarks.vision import (
        VIDEO_FPS,
        link_fetched_faces,
        make_video,
        random_objects_weights,
    )
    from operators.registry import load_operator

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="each task's video")
    parser.add_argument("--fps", type=float, default=1.0, help="sampling rate")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default="text,faces,objects")
    parser.add_argument("--call-sizes", default="", help="e.g. 1,4,8,16,32: time detect alone")
    args = parser.parse_args()
    sizes = [int(size) for size in args.call_sizes.split(",") if size]

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        video = make_video(folder / "video.mp4", args.seconds)
        random_objects_weights(folder)
        link_fetched_faces(folder)
        os.environ["STROBE_MODELS_DIR"] = str(folder)
        if sizes:
            print(f"detect alone on 32 frames of the video; median of {args.rounds} rounds")
        else:
            print(
                f"{args.tasks} tasks of a {args.seconds:g} s 640x360 video sampled at "
                f"{args.fps:g} fps; median of {args.rounds} rounds, one at a time and at once "
                f"alternating; {os.cpu_count()} CPUs"
            )
            print(HEADER)
        for kind in args.kinds.split(","):
            operator = load_operator(kind)()
            assert isinstance(operator, DetectionOperator)
            operator.setup()
            if sizes:
                frames = [rgb(s.pixels) for s in MediaFile(video).frames(fps=VIDEO_FPS)][:32]
                speeds = call_sizes(operator, frames, sizes, args.rounds)
                print(f"{kind:8} detect alone, frames/s by call size:", end="")
                print("".join(f"  {size}: {fps:.1f}" for size, fps in speeds.items()), flush=True)
                continue
            result = compare(kind, operator, [video] * args.tasks, args.fps, args.rounds)
            print(result.row(), flush=True)
            operator.batcher.close()


if __name__ == "__main__":
    main()
