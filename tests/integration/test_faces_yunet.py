"""`faces` with YuNet: OpenCV's real `FaceDetectorYN` path (input padding, decoding, NMS,
colour order, frame shrinking, normalised boxes) run on a stand-in model whose hand-set
weights say where a face must come out (tests/support/yunet.py); YuNet's own weights cannot
be downloaded here. And how STROBE_FACES_MODEL picks the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from operators.detection import Box
from operators.faces import HAAR, MODEL_ENV, YUNET, FacesOperator, choose_model
from operators.models import MODELS
from pipeline.contract.errors import TaskError
from pipeline.media.file import MediaFile
from tests.support.yunet import FACE_SCORE, write_model

BLUE, RED = (0, 0, 255), (255, 0, 0)
MODEL_FILE = MODELS[YUNET].files[0].name


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("STROBE_MODELS_DIR", str(folder))
    monkeypatch.delenv(MODEL_ENV, raising=False)
    return folder


@pytest.fixture
def yunet_dir(models_dir: Path) -> Path:
    write_model(models_dir / MODEL_FILE)
    return models_dir


def squares(path: Path, size: tuple[int, int], *squares: tuple[int, int, int, Any]) -> Path:
    """A black PNG with (x, y, side, colour) squares on it."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    for x, y, side, colour in squares:
        pixels[y : y + side, x : x + side] = colour
    Image.fromarray(pixels).save(path)
    return path


def run(operator: FacesOperator, path: Path, **options: Any) -> tuple[dict[str, Any], Any]:
    artifact = operator.process(MediaFile(path), options)
    return json.loads(artifact.data or b""), artifact.summary


def test_a_fetched_yunet_is_used_and_its_box_lands_where_the_model_puts_it(
    yunet_dir: Path, tmp_path: Path
) -> None:
    # 1920x1080 is shrunk by half (MAX_SIDE_PX 960) to 960x540, which OpenCV pads to 544
    # rows. The blue 64 px square at (640, 320) becomes the stride-32 cell (10, 5), whose box
    # the model makes twice the cell around its centre: in full-frame pixels, 608-736 x
    # 288-416. The red square is channel 0 of RGB: it would be the face if RGB reached it.
    picture = squares(tmp_path / "hd.png", (1920, 1080), (640, 320, 64, BLUE), (64, 64, 64, RED))
    operator = FacesOperator()
    operator.setup()
    data, summary = run(operator, picture)
    assert data["model"] == summary["model"] == YUNET
    assert summary["detected"] is True and summary["count"] == 1
    (face,) = data["timeline"]
    assert face["label"] == "face" and face["confidence"] == round(FACE_SCORE, 4)
    expected = Box.from_corners(608, 288, 736, 416, 1920, 1080).as_json()
    assert face["box"] == pytest.approx(expected, abs=1e-4)

    # A smaller frame on the same operator (a new input size for the network), two faces,
    # and `confidence` as the threshold: the model scores 0.9933.
    small = squares(tmp_path / "vga.png", (640, 480), (96, 64, 32, BLUE), (416, 256, 32, BLUE))
    data, _ = run(operator, small, confidence=0.99)
    corners = sorted((e["box"]["x"] * 640, e["box"]["y"] * 480) for e in data["timeline"])
    assert np.allclose(corners, [(80, 48), (400, 240)], atol=0.1), corners
    data, summary = run(operator, small, confidence=0.995)
    assert data["timeline"] == [] and summary["detected"] is False


def test_forced_yunet_without_its_file_is_model_missing_until_it_is_fetched(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODEL_ENV, "yunet")
    picture = squares(tmp_path / "vga.png", (640, 480), (96, 64, 32, BLUE))
    operator = FacesOperator()
    with pytest.raises(TaskError) as caught:
        operator.setup()  # the runtime calls it again before the next task
    assert caught.value.code == "model_missing"
    assert f"strobe models fetch {YUNET}" in caught.value.message
    with pytest.raises(TaskError) as again:  # a task on it fails the same way
        run(operator, picture)
    assert (again.value.code, again.value.message) == ("model_missing", caught.value.message)
    write_model(models_dir / MODEL_FILE)  # fetched: no restart needed
    operator.setup()
    data, summary = run(operator, picture)
    assert summary["model"] == YUNET and len(data["timeline"]) == 1


def test_a_corrupt_yunet_file_is_model_missing_naming_verify(
    models_dir: Path, tmp_path: Path
) -> None:
    (models_dir / MODEL_FILE).write_bytes(b"not an onnx model")
    with pytest.raises(TaskError) as caught:
        run(FacesOperator(), squares(tmp_path / "p.png", (64, 64)))
    assert caught.value.code == "model_missing"
    assert f"strobe models verify {YUNET}" in caught.value.message


def test_the_model_follows_the_environment_and_the_models_dir(
    yunet_dir: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    assert choose_model({}, empty) == HAAR  # the offline default
    assert choose_model({}, yunet_dir) == choose_model({MODEL_ENV: "auto"}, yunet_dir) == YUNET
    assert choose_model({MODEL_ENV: "haar"}, yunet_dir) == HAAR
    assert choose_model({MODEL_ENV: "YuNet"}, empty) == YUNET  # forced: the load then fails
    with pytest.raises(TaskError) as caught:
        choose_model({MODEL_ENV: "blazeface"})
    assert caught.value.code == "model_missing" and "auto, yunet, haar" in caught.value.message
