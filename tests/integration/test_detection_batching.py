"""Four detection tasks at once on one operator instance, as an actor runs them: each task
gets its own findings, and the model sees calls that mix frames of several tasks.

Each task's video has its own width, so the frame shapes in a model call say whose frames
were in it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from operators.base import Operator
from operators.detection import Box, Found
from operators.faces import FacesOperator
from operators.text import TextOperator
from pipeline.contract.errors import TaskError
from pipeline.media.file import MediaFile
from tests.support.media import write_video
from tests.support.vision import photo, text_picture

WAIT_S = 120.0
FPS = 2  # the videos' frame rate and the sampling rate: every frame is a sample
# Eileen Collins's face in skimage.data.astronaut(), as a fraction of the picture (see
# test_faces_nsfw_operators.py): the same box at any size the picture is scaled to.
ASTRONAUT_FACE = Box.from_corners(180, 80, 275, 178, 512, 512)


class Recording:
    """Remembers, per model call, the width of each frame in it."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def mixed(self) -> list[list[int]]:
        return [call for call in self.calls if len(set(call)) > 1]


class RecordingFaces(FacesOperator, Recording):
    def __init__(self) -> None:
        FacesOperator.__init__(self)
        Recording.__init__(self)

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Found]]:
        self.calls.append([frame.shape[1] for frame in frames])
        return super().detect(frames)


class RecordingText(TextOperator, Recording):
    def __init__(self) -> None:
        TextOperator.__init__(self)
        Recording.__init__(self)

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Found]]:
        self.calls.append([frame.shape[1] for frame in frames])
        return super().detect(frames)


def still_video(path: Path, picture: Image.Image, seconds: float) -> Path:
    pixels = np.asarray(picture.convert("RGB"))
    frames = (pixels for _ in range(int(seconds * FPS)))
    return write_video(path, frames, width=picture.width, height=picture.height, fps=FPS)


def at_once(operator: Operator, videos: Sequence[Path], **options: Any) -> list[dict[str, Any]]:
    """Every video as a task on `operator`, each in its own thread, all at once."""
    sources = [MediaFile(video) for video in videos]
    with ThreadPoolExecutor(len(sources)) as pool:
        futures = [pool.submit(operator.process, source, options) for source in sources]
        return [json.loads(f.result(timeout=WAIT_S).data or b"") for f in futures]


@pytest.fixture
def haar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STROBE_FACES_MODEL", "haar")  # ships with OpenCV: no download


@pytest.mark.usefixtures("haar")
def test_four_faces_tasks_at_once_each_find_their_own_faces(tmp_path: Path) -> None:
    import skimage.data

    astronaut = Image.fromarray(skimage.data.astronaut())
    coffee = Image.fromarray(skimage.data.coffee())
    sizes = {"astronaut": [(512, 512), (448, 448)], "coffee": [(480, 320), (384, 256)]}
    videos, has_face = [], []
    for name, original in (("astronaut", astronaut), ("coffee", coffee)):
        for width, height in sizes[name]:
            picture = original.resize((width, height))
            videos.append(still_video(tmp_path / f"{name}-{width}.mp4", picture, 3.0))
            has_face.append(name == "astronaut")
    order = [0, 2, 1, 3]  # alternate face and no face
    videos, has_face = [videos[i] for i in order], [has_face[i] for i in order]

    operator = RecordingFaces()
    operator.setup()
    results = at_once(operator, videos, fps=FPS)

    assert operator.concurrent_tasks == len(videos)
    for data, face in zip(results, has_face, strict=True):
        assert data["frames"] == 3 * FPS and data["detected"] is face, data
        if face:
            (entry,) = data["timeline"]
            assert (entry["start"], entry["end"]) == (0.0, 3.0)
            assert Box(**entry["box"]).iou(ASTRONAUT_FACE) >= 0.5, entry
        else:
            assert data["timeline"] == []
    assert sum(len(call) for call in operator.calls) == 4 * 3 * FPS
    assert operator.mixed(), operator.calls  # frames of several tasks in one model call
    # Batching changes nothing in any task's JSON: the same tasks one at a time agree.
    alone = RecordingFaces()
    alone.setup()
    for video, data in zip(videos, results, strict=True):
        assert json.loads(alone.process(MediaFile(video), {"fps": FPS}).data or b"") == data
    assert not alone.mixed()


def test_four_text_tasks_at_once_each_read_their_own_caption(tmp_path: Path) -> None:
    captions = {640: "Blue Harbor", 600: "Quiet Meadow", 560: "Copper Kettle", 520: "Violet Lamp"}
    videos = [
        still_video(tmp_path / f"{width}.mp4", text_picture([caption], width=width), 2.0)
        for width, caption in captions.items()
    ]

    operator = RecordingText()
    operator.setup()
    results = at_once(operator, videos, fps=FPS)

    for data, caption in zip(results, captions.values(), strict=True):
        assert data["frames"] == 2 * FPS
        assert [e["text"].casefold() for e in data["timeline"]] == [caption.casefold()], data
    assert sum(len(call) for call in operator.calls) == 4 * 2 * FPS
    assert operator.mixed(), operator.calls


class StuckFaces(FacesOperator):
    """A model that hangs until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Found]]:
        self.release.wait(WAIT_S)
        return super().detect(frames)


@pytest.mark.usefixtures("haar")
def test_a_task_waiting_on_a_stuck_model_stops_when_the_runtime_asks(tmp_path: Path) -> None:
    operator = StuckFaces()
    operator.setup()
    stop = threading.Event()

    def progress(fraction: float) -> None:  # as the runtime's TaskMonitor does once stopped
        if stop.is_set():
            raise TaskError("timeout", "past its budget")

    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(TaskError) as caught:
        operator.process(MediaFile(photo("coffee", tmp_path / "c.png")), {}, progress)
    assert caught.value.code == "timeout" and time.monotonic() - started < 3.0
    operator.release.set()
