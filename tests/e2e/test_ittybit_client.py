"""The official `ittybit` SDK, unchanged, against a real `strobe serve` with Ray workers."""

from __future__ import annotations

import time
from pathlib import Path

import av
import httpx
import pytest

from tests.e2e.conftest import Server
from tests.support.media import make_video

ittybit = pytest.importorskip("ittybit")
pytestmark = pytest.mark.e2e


def test_the_sdk_runs_the_whole_flow(
    server: Server, media_dir: Path, http_base: str, tmp_path: Path
) -> None:
    make_video(media_dir / "sdk.mp4", width=320, height=180, seconds=2.0, audio=True)
    client = ittybit.Ittybit(base_url=server.url, api_key="sk_e2e_a")

    task = client.tasks.create(
        request={
            "url": f"{http_base}/sdk.mp4",
            "kind": "image",
            "format": "jpeg",
            "width": 160,
            "ref": "poster",
        }
    )
    deadline = time.monotonic() + 120
    while task.status not in ("ready", "error"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
        task = client.tasks.get(task.id)
    assert task.status == "ready", task.error
    output = task.output
    assert output["ref"] == "poster" and output["type"] == "image/jpeg"
    jpeg = tmp_path / "poster.jpg"
    jpeg.write_bytes(httpx.get(output["url"], timeout=30).content)
    with av.open(str(jpeg)) as container:
        codec = container.streams.video[0].codec_context.name
        frame = next(container.decode(video=0))
    assert (codec, frame.width, frame.height) == (
        "mjpeg",
        160,
        90,
    )
    assert task.id in [t.id for t in client.tasks.list(page=1, limit=100)]

    file = client.files.create(url=f"{http_base}/sdk.mp4", folder="e2e", ref="source")
    assert (file.kind, file.width, file.height) == ("video", 320, 180)
    assert client.files.get(file.id).id == file.id
    signature = client.signatures.create(filename=file.filename, folder="e2e")
    assert httpx.get(signature.url, timeout=30).content == (media_dir / "sdk.mp4").read_bytes()
    client.files.delete(file.id)
    with pytest.raises(ittybit.core.api_error.ApiError) as missing:
        client.files.get(file.id)
    assert missing.value.status_code == 404
