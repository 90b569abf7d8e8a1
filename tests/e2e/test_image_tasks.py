"""Tasks through a real server: HTTP in, Ray workers, PyAV, storage, real files out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.e2e.conftest import Server
from tests.support.media import make_image, make_video

pytestmark = pytest.mark.e2e
POLL_TIMEOUT_S = 120


def wait_done(client: httpx.Client, task_id: str) -> tuple[dict[str, Any], list[str]]:
    """Poll until ready or error; also return every status seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        task = client.get(f"/tasks/{task_id}").json()["data"]
        if not seen or seen[-1] != task["status"]:
            seen.append(task["status"])
        if task["status"] in ("ready", "error"):
            return task, seen
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} still {seen[-1]} after {POLL_TIMEOUT_S} s")


def decode_still(data: bytes, tmp_path: Path, name: str) -> tuple[str, int, int]:
    path = tmp_path / name
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        return stream.codec_context.name, frame.width, frame.height


@pytest.fixture(scope="module")
def inputs(media_dir: Path) -> Path:
    make_video(media_dir / "video.mp4", width=320, height=180, seconds=2.0, audio=True)
    full = make_video(media_dir / "full.mp4", width=160, height=90, seconds=2.0)
    (media_dir / "truncated.mp4").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    (media_dir / "notes.txt").write_text("this is not media\n" * 50)
    (media_dir / "empty.mp4").write_bytes(b"")
    return media_dir


def test_spec_example_goes_waiting_processing_ready(
    server: Server, inputs: Path, http_base: str, tmp_path: Path
) -> None:
    with server.client() as client:
        body = {
            "url": f"{http_base}/slow/1.5/video.mp4",
            "format": "jpeg",
            "filename": "poster.jpg",
            "width": 640,
        }
        created = client.post("/tasks", json=body)
        assert created.status_code == 201
        task = created.json()["data"]
        assert task["status"] == "waiting"
        assert {"kind": "image", "filename": "poster.jpg", "width": 640}.items() <= task[
            "output"
        ].items()
        done, seen = wait_done(client, task["id"])
    assert done["status"] == "ready", done["error"]
    assert seen[-2:] == ["processing", "ready"]
    output = done["output"]
    assert output["id"].startswith("file_") and output["object"] == "source"
    assert (output["kind"], output["format"], output["mimetype"]) == ("image", "jpeg", "image/jpeg")
    assert (output["width"], output["height"]) == (640, 360)  # 16:9 kept
    assert output["filename"] == "poster.jpg" and done["progress"] == 100
    download = httpx.get(output["url"], timeout=30)  # signed link, no API key
    assert download.status_code == 200 and len(download.content) == output["filesize"]
    assert decode_still(download.content, tmp_path, "poster.jpg") == ("mjpeg", 640, 360)


def test_uploaded_image_to_avif(server: Server, tmp_path: Path) -> None:
    picture = make_image(tmp_path / "in.png", width=400, height=300)
    with server.client() as client:
        upload = client.post(
            "/files", files={"file": ("in.png", picture.read_bytes(), "image/png")}
        )
        assert upload.status_code == 201
        file_id = upload.json()["data"]["id"]
        task_id = client.post(
            "/tasks",
            json={
                "file_id": file_id,
                "format": "avif",
                "width": 100,
                "height": 100,
                "fit": "cover",
            },
        ).json()["data"]["id"]
        done, _ = wait_done(client, task_id)
        assert done["status"] == "ready", done["error"]
        assert done["input"] == file_id
        content = client.get(f"/files/{done['output']['id']}/content").content
    codec, width, height = decode_still(content, tmp_path, "out.avif")
    assert codec in {"libdav1d", "av1"} and (width, height) == (100, 100)


def test_a_signed_put_upload_without_the_key_then_a_task_on_it(
    server: Server, tmp_path: Path
) -> None:
    """A browser-style upload: the key holder signs a PUT URL; a plain client with no key
    PUTs the bytes over a real socket; the task on the stored file turns `ready`."""
    picture = make_image(tmp_path / "snap.png", width=320, height=240)
    with server.client() as client:
        signed = client.post("/signatures", json={"method": "put", "filename": "snap.png"})
        assert signed.status_code == 201, signed.text
        url = signed.json()["data"]["url"]
    with httpx.Client(timeout=30) as keyless:
        put = keyless.put(url, content=picture.read_bytes(), headers={"Content-Type": "image/png"})
        assert put.status_code == 201, put.text
        file_id = put.json()["data"]["id"]
        assert keyless.put(url.replace("method=put", "method=get"), content=b"x").status_code == 403
    with server.client() as client:
        task_id = client.post(
            "/tasks", json={"file_id": file_id, "format": "jpeg", "width": 80}
        ).json()["data"]["id"]
        done, _ = wait_done(client, task_id)
        assert done["status"] == "ready", done["error"]
        content = client.get(f"/files/{done['output']['id']}/content").content
    codec, width, height = decode_still(content, tmp_path, "out.jpg")
    assert codec == "mjpeg" and (width, height) == (80, 60)


def test_bad_inputs_fail_their_task_and_the_worker_carries_on(
    server: Server, inputs: Path, http_base: str
) -> None:
    cases = {
        "status/404": "input_unreachable",
        "slow/6/video.mp4": "input_unreachable",  # fetch timeout is 2 s
        "notes.txt": "input_unreadable",
        "truncated.mp4": "input_unreadable",
        "empty.mp4": "input_unreadable",
    }
    with server.client() as client:
        ids = {
            path: client.post(
                "/tasks", json={"url": f"{http_base}/{path}", "format": "png"}
            ).json()["data"]["id"]
            for path in cases
        }
        late = client.post(
            "/tasks", json={"url": f"{http_base}/video.mp4", "format": "png", "start": 30}
        ).json()["data"]["id"]
        for path, code in cases.items():
            task, _ = wait_done(client, ids[path])
            assert task["status"] == "error", path
            assert task["error"]["code"] == code, (path, task["error"])
            assert task["error"]["message"]
        task, _ = wait_done(client, late)
        assert task["error"]["code"] == "option_out_of_range"
        assert "start" in task["error"]["message"]
        # The same server still does good work afterwards.
        good = client.post(
            "/tasks", json={"url": f"{http_base}/video.mp4", "format": "webp", "start": 1.0}
        ).json()["data"]["id"]
        task, _ = wait_done(client, good)
    assert task["status"] == "ready" and task["output"]["width"] == 320


def test_another_project_sees_nothing(server: Server, inputs: Path, http_base: str) -> None:
    with server.client("sk_e2e_a") as mine, server.client("sk_e2e_b") as theirs:
        task_id = mine.post(
            "/tasks", json={"url": f"{http_base}/video.mp4", "format": "jpeg"}
        ).json()["data"]["id"]
        done, _ = wait_done(mine, task_id)
        file_id = done["output"]["id"]
        assert theirs.get(f"/tasks/{task_id}").status_code == 404
        assert theirs.get(f"/files/{file_id}").status_code == 404
        assert theirs.get(f"/files/{file_id}/content").status_code == 404
        assert all(t["id"] != task_id for t in theirs.get("/tasks?limit=100").json()["data"])
