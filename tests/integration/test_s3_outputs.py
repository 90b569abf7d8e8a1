"""Outputs and uploads in S3: the real executor and the API in-process, on a moto server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from fastapi.testclient import TestClient

from operators.image import ImageOperator
from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.executor import Job, execute
from pipeline.ids import new_id
from pipeline.storage import open_storage
from pipeline.storage.s3 import S3Storage
from pipeline.store import open_store
from tests.integration.conftest import Samples
from tests.support.media import decode_picture
from tests.support.s3 import list_keys, new_bucket
from tests.support.samples import steep_ramp

PROJECT = "prj_a"
PREFIX = "strobe"
A = {"Authorization": "Bearer sk_a"}


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    return new_bucket(s3_endpoint)


@pytest.fixture
def s3_settings(settings: Settings, s3_endpoint: str, bucket: str) -> Settings:
    """The test settings with `STROBE_STORAGE_URL=s3://bucket/strobe` on the moto server."""
    return dataclasses.replace(
        settings, storage_url=f"s3://{bucket}/{PREFIX}", s3_endpoint_url=s3_endpoint
    )


@pytest.fixture
def storage(s3_settings: Settings) -> S3Storage:
    storage = open_storage(s3_settings.storage_url, s3_settings.s3_endpoint_url)
    assert isinstance(storage, S3Storage)
    storage.check()
    return storage


def image_job(*, input_url: str | None = None, input_key: str | None = None, **options: Any) -> Job:
    return Job(
        task_id=new_id("tsk"),
        project_id=PROJECT,
        kind="image",
        options={"format": "jpeg", **options},
        input_url=input_url,
        input_key=input_key,
    )


def download(url: str, path: Path) -> Path:
    response = httpx.get(url)  # no credentials: the signature is the permission
    assert response.status_code == 200, response.text
    path.write_bytes(response.content)
    return path


def jpeg_size(path: Path) -> tuple[int, int]:
    """Decode with PyAV: the file really is a JPEG picture; returns (width, height)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "mjpeg"
        frame = next(container.decode(stream))
        return frame.width, frame.height


# --- the executor writes into S3 ---------------------------------------------------------


def test_an_output_lands_in_the_bucket_and_downloads_by_its_presigned_url(
    samples: Samples,
    http_base: str,
    storage: S3Storage,
    s3_settings: Settings,
    s3_endpoint: str,
    bucket: str,
    tmp_path: Path,
) -> None:
    loopback = dataclasses.replace(s3_settings, allow_private_urls=True)
    clip_url = f"{http_base}/{samples.clip.relative_to(samples.root.parent).as_posix()}"
    job = image_job(input_url=clip_url, filename="poster.jpg", width=80)
    result = execute(job, ImageOperator(), storage, loopback)
    assert result.ok, result.error
    record = result.output
    assert record is not None
    key = f"{PROJECT}/{job.task_id}/poster.jpg"  # deterministic: a retry overwrites it
    assert record.storage_key == key
    assert list_keys(s3_endpoint, bucket) == [f"{PREFIX}/{key}"]
    assert storage.exists(key)

    url = storage.presigned_url(key, 300)
    assert url is not None and url.startswith(s3_endpoint)
    local = download(url, tmp_path / "poster.jpg")
    assert record.filesize == local.stat().st_size
    assert jpeg_size(local) == (80, 45)
    assert httpx.get(url).headers["content-type"] == "image/jpeg"


def test_a_storage_key_input_from_the_bucket(
    samples: Samples, storage: S3Storage, s3_settings: Settings, tmp_path: Path
) -> None:
    key = f"{PROJECT}/uploads/file_in/clip.mp4"
    storage.put_file(key, samples.clip, "video/mp4")
    job = image_job(input_key=key, start=1.03, height=45)
    result = execute(job, ImageOperator(), storage, s3_settings)
    assert result.ok and result.output is not None, result.error
    url = storage.presigned_url(result.output.storage_key, 300)
    assert url is not None
    local = download(url, tmp_path / "still.jpg")
    assert jpeg_size(local) == (80, 45)
    assert float(decode_picture(local).mean()) == pytest.approx(steep_ramp(1.04)[0], abs=3)
    assert storage.exists(key)  # the input is left alone
    assert not any((s3_settings.data_dir / "work").iterdir())  # no scratch files left


