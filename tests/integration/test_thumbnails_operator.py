"""The thumbnails operator: frames, a sprite sheet and a WebVTT track that agree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from operators.thumbnails import ThumbnailsOperator
from pipeline.contract.errors import TaskError
from pipeline.contract.media import Artifact
from pipeline.media.file import MediaFile
from tests.integration.conftest import Samples
from tests.support.samples import level_time
from tests.support.transcode import make_turned_video, marked_corner

CUE = re.compile(r"(\d+):(\d\d):(\d\d)\.(\d{3}) --> (\d+):(\d\d):(\d\d)\.(\d{3})")


def run(source: Path, **options: Any) -> Artifact:
    return ThumbnailsOperator().process(MediaFile(source), options)


def assets(artifact: Artifact) -> dict[str, bytes]:
    return {a.name: a.data or b"" for a in artifact.assets}


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    lines = text.splitlines()
    assert lines[0] == "WEBVTT"
    cues = []
    for index, line in enumerate(lines):
        match = CUE.fullmatch(line)
        if match:
            h1, m1, s1, f1, h2, m2, s2, f2 = (int(g) for g in match.groups())
            start = h1 * 3600 + m1 * 60 + s1 + f1 / 1000
            end = h2 * 3600 + m2 * 60 + s2 + f2 / 1000
            cues.append((start, end, lines[index + 1]))
    return cues


def load(data: bytes, tmp_path: Path, name: str) -> Image.Image:
    path = tmp_path / name.replace("/", "_")
    path.write_bytes(data)
    return Image.open(path)


@pytest.mark.parametrize(("options", "count"), [({"count": 5}, 5), ({"interval": 0.3}, 7)])
def test_vtt_sprite_and_frames_agree(
    samples: Samples, tmp_path: Path, options: dict[str, Any], count: int
) -> None:
    artifact = run(samples.clip, width=80, **options)
    files = assets(artifact)
    summary = artifact.summary
    assert (summary["count"], summary["width"], summary["height"]) == (count, 80, 45)
    assert summary["urls"] == [f"thumbnails/{i:04d}.jpg" for i in range(1, count + 1)]
    assert summary["links"] == {"sprite": "sprite.jpg", "vtt": "thumbnails.vtt"}
    index = json.loads(artifact.data or b"")
    assert index["count"] == count and index["sprite"] == "sprite.jpg"

    sprite = load(files["sprite.jpg"], tmp_path, "sprite.jpg")
    cues = parse_vtt(files["thumbnails.vtt"].decode())
    assert len(cues) == count
    # The cues cover the whole clip, back to back.
    assert cues[0][0] == 0 and cues[-1][1] == pytest.approx(2.0)
    assert all(a[1] == b[0] for a, b in zip(cues, cues[1:], strict=False))
    for i, (start, _end, target) in enumerate(cues):
        name, _, box = target.partition("#xywh=")
        assert name == "sprite.jpg"
        x, y, w, h = (int(v) for v in box.split(","))
        assert (w, h) == (80, 45)
        assert x >= 0 and y >= 0 and x + w <= sprite.width and y + h <= sprite.height
        # The tile shows the frame at the cue's start (steep_ramp: level = 100 * t).
        level = float(np.asarray(sprite.convert("L").crop((x, y, x + w, y + h))).mean())
        assert level_time(level) == pytest.approx(start, abs=0.06)
        thumb = load(files[summary["urls"][i]], tmp_path, summary["urls"][i])
        assert thumb.size == (80, 45) and thumb.format == "JPEG"


def test_defaults_and_trim(samples: Samples) -> None:
    artifact = run(samples.clip, start=1.0)
    assert (artifact.summary["count"], artifact.summary["width"]) == (10, 160)
    cues = parse_vtt(assets(artifact)["thumbnails.vtt"].decode())
    assert cues[0][0] == 1.0 and cues[-1][1] == pytest.approx(2.0)


def test_too_many_thumbnails_are_out_of_range(samples: Samples) -> None:
    with pytest.raises(TaskError) as caught:
        run(samples.clip, interval=0.001)
    assert caught.value.code == "option_out_of_range"


def test_a_turned_phone_video_gives_upright_thumbnails(tmp_path: Path) -> None:
    # Stored 320x180 with a red patch top-left, shown turned 90 degrees counter-clockwise.
    source = make_turned_video(tmp_path / "phone.mp4", rotation=90)
    artifact = run(source, count=2, width=90)
    assert (artifact.summary["width"], artifact.summary["height"]) == (90, 160)
    files = assets(artifact)
    first = load(files["thumbnails/0001.jpg"], tmp_path, "first.jpg")
    assert first.size == (90, 160)
    assert marked_corner(np.asarray(first.convert("RGB"))) == "bottom-left"
    sprite = load(files["sprite.jpg"], tmp_path, "sprite.jpg")
    assert sprite.size == (180, 160)
