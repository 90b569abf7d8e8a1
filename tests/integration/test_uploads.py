"""stored_upload() into local storage and a real SQLite store, with real media."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.storage import LocalStorage
from pipeline.store import FileRecord
from pipeline.store.sqlite import SQLiteStore
from pipeline.uploads import stored_upload
from tests.integration.conftest import CLIP_SECONDS, CLIP_SIZE, Samples
from tests.support.samples import make_png_claiming

PROJECT = "prj_a"
MAX_PIXELS = 100_000_000


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "strobe.db")


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "objects")


def upload(
    source: Path,
    tmp_path: Path,
    store: SQLiteStore,
    storage: LocalStorage,
    *,
    filename: str,
    content_type: str | None = None,
    max_pixels: int = MAX_PIXELS,
) -> FileRecord:
    # The upload route writes the body to `upload` in a scratch directory, then calls this.
    path = tmp_path / "upload"
    shutil.copyfile(source, path)
    record = stored_upload(
        path,
        filename=filename,
        content_type=content_type,
        project_id=PROJECT,
        storage=storage,
        max_pixels=max_pixels,
    )
    store.create_file(record)
    return record


def assert_stored(
    record: FileRecord, source: Path, store: SQLiteStore, storage: LocalStorage
) -> None:
    assert record.id.startswith("file_") and record.project_id == PROJECT
    assert record.object == "source" and record.task_id is None
    assert record.storage_key == f"{PROJECT}/uploads/{record.id}/{record.filename}"
    assert record.filesize == source.stat().st_size
    assert (storage.root / record.storage_key).read_bytes() == source.read_bytes()
    assert store.get_file(PROJECT, record.id) == record
    assert store.get_file(None, record.id) == record
    assert store.get_file("prj_b", record.id) is None


def test_a_video_is_probed_and_stored(
    samples: Samples, tmp_path: Path, store: SQLiteStore, storage: LocalStorage
) -> None:
    record = upload(
        samples.clip_with_audio,
        tmp_path,
        store,
        storage,
        filename="clip.mp4",
        content_type="video/mp4",
    )
    assert (record.kind, record.filename, record.mimetype) == ("video", "clip.mp4", "video/mp4")
    info = record.info
    assert (info["width"], info["height"]) == CLIP_SIZE
    assert (info["container"], info["codec"]) == ("mov", "h264")
    assert info["duration"] == pytest.approx(CLIP_SECONDS, abs=0.1)
    assert info["fps"] == pytest.approx(25)
    assert info["bitrate"] > 0
    assert_stored(record, samples.clip_with_audio, store, storage)


def test_an_image_is_probed_and_stored(
    samples: Samples, tmp_path: Path, store: SQLiteStore, storage: LocalStorage
) -> None:
    record = upload(samples.photo, tmp_path, store, storage, filename="photo.jpg")
    assert (record.kind, record.mimetype) == ("image", "image/jpeg")  # guessed from the name
    assert (record.info["width"], record.info["height"]) == (400, 300)
    assert record.info["codec"] == "mjpeg" and record.info["duration"] is None
    assert_stored(record, samples.photo, store, storage)


def test_audio_only_is_kind_audio(
    samples: Samples, tmp_path: Path, store: SQLiteStore, storage: LocalStorage
) -> None:
    record = upload(samples.audio, tmp_path, store, storage, filename="tone.m4a")
    assert record.kind == "audio"
    assert record.info["codec"] == "aac" and record.info["width"] is None
    assert record.info["duration"] == pytest.approx(1.0, abs=0.1)
    assert_stored(record, samples.audio, store, storage)


def test_a_text_file_is_kept_as_a_plain_file(
    samples: Samples, tmp_path: Path, store: SQLiteStore, storage: LocalStorage
) -> None:
    record = upload(samples.text, tmp_path, store, storage, filename="notes.txt")
    assert record.kind is None and record.info == {}
    assert record.mimetype == "text/plain"
    assert_stored(record, samples.text, store, storage)


@pytest.mark.parametrize(
    ("filename", "content_type", "mimetype"),
    [
        ("page.bin", "text/html", "application/octet-stream"),  # the header is not believed
        ("page", "text/html; charset=utf-8", "application/octet-stream"),
        ("notes.txt", "application/x-www-form-urlencoded", "text/plain"),  # from the name
    ],
)
def test_a_plain_file_is_typed_by_its_name_never_by_the_header(
    samples: Samples,
    tmp_path: Path,
    store: SQLiteStore,
    storage: LocalStorage,
    filename: str,
    content_type: str,
    mimetype: str,
) -> None:
    record = upload(
        samples.text, tmp_path, store, storage, filename=filename, content_type=content_type
    )
    assert (record.kind, record.mimetype) == (None, mimetype)


def test_a_picture_over_the_pixel_limit_is_kept_as_a_plain_file(
    tmp_path: Path, store: SQLiteStore, storage: LocalStorage
) -> None:
    big = make_png_claiming(tmp_path / "big.png", 2000, 1500)
    record = upload(big, tmp_path, store, storage, filename="big.png", max_pixels=1_000_000)
    assert record.kind is None and record.info == {}
    assert record.mimetype == "image/png"
    assert_stored(record, big, store, storage)


@pytest.mark.parametrize(
    ("filename", "content_type", "mimetype"),
    [
        ("clip.mp4", "video/quicktime", "video/quicktime"),  # another name of what was found
        ("clip.mp4", "video/mp4; codecs=avc1", "video/mp4"),
        ("clip.mp4", "multipart/form-data; boundary=x", "video/mp4"),  # not the file's type
        ("clip", None, "video/mp4"),  # from the bytes, not the name
        # curl's default for a raw body, a generic header, and a lie: none of them is kept
        ("clip", "application/x-www-form-urlencoded", "video/mp4"),
        ("clip.mp4", "application/octet-stream", "video/mp4"),
        ("clip.html", "text/html", "video/mp4"),
        ("clip.mov", "image/jpeg", "video/quicktime"),  # the name fits what was found
    ],
)
def test_mimetype(
    samples: Samples,
    tmp_path: Path,
    store: SQLiteStore,
    storage: LocalStorage,
    filename: str,
    content_type: str | None,
    mimetype: str,
) -> None:
    record = upload(
        samples.clip, tmp_path, store, storage, filename=filename, content_type=content_type
    )
    assert record.mimetype == mimetype
    assert record.kind == "video"  # probed from the bytes, whatever the name says


def test_two_uploads_of_one_name_are_two_files(
    samples: Samples, tmp_path: Path, store: SQLiteStore, storage: LocalStorage
) -> None:
    first = upload(samples.clip, tmp_path, store, storage, filename="clip.mp4")
    second = upload(samples.photo, tmp_path, store, storage, filename="clip.mp4")
    assert first.id != second.id and first.storage_key != second.storage_key
    assert store.get_file(PROJECT, first.id) == first
    assert store.get_file(PROJECT, second.id) == second
    assert (storage.root / first.storage_key).read_bytes() == samples.clip.read_bytes()
