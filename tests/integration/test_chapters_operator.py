"""`chapters` on generated videos: three distinct scenes cut at known times, and a static
shot; the JSON and the WebVTT chapters track read back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import webvtt

from operators.chapters import ChaptersOperator
from pipeline.contract.errors import TaskError
from pipeline.media.file import MediaFile
from tests.support.media import SCENE_CUTS, SCENES_SECONDS, make_video, three_scenes
from tests.support.samples import make_audio

CUTS = SCENE_CUTS
DURATION = SCENES_SECONDS


@pytest.fixture(scope="module")
def chapters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaptersOperator]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STROBE_MODELS_DIR", str(tmp_path_factory.mktemp("no-models")))
        operator = ChaptersOperator()
        operator.setup()  # no Whisper model: titles are numbered
        yield operator


def test_three_scenes_give_three_chapters_at_the_cuts(
    chapters: ChaptersOperator, tmp_path: Path
) -> None:
    path = make_video(tmp_path / "scenes.mp4", seconds=DURATION, fps=25, color_at=three_scenes)
    seen: list[float] = []
    artifact = chapters.process(MediaFile(path), {}, seen.append)
    data = json.loads(artifact.data or b"")
    found = data["chapters"]
    assert [c["index"] for c in found] == [0, 1, 2]
    assert found[0]["start"] == 0.0 and found[-1]["end"] == pytest.approx(DURATION, abs=0.05)
    for chapter, cut in zip(found[1:], CUTS, strict=True):
        assert chapter["start"] == pytest.approx(cut, abs=0.5)
    for before, after in zip(found, found[1:], strict=False):
        assert before["end"] == after["start"]
    assert [c["title"] for c in found] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert data["titles"] == "numbered" and artifact.summary["count"] == 3
    assert seen and seen[-1] == pytest.approx(1.0, abs=0.05)

    vtt = chapters.process(MediaFile(path), {"format": "vtt"})
    assert (vtt.extension, vtt.mimetype) == ("vtt", "text/vtt")
    cues = webvtt.from_string((vtt.data or b"").decode())
    assert [c.text for c in cues] == ["Chapter 1", "Chapter 2", "Chapter 3"]


def test_a_static_video_is_one_chapter(chapters: ChaptersOperator, tmp_path: Path) -> None:
    path = make_video(tmp_path / "static.mp4", seconds=6.0, color_at=lambda t: (90, 120, 60))
    data = json.loads(chapters.process(MediaFile(path), {}).data or b"")
    assert data["chapters"] == [{"index": 0, "start": 0.0, "end": 6.0, "title": "Chapter 1"}]


def test_audio_only_input_has_no_scenes(chapters: ChaptersOperator, tmp_path: Path) -> None:
    with pytest.raises(TaskError) as caught:
        chapters.process(MediaFile(make_audio(tmp_path / "tone.m4a")), {})
    assert caught.value.code == "no_video_stream"
