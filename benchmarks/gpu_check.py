"""On a CUDA machine: each detection operator at several batch sizes, frames per second and
GPU memory; then cross-task batching, `--tasks` tasks at once on one operator against the
same tasks one at a time (benchmarks/batching.py, on a 720p video of the same photo). Needs
torch with CUDA and PyAV; text and nsfw need onnxruntime-gpu to use the GPU (they say which
device they picked). Finishes in a few minutes.

    python -m benchmarks.gpu_check [--frames 64 --sizes 1,4,16,32 --tasks 8 --seconds 10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.vision import link_fetched_faces, random_objects_weights


def used_gib(torch: Any) -> float:
    free, total = torch.cuda.mem_get_info()
    return float(total - free) / 2**30


def main() -> None:
    import skimage.data
    import torch
    from PIL import Image

    from operators.detection import DetectionOperator
    from operators.registry import load_operator

    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--sizes", default="1,4,16,32")
    parser.add_argument("--kinds", default="objects,faces,text,nsfw")
    parser.add_argument("--tasks", type=int, default=8, help="0: skip the cross-task check")
    parser.add_argument("--seconds", type=float, default=10.0, help="each task's video")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this check is for GPU machines")
    print(torch.cuda.get_device_name(0), f"baseline {used_gib(torch):.2f} GiB in use")
    photo = Image.fromarray(skimage.data.astronaut()).resize((1280, 720))
    frames = [np.asarray(photo)] * args.frames
    with tempfile.TemporaryDirectory() as tmp:
        random_objects_weights(Path(tmp))  # COCO weights may be absent: same network
        link_fetched_faces(Path(tmp))  # faces: YuNet when fetched, else the cascade (CPU)
        os.environ.setdefault("STROBE_MODELS_DIR", tmp)
        for kind in args.kinds.split(","):
            operator = load_operator(kind)()
            assert isinstance(operator, DetectionOperator)
            try:
                operator.load()
            except Exception as exc:  # a missing package: report it and go on
                print(f"{kind:8} skipped: {exc}")
                continue
            if kind == "faces":
                print(f"{kind:8} model={getattr(operator, 'model_name', '?')}")
            for size in (int(s) for s in args.sizes.split(",")):
                operator.detect(frames[:size])  # warm-up
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                started = time.perf_counter()
                for i in range(0, len(frames), size):
                    operator.detect(frames[i : i + size])
                torch.cuda.synchronize()
                fps = len(frames) / (time.perf_counter() - started)
                peak = torch.cuda.max_memory_allocated() / 2**30
                print(
                    f"{kind:8} device={operator.device:4} batch={size:3} {fps:8.1f} fps  "
                    f"torch peak {peak:.2f} GiB  device used {used_gib(torch):.2f} GiB",
                    flush=True,
                )
        if args.tasks:
            cross_task(args.kinds.split(","), photo, Path(tmp), args.tasks, args.seconds)


def cross_task(kinds: list[str], photo: Any, folder: Path, tasks: int, seconds: float) -> None:
    """benchmarks/batching.py's comparison, on a 720p video (2 fps, sampled at 1 fps)."""
    from benchmarks.batching import HEADER, compare
    from operators.detection import DetectionOperator
    from operators.registry import load_operator
    from tests.support.media import write_video

    pixels = np.asarray(photo.convert("RGB"))
    video = write_video(
        folder / "cross-task.mp4",
        (pixels for _ in range(int(seconds * 2))),
        width=photo.width,
        height=photo.height,
        fps=2,
    )
    print(f"cross-task batching: {tasks} tasks of a {seconds:g} s 720p video at 1 fps")
    print(HEADER)
    for kind in kinds:
        operator = load_operator(kind)()
        assert isinstance(operator, DetectionOperator)
        try:
            operator.setup()
        except Exception as exc:  # a missing package: report it and go on
            print(f"{kind:8} skipped: {exc}")
            continue
        print(compare(kind, operator, [video] * tasks, 1.0, rounds=3).row(), flush=True)
        operator.batcher.close()


if __name__ == "__main__":
    main()
