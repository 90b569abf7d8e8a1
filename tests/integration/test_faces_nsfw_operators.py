"""`faces` (OpenCV Haar cascade; YuNet is in test_faces_yunet.py) and `nsfw` (NudeNet) on
scikit-image's real photos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from operators import models
from operators.base import Operator
from operators.detection import Box
from operators.faces import FacesOperator
from operators.nsfw import NsfwOperator
from pipeline.contract.errors import TaskError
from pipeline.media.file import MediaFile
from tests.support.vision import photo

# Eileen Collins's face in skimage.data.astronaut() (512x512), read off the picture once:
# cheek to cheek x 180-275, hairline to chin y 80-178, in pixels.
ASTRONAUT_FACE = Box.from_corners(180, 80, 275, 178, 512, 512)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    return {
        name: photo(name, folder / f"{name}.png") for name in ("astronaut", "coffee", "chelsea")
    }


def run(operator: Operator, path: Path, **options: Any) -> dict[str, Any]:
    operator.setup()
    artifact = operator.process(MediaFile(path), options)
    data: dict[str, Any] = json.loads(artifact.data or b"")
    assert artifact.summary["detected"] == data["detected"]
    return data


@pytest.fixture
def haar(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cascade even where YuNet is fetched (tests/integration/test_faces_yunet.py)."""
    monkeypatch.setenv("STROBE_FACES_MODEL", "haar")


@pytest.mark.usefixtures("haar")
def test_the_astronaut_has_one_face_where_her_face_is(photos: dict[str, Path]) -> None:
    data = run(FacesOperator(), photos["astronaut"])
    assert data["detected"] is True and data["model"] == "haarcascade-frontalface"
    assert len(data["timeline"]) == 1, data["timeline"]
    face = data["timeline"][0]
    assert face["label"] == "face" and 0.5 <= face["confidence"] <= 1.0
    assert Box(**face["box"]).iou(ASTRONAUT_FACE) >= 0.5, face["box"]


@pytest.mark.usefixtures("haar")
def test_coffee_has_no_face(photos: dict[str, Path]) -> None:
    data = run(FacesOperator(), photos["coffee"])
    assert data == {**data, "detected": False, "timeline": []}


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_benign_photos_are_not_nsfw(photos: dict[str, Path], name: str) -> None:
    data = run(NsfwOperator(), photos[name])
    assert data["detected"] is False and data["timeline"] == []
    assert set(data["categories"]) == {"nudity", "sexual", "suggestive"}
    assert all(0.0 <= score < 0.5 for score in data["categories"].values())


def test_nsfw_without_the_extra_is_model_missing_until_it_is_installed(
    photos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = models.package_dir
    installed = False
    monkeypatch.setattr(
        models,
        "package_dir",
        lambda name: None if name == "nudenet" and not installed else real(name),
    )
    operator = NsfwOperator()
    with pytest.raises(TaskError) as caught:
        operator.setup()  # the runtime calls it again before the next task
    assert caught.value.code == "model_missing"
    assert "pip install 'strobe[nsfw]'" in caught.value.message
    with pytest.raises(TaskError) as again:  # a task on it fails the same way
        operator.process(MediaFile(photos["coffee"]), {})
    assert (again.value.code, again.value.message) == ("model_missing", caught.value.message)
    installed = True
    assert run(operator, photos["coffee"])["detected"] is False
