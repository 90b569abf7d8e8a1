"""`text` with RapidOCR on rendered text: read back exactly, and placed in time on video."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from operators.text import TextOperator
from pipeline.media.file import MediaFile
from tests.support.vision import caption_video, text_picture

LINES = ["Hello Strobe", "Media tasks 2024"]


@pytest.fixture(scope="module")
def ocr() -> TextOperator:
    operator = TextOperator()
    operator.setup()
    return operator


def read(operator: TextOperator, path: Path, **options: Any) -> dict[str, Any]:
    artifact = operator.process(MediaFile(path), options)
    assert (artifact.format, artifact.mimetype, artifact.media) == (
        "json",
        "application/json",
        False,
    )
    data: dict[str, Any] = json.loads(artifact.data or b"")
    assert artifact.summary["detected"] == data["detected"]
    assert artifact.summary["count"] == len(data["timeline"])
    return data


def test_two_rendered_lines_read_back_exactly(ocr: TextOperator, tmp_path: Path) -> None:
    path = tmp_path / "lines.png"
    text_picture(LINES).save(path)
    data = read(ocr, path)
    assert data["detected"] is True and data["confidence"] == 0.5
    texts = [entry["text"].casefold() for entry in data["timeline"]]
    assert sorted(texts) == sorted(line.casefold() for line in LINES)
    first = next(e for e in data["timeline"] if e["text"].casefold() == "hello strobe")
    # Drawn at x=24, y≈42 (of 640x200), 40 px type: the box sits there.
    assert first["box"]["x"] == pytest.approx(24 / 640, abs=0.02)
    assert first["box"]["y"] == pytest.approx(0.2, abs=0.05)
    assert 0 < first["box"]["width"] < 0.6 and 0 < first["box"]["height"] < 0.35
    assert (first["start"], first["end"], first["frame"]) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_gray_and_transparent_images_are_read(ocr: TextOperator, tmp_path: Path, mode: str) -> None:
    picture = text_picture(LINES[:1])
    if mode == "RGBA":
        # Black text on a fully transparent background: flattened onto white, still legible.
        alpha = picture.convert("L").point(lambda v: 255 - v)
        picture = picture.convert("RGBA")
        picture.putalpha(alpha)
    else:
        picture = picture.convert(mode)
    path = tmp_path / f"line-{mode}.png"
    picture.save(path)
    data = read(ocr, path)
    assert [e["text"].casefold() for e in data["timeline"]] == ["hello strobe"]


def test_caption_shown_from_2_to_4_s_is_one_entry_in_that_range(
    ocr: TextOperator, tmp_path: Path
) -> None:
    path = caption_video(tmp_path / "caption.mp4", "BREAKING NEWS", shown=(2.0, 4.0))
    data = read(ocr, path)
    assert data["frames"] == 6 and data["fps"] == 1.0
    assert len(data["timeline"]) == 1, data["timeline"]
    entry = data["timeline"][0]
    # PP-OCRv4 sometimes drops the space between capitals in video frames; letters must match.
    assert entry["text"].replace(" ", "").casefold() == "breakingnews"
    assert entry["start"] == pytest.approx(2.0, abs=1.0)
    assert entry["end"] == pytest.approx(4.0, abs=1.0)
    assert 2.0 <= entry["frame"] < 4.0


def test_a_confidence_of_1_keeps_nothing(ocr: TextOperator, tmp_path: Path) -> None:
    path = tmp_path / "lines.png"
    text_picture(LINES).save(path)
    data = read(ocr, path, confidence=1.0)
    assert data == {**data, "detected": False, "confidence": 1.0, "timeline": []}


def test_without_rapidocr_setup_and_tasks_are_model_missing_until_it_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from operators import models
    from pipeline.contract.errors import TaskError

    real = models.package_dir
    installed = False
    monkeypatch.setattr(
        models,
        "package_dir",
        lambda name: None if name == "rapidocr_onnxruntime" and not installed else real(name),
    )
    operator = TextOperator()
    with pytest.raises(TaskError) as caught:
        operator.setup()  # the runtime calls it again before the next task
    assert caught.value.code == "model_missing" and "rapidocr" in caught.value.message
    path = tmp_path / "lines.png"
    text_picture(LINES[:1]).save(path)
    with pytest.raises(TaskError) as again:  # a task on it fails the same way
        operator.process(MediaFile(path), {})
    assert (again.value.code, again.value.message) == ("model_missing", caught.value.message)
    installed = True
    operator.setup()
    assert [e["text"].casefold() for e in read(operator, path)["timeline"]] == ["hello strobe"]
