"""Odd inputs for the detection kinds, and one task through execute(): the JSON is stored
and its summary lands in the output object."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from PIL import Image

from operators.base import Operator
from operators.faces import FacesOperator
from operators.nsfw import NsfwOperator
from operators.text import TextOperator
from pipeline.config import Settings
from pipeline.contract.errors import TaskError
from pipeline.executor import Job, execute
from pipeline.ids import new_id
from pipeline.media.file import MediaFile
from pipeline.storage import LocalStorage
from tests.support.vision import text_picture

OPERATORS = {"faces": FacesOperator, "text": TextOperator, "nsfw": NsfwOperator}


@pytest.fixture(scope="module")
def ready() -> dict[str, Operator]:
    loaded = {}
    for kind, cls in OPERATORS.items():
        loaded[kind] = cls()
        loaded[kind].setup()
    return loaded


@pytest.mark.parametrize("kind", sorted(OPERATORS))
@pytest.mark.parametrize("size", [(1, 1), (3, 500)])
def test_tiny_and_thin_images_give_an_empty_timeline(
    ready: dict[str, Operator], tmp_path: Path, kind: str, size: tuple[int, int]
) -> None:
    path = tmp_path / "tiny.png"
    Image.new("RGB", size, (120, 60, 30)).save(path)
    artifact = ready[kind].process(MediaFile(path), {})
    data = json.loads(artifact.data or b"")
    assert data["frames"] == 1 and data["timeline"] == [] and data["detected"] is False


@pytest.mark.parametrize("kind", sorted(OPERATORS))
def test_grayscale_and_rgba_photos_are_accepted(
    ready: dict[str, Operator], tmp_path: Path, kind: str
) -> None:
    for mode in ("L", "LA", "RGBA"):
        path = tmp_path / f"pic-{mode}.png"
        text_picture(["gray"]).convert(mode).save(path)
        data = json.loads(ready[kind].process(MediaFile(path), {}).data or b"")
        assert data["frames"] == 1, mode


def test_a_huge_image_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("L", (4000, 3000)).save(path)
    with pytest.raises(TaskError) as caught:
        MediaFile(path, max_pixels=10_000_000)
    assert caught.value.code == "input_too_large"


def test_a_video_with_no_frames_is_unreadable(ready: dict[str, Operator], tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()  # a header and a video stream, no packets
    assert path.stat().st_size > 0
    with pytest.raises(TaskError) as caught:
        ready["faces"].process(MediaFile(path), {})
    assert caught.value.code == "input_unreadable"


def test_start_after_the_end_is_out_of_range(ready: dict[str, Operator], tmp_path: Path) -> None:
    from tests.support.media import make_video

    video = make_video(tmp_path / "v.mp4", width=64, height=64, seconds=1.0)
    with pytest.raises(TaskError) as caught:
        ready["faces"].process(MediaFile(video), {"start": 5})
    assert caught.value.code == "option_out_of_range"


def test_a_text_task_stores_json_with_its_summary(
    ready: dict[str, Operator], settings: Settings, tmp_path: Path
) -> None:
    storage = LocalStorage(settings.storage_url.removeprefix("file://"))
    source = tmp_path / "sign.png"
    text_picture(["Hello Strobe"]).save(source)
    storage.put_file("prj_a/in/sign.png", source, "image/png")
    job = Job(new_id("tsk"), "prj_a", "text", {"format": "json"}, input_key="prj_a/in/sign.png")
    result = execute(job, ready["text"], storage, settings)
    assert result.ok, result.error
    output = result.output
    assert output is not None and output.object == "intelligence" and output.kind == "text"
    assert output.mimetype == "application/json" and output.filename.endswith(".json")
    assert output.info == {"format": "json", "detected": True, "count": 1, "frames": 1}
    data = json.loads((storage.root / output.storage_key).read_bytes())
    assert [e["text"] for e in data["timeline"]] == ["Hello Strobe"]