def test_a_missing_input_key_in_the_bucket_is_unreadable(
    storage: S3Storage, s3_settings: Settings
) -> None:
    result = execute(
        image_job(input_key=f"{PROJECT}/uploads/file_gone/clip.mp4"),
        ImageOperator(),
        storage,
        s3_settings,
    )
    assert result.error is not None
    assert result.error.code == "input_unreadable" and "missing" in result.error.message


# --- the API with S3 storage -------------------------------------------------------------


@pytest.fixture
def client(s3_settings: Settings, storage: S3Storage) -> Iterator[TestClient]:
    app = create_app(s3_settings, open_store(s3_settings.database_url), storage)
    with TestClient(app) as test_client:
        yield test_client


def test_an_upload_lands_in_the_bucket_and_downloads_both_ways(
    client: TestClient, samples: Samples, s3_endpoint: str, bucket: str
) -> None:
    body = samples.photo.read_bytes()
    response = client.post(
        "/files?filename=photo.jpg", content=body, headers={**A, "Content-Type": "image/jpeg"}
    )
    assert response.status_code == 201, response.text
    file = response.json()["data"]
    assert file["filesize"] == len(body) and (file["width"], file["height"]) == (400, 300)
    key = f"{PROJECT}/uploads/{file['id']}/photo.jpg"
    assert list_keys(s3_endpoint, bucket) == [f"{PREFIX}/{key}"]

    # The file object's url is a presigned S3 GET, not a link back to the API.
    url = client.get(f"/files/{file['id']}", headers=A).json()["data"]["url"]
    assert url.startswith(f"{s3_endpoint}/{bucket}/{PREFIX}/{key}?")
    direct = httpx.get(url)
    assert direct.status_code == 200 and direct.content == body
    assert direct.headers["content-type"] == "image/jpeg"

    # With the API key, the API streams the bytes out of the bucket itself.
    content = client.get(f"/files/{file['id']}/content", headers=A)
    assert content.status_code == 200 and content.content == body
    assert content.headers["content-type"] == "image/jpeg"
    assert content.headers["content-length"] == str(len(body))

    # Another project still sees nothing.
    other = {"Authorization": "Bearer sk_b"}
    assert client.get(f"/files/{file['id']}/content", headers=other).status_code == 404


def test_a_multipart_form_upload_to_s3(
    client: TestClient, samples: Samples, s3_endpoint: str, bucket: str
) -> None:
    body = samples.clip.read_bytes()
    response = client.post("/files", files={"file": ("clip.mp4", body, "video/mp4")}, headers=A)
    assert response.status_code == 201, response.text
    file = response.json()["data"]
    assert (file["kind"], file["mimetype"]) == ("video", "video/mp4")
    assert httpx.get(file["url"]).content == body
    assert f"{PREFIX}/{PROJECT}/uploads/{file['id']}/clip.mp4" in list_keys(s3_endpoint, bucket)


def test_an_unreachable_endpoint_is_a_retryable_task_error(settings: Settings) -> None:
    from tests.support.processes import free_port

    storage = S3Storage("strobe-outputs", endpoint_url=f"http://127.0.0.1:{free_port()}")
    job = Job(
        task_id=new_id("tsk"),
        project_id="prj_a",
        kind="image",
        options={"format": "jpeg"},
        input_key="prj_a/uploads/x/in.png",
    )
    result = execute(job, ImageOperator(), storage, settings)
    assert result.error is not None
    assert result.error.code == "storage_unavailable"
    assert result.error.retryable is True
