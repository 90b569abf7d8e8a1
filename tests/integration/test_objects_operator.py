"""`objects`: the real load-and-infer path of torchvision's SSDLite320, run with weights of
the same architecture that the test makes at random (COCO weights cannot be downloaded
here). What is checked is the wiring and the output schema, not what it finds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from operators.models import MODELS
from operators.objects import MODEL, ObjectsOperator
from pipeline.contract.errors import TaskError
from pipeline.media.file import MediaFile
from tests.support.media import make_video
from tests.support.vision import photo

PERSON = 1
ENTRY_KEYS = {"start", "end", "frame", "label", "confidence", "box"}


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    torch.manual_seed(0)
    model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    state = model.state_dict()
    # Random heads score every class about 1/91, under torchvision's floor: tilt the
    # classifier's bias towards "person" (COCO index 1) so boxes come out and the
    # timeline code has something to merge.
    for key, bias in state.items():
        if re.fullmatch(r"head\.classification_head\.module_list\.\d+\.1\.bias", key):
            bias.view(-1, 91)[:, PERSON] += 12.0
    folder = tmp_path_factory.mktemp("models")
    torch.save(state, folder / MODELS[MODEL].files[0].name)
    return folder


@pytest.fixture
def objects(random_weights: Path, monkeypatch: pytest.MonkeyPatch) -> ObjectsOperator:
    monkeypatch.setenv("STROBE_MODELS_DIR", str(random_weights))
    operator = ObjectsOperator()
    operator.setup()
    assert operator.loaded and operator.device == "cpu"
    assert operator.batcher.max_frames == 8  # on CPU, the batch one task sends
    return operator


def test_an_image_gives_the_intelligence_schema(objects: ObjectsOperator, tmp_path: Path) -> None:
    artifact = objects.process(MediaFile(photo("astronaut", tmp_path / "a.png")), {"confidence": 0})
    data = json.loads(artifact.data or b"")
    assert set(data) == {"detected", "confidence", "fps", "frames", "labels", "timeline"}
    assert data["confidence"] == 0 and data["frames"] == 1 and data["fps"] is None
    assert data["detected"] is True and data["timeline"]  # random weights still score boxes
    for entry in data["timeline"]:
        assert set(entry) == ENTRY_KEYS and entry["label"] == "person"
        assert 0.05 <= entry["confidence"] <= 1
        box = entry["box"]
        assert 0 <= box["x"] <= box["x"] + box["width"] <= 1.0001
        assert 0 <= box["y"] <= box["y"] + box["height"] <= 1.0001
    (row,) = data["labels"]
    assert row["label"] == "person" and row["count"] == len(data["timeline"]) == row["frames"]
    assert artifact.summary == {
        "detected": True,
        "count": len(data["timeline"]),
        "frames": 1,
        "labels": ["person"],
    }


def test_a_video_is_sampled_and_batched(objects: ObjectsOperator, tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", width=320, height=180, seconds=2.0)
    artifact = objects.process(MediaFile(video), {"fps": 2, "confidence": 0})
    data = json.loads(artifact.data or b"")
    assert data["frames"] == 4 and data["fps"] == 2
    assert data["timeline"]
    assert all(0 <= e["start"] <= e["frame"] < e["end"] <= 2.0 for e in data["timeline"])
    # The same boxes in consecutive frames of a flat video merge into ranges longer than one
    # sample (0.5 s).
    assert max(e["end"] - e["start"] for e in data["timeline"]) > 0.5


def test_without_weights_setup_and_tasks_are_model_missing_until_they_are_fetched(
    random_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("STROBE_MODELS_DIR", str(folder))
    operator = ObjectsOperator()
    with pytest.raises(TaskError) as caught:
        operator.setup()  # the runtime calls it again before the next task
    assert caught.value.code == "model_missing"
    assert "strobe models fetch ssdlite320-coco" in caught.value.message
    with pytest.raises(TaskError) as again:  # a task on it fails the same way
        operator.process(MediaFile(photo("coffee", tmp_path / "c.png")), {})
    assert (again.value.code, again.value.message) == ("model_missing", caught.value.message)
    name = MODELS[MODEL].files[0].name
    (folder / name).symlink_to(random_weights / name)  # fetched: no restart needed
    operator.setup()
    assert operator.loaded
    data = json.loads(operator.process(MediaFile(tmp_path / "c.png"), {}).data or b"")
    assert data["frames"] == 1


def test_a_corrupt_weights_file_is_model_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / MODELS[MODEL].files[0].name).write_bytes(b"not a checkpoint")
    monkeypatch.setenv("STROBE_MODELS_DIR", str(tmp_path))
    with pytest.raises(TaskError) as caught:
        ObjectsOperator().process(MediaFile(photo("coffee", tmp_path / "c.png")), {})
    assert caught.value.code == "model_missing" and "strobe models fetch" in caught.value.message
