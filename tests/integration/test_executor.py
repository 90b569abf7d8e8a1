"""execute(): real downloads from a loopback server, real local storage, decoded outputs."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from operators.base import Operator
from operators.catalog import KINDS, Needs
from operators.image import ImageOperator
from operators.registry import load_operator
from pipeline.config import Settings
from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress
from pipeline.executor import FETCHED, PROCESSED, Job, JobResult, TaskMonitor, execute
from pipeline.ids import new_id, output_file_id
from pipeline.storage import LocalStorage
from tests.integration.conftest import Samples
from tests.support.media import decode_picture
from tests.support.samples import make_png_claiming, steep_ramp

PROJECT = "prj_a"


@pytest.fixture
def storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.storage_url.removeprefix("file://"))


@pytest.fixture
def loopback(settings: Settings) -> Settings:
    """The loopback server is private: these settings opt in to private URLs."""
    return dataclasses.replace(settings, allow_private_urls=True)


def url(http_base: str, samples: Samples, path: Path, route: str = "") -> str:
    return f"{http_base}/{route}{path.relative_to(samples.root.parent).as_posix()}"


def image_job(*, input_url: str | None = None, input_key: str | None = None, **options: Any) -> Job:
    return Job(
        task_id=new_id("tsk"),
        project_id=PROJECT,
        kind="image",
        options={"format": "jpeg", **options},
        input_url=input_url,
        input_key=input_key,
    )


def run(job: Job, storage: LocalStorage, settings: Settings) -> JobResult:
    result = execute(job, ImageOperator(), storage, settings)
    # Whatever happened, the task's scratch directory is gone.
    work = settings.data_dir / "work"
    assert not work.exists() or not any(work.iterdir()), list(work.iterdir())
    return result


def error_of(result: JobResult, code: str, *, retryable: bool) -> str:
    assert not result.ok and result.output is None
    assert result.error is not None, result
    assert result.error.code == code, result.error
    assert result.error.retryable is retryable, result.error
    message = result.error.message
    assert isinstance(message, str) and len(message) > 15 and "Traceback" not in message
    return message


def stored_objects(storage: LocalStorage, prefix: str) -> list[Path]:
    return sorted(p for p in (storage.root / prefix).rglob("*") if p.is_file())


# --- success -----------------------------------------------------------------------------


def test_url_input_makes_a_described_and_stored_jpeg(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings, tmp_path: Path
) -> None:
    job = image_job(
        input_url=url(http_base, samples, samples.clip), filename="poster.jpg", width=80
    )
    result = run(job, storage, loopback)
    assert result.ok and result.error is None and result.task_id == job.task_id
    record = result.output
    assert record is not None
    assert record.id == output_file_id(job.task_id) and record.task_id == job.task_id
    assert record.project_id == PROJECT
    assert (record.object, record.kind) == ("source", "image")
    assert (record.filename, record.mimetype) == ("poster.jpg", "image/jpeg")
    assert record.storage_key == f"{PROJECT}/{job.task_id}/poster.jpg"
    assert record.created == record.updated and record.created.endswith("Z")

    stored = storage.root / record.storage_key
    assert record.filesize == stored.stat().st_size > 0
    local = tmp_path / "poster.jpg"
    storage.get_file(record.storage_key, local)
    pixels = decode_picture(local)
    assert pixels.shape == (45, 80, 3)
    # Probed from the written file, not copied from the options.
    info = record.info
    assert (info["width"], info["height"]) == (80, 45)
    assert (info["format"], info["codec"]) == ("jpeg", "mjpeg")
    assert info["container"] in {"image2", "jpeg_pipe"}
    assert info["duration"] is None and info["fps"] is None


def test_a_second_run_of_a_task_overwrites_its_output(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings, tmp_path: Path
) -> None:
    first = image_job(
        input_url=url(http_base, samples, samples.clip), format="png", filename="still.png"
    )
    earlier = run(first, storage, loopback)
    assert earlier.ok and earlier.output is not None
    # A retry of the same task, this time asking for a later frame.
    retry = dataclasses.replace(first, options={**first.options, "start": 1.03})
    result = run(retry, storage, loopback)
    assert result.ok and result.output is not None
    assert result.output.storage_key == earlier.output.storage_key
    assert result.output.id == earlier.output.id
    assert stored_objects(storage, f"{PROJECT}/{first.task_id}") == [
        storage.root / result.output.storage_key
    ]
    local = tmp_path / "still.png"
    storage.get_file(result.output.storage_key, local)
    assert float(decode_picture(local).mean()) == pytest.approx(steep_ramp(1.04)[0], abs=2)
    assert result.output.filesize == local.stat().st_size


def test_progress_only_moves_forward_and_stops_short_of_done(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings
) -> None:
    seen: list[float] = []

    class Recording(TaskMonitor):
        def progress(self, fraction: float) -> None:
            seen.append(fraction)
            super().progress(fraction)

    job = image_job(input_url=url(http_base, samples, samples.clip), start=1.0)
    result = execute(job, ImageOperator(), storage, loopback, Recording())
    assert result.ok
    assert len(seen) >= 3 and seen == sorted(seen)
    assert all(0.0 < value < 1.0 for value in seen)  # 1.0 is the store's to say, with ready
    assert seen[0] == pytest.approx(FETCHED) and seen[-1] == pytest.approx(PROCESSED)


def test_default_filename_is_the_output_id_with_the_format_extension(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings
) -> None:
    job = image_job(input_url=url(http_base, samples, samples.photo), format="webp")
    result = run(job, storage, loopback)
    assert result.output is not None
    assert result.output.filename == f"{output_file_id(job.task_id)}.webp"
    assert result.output.mimetype == "image/webp"
    assert result.output.info["codec"] == "webp"


def test_storage_key_input(
    samples: Samples, storage: LocalStorage, settings: Settings, tmp_path: Path
) -> None:
    key = f"{PROJECT}/uploads/file_in/clip.mp4"
    storage.put_file(key, samples.clip, "video/mp4")
    job = image_job(input_key=key, format="png", start=1.03, height=45)
    result = run(job, storage, settings)  # no URL, so private URLs stay refused
    assert result.ok and result.output is not None
    local = tmp_path / "out.png"
    storage.get_file(result.output.storage_key, local)
    pixels = decode_picture(local)
    assert pixels.shape == (45, 80, 3)
    assert float(pixels.mean()) == pytest.approx(steep_ramp(1.04)[0], abs=2)
    assert storage.exists(key)  # the input is left alone


def test_a_redirect_to_the_file_is_followed_when_private_urls_are_allowed(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings
) -> None:
    job = image_job(input_url=url(http_base, samples, samples.photo, "redirect/"), width=100)
    result = run(job, storage, loopback)
    assert result.ok and result.output is not None
    assert (result.output.info["width"], result.output.info["height"]) == (100, 75)


def test_five_redirects_are_followed_and_six_are_refused(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings
) -> None:
    # Each /redirect/ hop strips one level: /redirect/redirect/x -> /redirect/x -> /x.
    five = image_job(input_url=url(http_base, samples, samples.photo, "redirect/" * 5))
    assert run(five, storage, loopback).ok
    six = image_job(input_url=url(http_base, samples, samples.photo, "redirect/" * 6))
    message = error_of(run(six, storage, loopback), "input_unreachable", retryable=False)
    assert "redirect" in message


def test_a_file_exactly_at_max_input_bytes_is_accepted(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings
) -> None:
    limit = samples.clip.stat().st_size
    job = image_job(input_url=url(http_base, samples, samples.clip))
    assert run(job, storage, dataclasses.replace(loopback, max_input_bytes=limit)).ok


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"), [(404, False), (403, False), (429, True), (500, True), (503, True)]
)
def test_http_errors_are_input_unreachable(
    http_base: str, storage: LocalStorage, loopback: Settings, status: int, retryable: bool
) -> None:
    job = image_job(input_url=f"{http_base}/status/{status}")
    message = error_of(run(job, storage, loopback), "input_unreachable", retryable=retryable)
    assert str(status) in message


def test_a_url_slower_than_the_fetch_timeout_is_retryable(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings
) -> None:
    assert loopback.fetch_timeout_s == 2
    job = image_job(input_url=url(http_base, samples, samples.clip, "slow/4/"))
    started = time.monotonic()
    message = error_of(run(job, storage, loopback), "input_unreachable", retryable=True)
    assert time.monotonic() - started < 3.5
    assert "timed out" in message


def test_a_closed_port_is_retryable(storage: LocalStorage, loopback: Settings) -> None:
    job = image_job(input_url="http://127.0.0.1:9/clip.mp4")  # discard port: nothing listens
    error_of(run(job, storage, loopback), "input_unreachable", retryable=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_urls_are_forbidden_by_default(
    samples: Samples, http_base: str, storage: LocalStorage, settings: Settings, host: str
) -> None:
    assert not settings.allow_private_urls
    target = url(http_base, samples, samples.clip).replace("127.0.0.1", host)
    message = error_of(
        run(image_job(input_url=target), storage, settings), "input_forbidden", retryable=False
    )
    assert "STROBE_ALLOW_PRIVATE_URLS" in message


def test_a_url_that_is_not_http_is_refused(storage: LocalStorage, loopback: Settings) -> None:
    job = image_job(input_url="file:///etc/passwd")
    message = error_of(run(job, storage, loopback), "input_unreachable", retryable=False)
    assert "http" in message


def test_max_input_bytes_smaller_than_the_file(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings
) -> None:
    small = dataclasses.replace(loopback, max_input_bytes=samples.clip.stat().st_size - 1)
    job = image_job(input_url=url(http_base, samples, samples.clip))
    message = error_of(run(job, storage, small), "input_too_large", retryable=False)
    assert str(small.max_input_bytes) in message


def test_max_input_pixels_is_applied(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings
) -> None:
    make_png_claiming(samples.root / "big.png", 2000, 1500)
    tight = dataclasses.replace(loopback, max_input_pixels=1_000_000)
    job = image_job(input_url=url(http_base, samples, samples.root / "big.png"))
    message = error_of(run(job, storage, tight), "input_too_large", retryable=False)
    assert "2000x1500" in message


@pytest.mark.parametrize("which", ["text", "truncated", "empty"])
def test_unreadable_url_inputs(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings, which: str
) -> None:
    job = image_job(input_url=url(http_base, samples, getattr(samples, which)))
    error_of(run(job, storage, loopback), "input_unreadable", retryable=False)


def test_audio_only_input_has_no_video_stream(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings
) -> None:
    job = image_job(input_url=url(http_base, samples, samples.audio))
    error_of(run(job, storage, loopback), "no_video_stream", retryable=False)


@pytest.mark.parametrize("kind", sorted(k for k in KINDS if KINDS[k].needs is not Needs.NOTHING))
def test_every_kind_refuses_an_input_without_the_stream_it_needs(
    samples: Samples, storage: LocalStorage, settings: Settings, kind: str
) -> None:
    """Checked once, by the executor, from the kind's spec, before its (real) operator runs:
    sound kinds get a silent video, picture kinds a file with sound only, moving-picture
    kinds a still photo."""
    needs = KINDS[kind].needs
    lacking = {
        Needs.SOUND: samples.clip,
        Needs.PICTURE: samples.audio,
        Needs.SIZED_PICTURE: samples.audio,
        Needs.MOVING_PICTURE: samples.photo,
    }[needs]
    key = f"{PROJECT}/uploads/{lacking.name}"
    storage.put_file(key, lacking, "application/octet-stream")
    job = Job(new_id("tsk"), PROJECT, kind, {"format": KINDS[kind].formats[0]}, None, key)
    result = execute(job, load_operator(kind)(), storage, settings)
    code = "no_audio_stream" if needs is Needs.SOUND else "no_video_stream"
    message = error_of(result, code, retryable=False)
    assert message == f"{kind} needs {needs.value}; the input has none"


def test_start_after_the_end_is_out_of_range(
    samples: Samples, http_base: str, storage: LocalStorage, loopback: Settings
) -> None:
    job = image_job(input_url=url(http_base, samples, samples.clip), start=2.5)
    message = error_of(run(job, storage, loopback), "option_out_of_range", retryable=False)
    assert "2.5" in message


def test_a_missing_storage_key_is_unreadable(storage: LocalStorage, settings: Settings) -> None:
    job = image_job(input_key=f"{PROJECT}/uploads/file_gone/clip.mp4")
    message = error_of(run(job, storage, settings), "input_unreadable", retryable=False)
    assert "missing" in message


def test_a_job_without_input_is_unreadable(storage: LocalStorage, settings: Settings) -> None:
    error_of(run(image_job(), storage, settings), "input_unreadable", retryable=False)


class _Broken(Operator):
    kind = "image"

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        raise ZeroDivisionError("division by zero in a buggy operator")


def test_an_operator_bug_is_an_internal_error_not_a_crash(
    samples: Samples, storage: LocalStorage, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    key = f"{PROJECT}/uploads/file_in/photo.jpg"
    storage.put_file(key, samples.photo, "image/jpeg")
    job = image_job(input_key=key)
    result = execute(job, _Broken(), storage, settings)
    message = error_of(result, "internal", retryable=False)
    # The client learns it was a bug; what the code said stays in the server's log.
    assert "ZeroDivisionError" in message and "division by zero" not in message
    assert job.task_id in caplog.text and "division by zero" in caplog.text
    assert not any((settings.data_dir / "work").iterdir())


def test_a_failed_output_never_shows_the_server_paths(
    samples: Samples, storage: LocalStorage, settings: Settings
) -> None:
    # A name of 130 two-byte characters: over what a file system stores in one name. It ran
    # into the disk before and came back as `internal` with the object's absolute path.
    key = f"{PROJECT}/uploads/file_in/photo.jpg"
    storage.put_file(key, samples.photo, "image/jpeg")
    result = run(image_job(input_key=key, filename="é" * 130 + ".jpg"), storage, settings)
    assert result.error is not None
    assert str(settings.data_dir) not in result.error.message
    assert str(storage.root) not in result.error.message
    assert [p for p in stored_objects(storage, PROJECT) if "uploads" not in p.parts] == []
