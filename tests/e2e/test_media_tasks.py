"""Video and thumbnails tasks through a real server: outputs downloaded and decoded."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_image_tasks import wait_done
from tests.support.media import make_video
from tests.support.transcode import decode_all

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clip(media_dir: Path) -> str:
    make_video(media_dir / "talk.mp4", width=320, height=180, seconds=2.0, audio=True)
    return "talk.mp4"


def test_mp4_task(server: Server, clip: str, http_base: str, tmp_path: Path) -> None:
    with server.client() as client:
        body = {"url": f"{http_base}/{clip}", "format": "mp4", "width": 160, "start": 0.5}
        created = client.post("/tasks", json=body)
        assert created.status_code == 201 and created.json()["data"]["kind"] == "video"
        done, _ = wait_done(client, created.json()["data"]["id"])
    assert done["status"] == "ready", done["error"]
    output = done["output"]
    assert (output["kind"], output["format"], output["mimetype"]) == ("video", "mp4", "video/mp4")
    assert (output["codec"], output["audio_codec"], output["width"], output["height"]) == (
        "h264",
        "aac",
        160,
        90,
    )
    assert output["encoder"] == "libx264" and output["duration"] == pytest.approx(1.5, abs=0.1)
    path = tmp_path / "out.mp4"
    path.write_bytes(httpx.get(output["url"], timeout=30).content)
    decoded = decode_all(path)
    assert decoded.size == (160, 90) and decoded.audio_codec == "aac"
    assert decoded.video_seconds == pytest.approx(1.5, abs=0.08)


def test_codec_option(server: Server, clip: str, http_base: str, tmp_path: Path) -> None:
    with server.client() as client:
        body = {"url": f"{http_base}/{clip}", "format": "webm", "codec": "vp8", "end": 1.0}
        created = client.post("/tasks", json=body)
        assert created.status_code == 201
        assert created.json()["data"]["output"]["codec"] == "vp8"  # echoed while it waits
        done, _ = wait_done(client, created.json()["data"]["id"])
    assert done["status"] == "ready", done["error"]
    output = done["output"]
    assert (output["codec"], output["audio_codec"], output["encoder"]) == ("vp8", "opus", "libvpx")
    path = tmp_path / "out.webm"
    path.write_bytes(httpx.get(output["url"], timeout=30).content)
    decoded = decode_all(path)
    assert (decoded.video_codec, decoded.size) == ("vp8", (320, 180))
    assert decoded.video_seconds == pytest.approx(1.0, abs=0.08)


def test_thumbnails_task(server: Server, clip: str, http_base: str) -> None:
    with server.client() as client:
        body = {"url": f"{http_base}/{clip}", "kind": "thumbnails", "count": 4, "width": 80}
        task_id = client.post("/tasks", json=body).json()["data"]["id"]
        done, _ = wait_done(client, task_id)
    assert done["status"] == "ready", done["error"]
    output = done["output"]
    assert (output["object"], output["count"], output["width"], output["height"]) == (
        "track",
        4,
        80,
        45,
    )
    assert len(output["urls"]) == 4
    for url in output["urls"]:
        image = httpx.get(url, timeout=30)
        assert image.status_code == 200 and image.content[:3] == b"\xff\xd8\xff"
    vtt = httpx.get(output["links"]["vtt"], timeout=30).text
    assert vtt.startswith("WEBVTT") and vtt.count("sprite.jpg#xywh=") == 4
    # The VTT names the sprite relative to itself: that URL resolves too.
    sprite_url = output["links"]["vtt"].rsplit("/", 1)[0] + "/sprite.jpg"
    assert httpx.get(sprite_url, timeout=30).content[:3] == b"\xff\xd8\xff"
    index = httpx.get(output["url"], timeout=30).json()
    assert index["count"] == 4 and index["vtt"] == "thumbnails.vtt"


def test_cmaf_task_playlists_resolve_over_http(server: Server, clip: str, http_base: str) -> None:
    with server.client() as client:
        body = {"url": f"{http_base}/{clip}", "format": "cmaf"}
        task_id = client.post("/tasks", json=body).json()["data"]["id"]
        done, _ = wait_done(client, task_id)
    assert done["status"] == "ready", done["error"]
    output = done["output"]
    assert output["renditions"][0] == {
        "width": 320,
        "height": 180,
        "bitrate": 144_000,
        "sample_aspect_ratio": "1:1",
    }
    master = httpx.get(output["url"], timeout=30)
    assert master.status_code == 200 and master.text.startswith("#EXTM3U")
    base = output["url"].rsplit("/", 1)[0]
    media = httpx.get(f"{base}/media_0.m3u8", timeout=30).text
    segment = next(line for line in media.splitlines() if line.endswith(".m4s"))
    assert httpx.get(f"{base}/{segment}", timeout=30).status_code == 200
    mpd = httpx.get(output["links"]["dash"], timeout=30)
    assert mpd.status_code == 200 and "<MPD" in mpd.text
