"""Detection kinds on CPU: frames per second through Strobe's operator against the bare
library call on the same frames, and the task time for a 60 s video.

* strobe   `operator.process(MediaFile(video), {"fps": 1})`: PyAV decode and sampling,
           RGB conversion, batching, the model, timeline merging and the JSON.
* bare     the library alone on the same frames, decoded beforehand (so the bare side
           pays no decode): RapidOCR(...)(frame), cv2 cascade.detectMultiScale3 (or
           cv2.FaceDetectorYN.detect when YuNet is the faces model), NudeNet
           NudeDetector.detect(frame), torchvision model([tensor]).
* decode   decoding and sampling alone, to show how much of the gap it is.

The video: 60 s, 640x360, 10 fps, three real photos (scikit-image) of 20 s each, the middle
one captioned. `objects` runs SSDLite320 with random weights (no COCO download here): the
work per frame is the same network; only the number of boxes surviving NMS differs. `faces`
runs the model the operator picks (STROBE_FACES_MODEL; `auto` takes YuNet when it is in
the real models directory, which is linked into the benchmark's own).

    .venv/bin/python -m benchmarks.vision [--seconds 60 --fps 1 --rounds 3] [--e2e]

`--e2e` then runs each kind as a task through `strobe serve` (input over loopback HTTP) and
prints the time from POST /tasks to `ready`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageDraw

from operators.base import Operator
from operators.detection import rgb
from operators.models import MODELS, file_path, require
from pipeline.media.file import MediaFile
from tests.support.media import write_video
from tests.support.vision import font

WIDTH, HEIGHT, VIDEO_FPS = 640, 360, 10
Frames = Sequence[np.ndarray]


def make_video(path: Path, seconds: float) -> Path:
    import skimage.data

    scenes = []
    for name, caption in (("astronaut", None), ("coffee", "BREAKING NEWS"), ("chelsea", None)):
        canvas = Image.new("RGB", (WIDTH, HEIGHT))
        photo = Image.fromarray(getattr(skimage.data, name)())
        photo.thumbnail((WIDTH, HEIGHT))
        canvas.paste(photo, ((WIDTH - photo.width) // 2, (HEIGHT - photo.height) // 2))
        if caption:
            draw = ImageDraw.Draw(canvas)
            draw.rectangle((40, 280, 600, 340), fill="black")
            draw.text((60, 288), caption, fill="white", font=font(36))
        scenes.append(np.asarray(canvas))
    total = int(seconds * VIDEO_FPS)
    pictures = (
        scenes[min(len(scenes) - 1, index * len(scenes) // total)] for index in range(total)
    )
    return write_video(path, pictures, width=WIDTH, height=HEIGHT, fps=VIDEO_FPS)


def bare_text() -> Callable[[Frames], object]:
    from rapidocr_onnxruntime import RapidOCR

    from operators.text import ENGINE_SETTINGS

    engine = RapidOCR(**ENGINE_SETTINGS)
    return lambda frames: [engine(np.ascontiguousarray(f[:, :, ::-1])) for f in frames]


def bare_faces() -> Callable[[Frames], object]:
    import cv2

    from operators import faces

    name = faces.choose_model()
    print(f"faces model: {name}")
    if name == faces.YUNET:
        (path,) = require(name)
        detector = cv2.FaceDetectorYN.create(
            str(path), "", (WIDTH, HEIGHT), faces.MIN_SCORE, faces.NMS_IOU, faces.TOP_K
        )
        return lambda frames: [detector.detect(cv2.cvtColor(f, cv2.COLOR_RGB2BGR)) for f in frames]

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def run(frames: Frames) -> object:
        return [
            cascade.detectMultiScale3(
                cv2.equalizeHist(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)),
                scaleFactor=faces.SCALE_FACTOR,
                minNeighbors=faces.MIN_NEIGHBORS,
                minSize=(faces.MIN_FACE_PX, faces.MIN_FACE_PX),
                outputRejectLevels=True,
            )
            for f in frames
        ]

    return run


def bare_nsfw() -> Callable[[Frames], object]:
    from nudenet import NudeDetector

    detector = NudeDetector()
    return lambda frames: [detector.detect(np.ascontiguousarray(f[:, :, ::-1])) for f in frames]


def bare_objects(weights: Path) -> Callable[[Frames], object]:
    import torch
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    from operators.objects import MAX_BOXES, MIN_SCORE

    # Same score floor as the operator: with random weights every class scores ~1/91, over
    # torchvision's default floor (0.001), and NMS over all of them would dominate.
    model = ssdlite320_mobilenet_v3_large(
        weights=None,
        weights_backbone=None,
        num_classes=91,
        score_thresh=MIN_SCORE,
        detections_per_img=MAX_BOXES,
    )
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.eval()

    def run(frames: Frames) -> object:
        with torch.inference_mode():
            return [
                model([torch.from_numpy(f).permute(2, 0, 1).float().div(255.0)]) for f in frames
            ]

    return run


def link_fetched_faces(folder: Path) -> None:
    """Link YuNet from the models directory in the environment, if fetched, into `folder`
    (the benchmark's own models directory), so `auto` finds it there too."""
    spec = MODELS["yunet-2023mar"]
    for file in spec.files:
        fetched = file_path(spec, file)
        if fetched is not None and fetched.is_file() and fetched.parent != folder:
            (folder / file.name).symlink_to(fetched.resolve())


def random_objects_weights(folder: Path) -> Path:
    import torch
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    path = folder / MODELS["ssdlite320-coco"].files[0].name
    torch.save(model.state_dict(), path)
    return path


def timed_pair(
    a: Callable[[], object], b: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Median seconds of a and of b, run a, b, a, b … so that a busy moment on a shared
    machine hits both sides alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for side, fn in enumerate((a, b)):
            started = time.perf_counter()
            fn()
            times[side].append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default="text,faces,nsfw,objects")
    parser.add_argument("--e2e", action="store_true", help="also time each kind as a task")
    args = parser.parse_args()

    import os

    from operators.registry import load_operator

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        video = make_video(folder / "video.mp4", args.seconds)
        weights = random_objects_weights(folder)
        link_fetched_faces(folder)
        os.environ["STROBE_MODELS_DIR"] = str(folder)
        started = time.perf_counter()
        frames = [rgb(s.pixels) for s in MediaFile(video).frames(fps=args.fps)]
        decode = time.perf_counter() - started
        n = len(frames)
        print(
            f"{args.seconds:g} s video, {n} frames sampled at {args.fps:g} fps; "
            f"decode+sample alone {decode:.2f} s ({n / decode:.0f} fps); "
            f"median of {args.rounds} rounds, strobe and bare alternating"
        )
        print(f"{'kind':8} {'strobe fps':>10} {'bare fps':>9} {'ratio':>6} {'task s':>7}")
        bare_makers: dict[str, Callable[[], Callable[[Frames], object]]] = {
            "text": bare_text,
            "faces": bare_faces,
            "nsfw": bare_nsfw,
            "objects": lambda: bare_objects(weights),
        }
        for kind in args.kinds.split(","):
            operator: Operator = load_operator(kind)()
            operator.setup()
            bare = bare_makers[kind]()
            bare(frames[:1])  # warm both: first calls allocate
            operator.process(MediaFile(video), {"fps": args.fps, "end": 1.0})
            strobe_s, bare_s = timed_pair(
                lambda op=operator: op.process(MediaFile(video), {"fps": args.fps}),
                lambda b=bare: b(frames),
                args.rounds,
            )
            print(
                f"{kind:8} {n / strobe_s:10.1f} {n / bare_s:9.1f} {bare_s / strobe_s:6.2f} "
                f"{strobe_s:7.2f}",
                flush=True,
            )
        if args.e2e:
            kinds = args.kinds.split(",")
            times = end_to_end(video, folder, kinds, args.fps)
            print(f"end to end through `strobe serve` ({args.seconds:g} s video, URL input):")
            for kind in kinds:
                print(f"{kind:8} POST -> ready {times[kind]:6.2f} s", flush=True)


def end_to_end(video: Path, folder: Path, kinds: list[str], fps: float) -> dict[str, float]:
    """Seconds from POST /tasks to `ready` per kind, on a warm server (one short task of
    each kind first, so each kind's actor has loaded its model)."""
    from tests.support.http import serve_directory
    from tests.support.processes import Processes

    key = "sk_bench"
    data_dir = folder / "server"
    data_dir.mkdir()
    env = {"STROBE_API_KEYS": f"{key}:prj_bench", "STROBE_ALLOW_PRIVATE_URLS": "1",
           "STROBE_MODELS_DIR": str(folder)}  # fmt: skip
    processes = Processes(data_dir, env)
    try:
        url = processes.start_api("serve", "serve", "--data-dir", str(data_dir))
        with (
            serve_directory(folder) as base,
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client,
        ):
            body = {"url": f"{base}/{video.name}", "fps": fps}
            for kind in kinds:
                run_task(client, {**body, "kind": kind, "end": 2.0})
            return {kind: run_task(client, {**body, "kind": kind}) for kind in kinds}
    finally:
        processes.close()


def run_task(client: httpx.Client, body: dict[str, object]) -> float:
    started = time.perf_counter()
    task_id = client.post("/tasks", json=body, timeout=30).json()["data"]["id"]
    while True:
        task = client.get(f"/tasks/{task_id}", timeout=30).json()["data"]
        if task["status"] == "ready":
            return time.perf_counter() - started
        if task["status"] == "error":
            raise RuntimeError(f"{body['kind']} task failed: {task['error']}")
        time.sleep(0.02)


if __name__ == "__main__":
    main()
