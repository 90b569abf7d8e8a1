"""Stored task and file records -> wire objects, with signed download links."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.api.presenters import Presenter, timestamp
from pipeline.storage import LocalStorage
from pipeline.storage.signing import verify
from tests.support.records import file_record, output_for, stamp, task_record

SECRET = "test-secret"
TTL_S = 600


class PresigningStorage(LocalStorage):
    """Local storage that pretends to hand out direct links, as S3 would."""

    def presigned_url(
        self,
        key: str,
        expires_in: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str | None:
        return f"https://bucket.test/{key}?ttl={expires_in}"


@pytest.fixture
def presenter(tmp_path: Path) -> Presenter:
    return Presenter("https://strobe.test/", SECRET, LocalStorage(tmp_path / "objects"), TTL_S)


@pytest.mark.parametrize(
    ("stored", "wire"),
    [
        ("2026-01-02T03:04:05.678901Z", "2026-01-02T03:04:05.678Z"),
        ("2026-01-02T03:04:05.000000Z", "2026-01-02T03:04:05.000Z"),
        ("2026-01-02T03:04:05.5Z", "2026-01-02T03:04:05.500Z"),
        ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000Z"),
    ],
)
def test_timestamp_has_milliseconds_and_a_z(stored: str, wire: str) -> None:
    assert timestamp(stored) == wire


def test_a_waiting_task_echoes_what_was_asked_for(presenter: Presenter) -> None:
    task = task_record(options={"format": "png", "width": 10}, updated=stamp(5))
    assert presenter.task(task) == {
        "id": task.id,
        "object": "task",
        "kind": "image",
        "input": "https://example.com/input.jpg",
        "output": {"kind": "image", "format": "png", "width": 10},
        "status": "waiting",
        "progress": 0,
        "error": None,
        "created": "2026-01-02T03:04:05.000Z",
        "updated": "2026-01-02T03:04:05.005Z",
    }


def test_a_task_on_an_uploaded_file_shows_the_file_id_as_input(presenter: Presenter) -> None:
    task = task_record(input_file_id="file_in")
    assert presenter.task(task)["input"] == "file_in"


def test_a_processing_task_still_echoes_the_request(presenter: Presenter) -> None:
    task = replace(task_record(), status="processing", progress=40)
    shown = presenter.task(task)
    assert (shown["status"], shown["progress"]) == ("processing", 40)
    assert shown["output"] == {"kind": "image", "format": "jpeg"}


def test_a_ready_task_shows_its_output_file(presenter: Presenter) -> None:
    task = task_record()
    output = output_for(task, filesize=999)
    ready = replace(task, status="ready", progress=100, output=output)
    shown = presenter.task(ready)
    assert shown["output"] == presenter.file(output)
    assert shown["output"]["id"] == output.id
    assert shown["error"] is None


def test_a_failed_task_shows_its_error(presenter: Presenter) -> None:
    task = replace(
        task_record(), status="error", error_code="input_unreachable", error_message="HTTP 404"
    )
    shown = presenter.task(task)
    assert shown["error"] == {"code": "input_unreachable", "message": "HTTP 404"}
    assert shown["output"] == {"kind": "image", "format": "jpeg"}


def test_a_file_object(presenter: Presenter) -> None:
    file = file_record(
        task_id="tsk_1",
        filesize=2048,
        info={"format": "jpeg", "codec": "mjpeg", "width": 64, "height": 48, "detected": True},
    )
    shown = presenter.file(file)
    url = shown.pop("url")
    assert shown == {
        "id": file.id,
        "object": "source",
        "kind": "image",
        "format": "jpeg",
        "container": None,
        "codec": "mjpeg",
        "width": 64,
        "height": 48,
        "duration": None,
        "fps": None,
        "bitrate": None,
        "detected": True,  # an operator's summary field is shown as is
        "mimetype": "image/jpeg",
        "filename": "out.jpg",
        "filesize": 2048,
        "task_id": "tsk_1",
        "media_id": None,  # the library fields, added in both dialects
        "ref": None,
        "folder": None,
        "metadata": {},
        "created": "2026-01-02T03:04:05.000Z",
        "updated": "2026-01-02T03:04:05.000Z",
    }
    assert url.startswith(f"https://strobe.test/files/{file.id}/content?")


def test_local_files_get_a_signed_expiring_api_link(presenter: Presenter) -> None:
    file = file_record()
    before = int(time.time())
    parts = urlsplit(presenter.file(file)["url"])
    assert parts.path == f"/files/{file.id}/content"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    expires = int(query["expires"])
    assert before + TTL_S <= expires <= int(time.time()) + TTL_S
    assert verify(SECRET, file.id, expires, query["signature"])
    assert not verify("another-secret", file.id, expires, query["signature"])
    assert not verify(SECRET, "file_other", expires, query["signature"])


def test_a_storage_with_direct_links_is_used_as_is(tmp_path: Path) -> None:
    presenter = Presenter("https://strobe.test", SECRET, PresigningStorage(tmp_path), TTL_S)
    file = file_record()
    assert presenter.file(file)["url"] == f"https://bucket.test/{file.storage_key}?ttl={TTL_S}"


def test_assets_are_served_from_a_path_signed_folder(presenter: Presenter) -> None:
    file = file_record(
        info={
            "format": "cmaf",
            "assets": {"v/seg_1.m4s": "video/iso.segment", "sprite.jpg": "image/jpeg"},
            "urls": ["sprite.jpg"],
            "links": {"segment": "v/seg_1.m4s"},
        },
    )
    shown = presenter.file(file)
    assert "assets" not in shown
    main, sprite, segment = shown["url"], shown["urls"][0], shown["links"]["segment"]
    for url, name in ((main, file.filename), (sprite, "sprite.jpg"), (segment, "v/seg_1.m4s")):
        parts = urlsplit(url)
        prefix, _, rest = parts.path.partition("/t/")
        assert prefix == f"/files/{file.id}" and not parts.query
        expires, signature, asset = rest.split("/", 2)
        assert asset == name and verify(SECRET, file.id, int(expires), signature)
    # A playlist's relative reference resolves to a link signed the same way.
    from urllib.parse import urljoin

    assert urljoin(main, "v/seg_1.m4s") == segment
