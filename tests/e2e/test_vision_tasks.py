"""Detection kinds through a real server: upload, task, Ray actor, JSON output downloaded."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_image_tasks import wait_done
from tests.support.vision import text_picture

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
