"""Detection kinds through a real server: upload, task, Ray actor, JSON output downloaded."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.e2e.conftest import Server, running_server
from tests.e2e.test_image_tasks import wait_done
from tests.support.vision import text_picture
from tests.support.yunet import write_model

pytestmark = pytest.mark.e2e


def test_text_task_is_ready_with_the_words_and_objects_without_weights_is_model_missing(
    server: Server, tmp_path: Path
) -> None:
    picture = tmp_path / "sign.png"
    text_picture(["Hello Strobe"]).save(picture)
    with server.client() as client:
        upload = client.post("/files", files={"file": ("sign.png", picture.read_bytes())})
        file_id = upload.json()["data"]["id"]
        text_id = client.post("/tasks", json={"file_id": file_id, "kind": "text"}).json()["data"][
            "id"
        ]
        objects_id = client.post(
            "/tasks", json={"file_id": file_id, "kind": "objects", "confidence": 0.3}
        ).json()["data"]["id"]
        bad = client.post("/tasks", json={"file_id": file_id, "kind": "faces", "confidence": 2})
        assert bad.status_code in (400, 422) and "confidence" in bad.text
        text, _ = wait_done(client, text_id)
        objects, _ = wait_done(client, objects_id)
    assert text["status"] == "ready", text["error"]
    output = text["output"]
    assert (output["object"], output["kind"], output["format"]) == ("intelligence", "text", "json")
    assert output["detected"] is True and output["count"] == 1
    data = httpx.get(output["url"], timeout=30).json()
    assert [e["text"] for e in data["timeline"]] == ["Hello Strobe"]
    assert objects["status"] == "error"
    assert objects["error"]["code"] == "model_missing"
    assert "strobe models fetch ssdlite320-coco" in objects["error"]["message"]


def test_faces_use_a_fetched_yunet_and_name_it_in_the_output(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    # A fresh server whose models directory holds a YuNet file at start (`auto` picks it);
    # the stand-in model finds a "face" at any all-blue 32 px cell (tests/support/yunet.py).
    data_dir = tmp_path_factory.mktemp("strobe-yunet")
    (data_dir / "models").mkdir()
    write_model(data_dir / "models" / "face_detection_yunet_2023mar.onnx")
    picture = tmp_path / "blue.png"
    canvas = Image.new("RGB", (320, 240))
    canvas.paste((0, 0, 255), (64, 96, 96, 128))
    canvas.save(picture)
    with running_server(data_dir) as server, server.client() as client:
        upload = client.post("/files", files={"file": ("blue.png", picture.read_bytes())})
        task = client.post(
            "/tasks", json={"file_id": upload.json()["data"]["id"], "kind": "faces"}
        ).json()["data"]
        task, _ = wait_done(client, task["id"])
        assert task["status"] == "ready", task["error"]
        output = task["output"]
        data = httpx.get(output["url"], timeout=30).json()
    assert output["model"] == data["model"] == "yunet-2023mar" and output["count"] == 1
    (face,) = data["timeline"]
    # the cell (2, 3) doubled around its centre: 48-112 x 80-144 of 320 x 240
    assert face["box"] == {"x": 0.15, "y": 0.3333, "width": 0.2, "height": 0.2667}
