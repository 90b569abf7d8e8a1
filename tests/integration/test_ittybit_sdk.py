"""The official `ittybit` Python SDK, unchanged, against an in-process Strobe app.

The SDK sends `Accept-Version: 2025-08-20` and parses bare objects and arrays into its
pydantic models; a task is completed here through the store, as a worker would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.ids import now_iso, output_file_id
from pipeline.storage import Storage, open_storage
from pipeline.store import FileRecord, Store, open_store
from tests.integration.conftest import Samples

ittybit = pytest.importorskip("ittybit")
# The SDK passes `timeout=` to its httpx client, which Starlette's TestClient warns about.
pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")


@pytest.fixture
def parts(settings: Settings) -> tuple[Settings, Store, Storage]:
    open_settings = replace(settings, allow_private_urls=True)
    return open_settings, open_store(settings.database_url), open_storage(settings.storage_url)


@pytest.fixture
def http(parts: tuple[Settings, Store, Storage]) -> Iterator[TestClient]:
    with TestClient(create_app(*parts)) as client:
        yield client


@pytest.fixture
def sdk(http: TestClient) -> object:
    return ittybit.Ittybit(base_url="http://testserver", api_key="sk_a", httpx_client=http)


def finish(store: Store, storage: Storage, task_id: str, source: Path) -> FileRecord:
    """What a worker does: lease the task, store an output, mark it ready."""
    (leased,) = store.lease("test-worker", ["image"], 1, 60.0, 3)
    assert leased.id == task_id
    key = f"{leased.project_id}/{task_id}/poster.jpg"
    size = storage.put_file(key, source, "image/jpeg")
    stamp = now_iso()
    output = FileRecord(
        id=output_file_id(task_id),
        project_id=leased.project_id,
        object="source",
        kind="image",
        filename="poster.jpg",
        mimetype="image/jpeg",
        filesize=size,
        storage_key=key,
        created=stamp,
        updated=stamp,
        info={"format": "jpeg", "codec": "mjpeg", "width": 400, "height": 300},
        task_id=task_id,
        ref=leased.options.get("ref"),
    )
    assert store.complete(task_id, "test-worker", output)
    return output


def test_tasks_through_the_sdk(
    sdk: object,
    http: TestClient,
    parts: tuple[Settings, Store, Storage],
    samples: Samples,
    http_base: str,
) -> None:
    _, store, storage = parts
    created = sdk.tasks.create(  # type: ignore[attr-defined]
        request={"url": f"{http_base}/integration/photo.jpg", "kind": "image", "ref": "poster"}
    )
    assert created.id.startswith("tsk_") and created.status == "waiting"
    assert created.options["ref"] == "poster" and created.output is None
    finish(store, storage, created.id, samples.photo)
    ready = sdk.tasks.get(created.id)  # type: ignore[attr-defined]
    assert ready.status == "ready" and ready.progress == 100 and ready.error is None
    assert ready.output["ref"] == "poster" and ready.output["type"] == "image/jpeg"
    assert ready.output["media_id"] == ready.input["media_id"]  # the output joins the input's
    assert http.get(ready.output["url"]).content == samples.photo.read_bytes()
    listed = sdk.tasks.list(page=1, limit=10)  # type: ignore[attr-defined]
    assert [t.id for t in listed] == [created.id]
    media = sdk.media.get(ready.output["media_id"])  # type: ignore[attr-defined]
    # The same file under its ref; each answer signs its own link (the expiry may have
    # ticked over a second between the two requests), so compare the path and fetch it.
    assert list(media.urls) == ["poster"]
    assert media.urls["poster"].split("?")[0] == ready.output["url"].split("?")[0]
    assert http.get(media.urls["poster"]).content == samples.photo.read_bytes()


def test_files_media_and_signatures_through_the_sdk(
    sdk: object, http: TestClient, samples: Samples, http_base: str
) -> None:
    client = sdk
    file = client.files.create(  # type: ignore[attr-defined]
        url=f"{http_base}/integration/clip.mp4", folder="in", ref="original", metadata={"a": 1}
    )
    assert (file.kind, file.type, file.width, file.frames) == ("video", "video/mp4", 160, 50)
    assert file.media_id.startswith("med_") and file.status == "ready"
    got = client.files.get(file.id)  # type: ignore[attr-defined]
    assert got.id == file.id and got.created == file.created
    assert [f.id for f in client.files.list(page=1, limit=5)] == [file.id]  # type: ignore[attr-defined]
    renamed = client.files.update(file.id, filename="intro.mp4")  # type: ignore[attr-defined]
    assert renamed.filename == "intro.mp4" and renamed.ref == "original"
    signature = client.signatures.create(filename="intro.mp4", folder="in")  # type: ignore[attr-defined]
    assert http.get(signature.url).content == samples.clip.read_bytes()
    media = client.media.create(title="Trailer")  # type: ignore[attr-defined]
    assert media.title == "Trailer" and media.files == []
    assert [m.id for m in client.media.list()][0] == media.id  # type: ignore[attr-defined]
    deleted = client.files.delete(file.id)  # type: ignore[attr-defined]
    assert "deleted" in (deleted.message or "")
    with pytest.raises(ittybit.core.api_error.ApiError) as missing:
        client.files.get(file.id)  # type: ignore[attr-defined]
    assert missing.value.status_code == 404
