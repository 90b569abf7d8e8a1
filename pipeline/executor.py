"""Run one task: fetch the input, hand it to the operator, store and describe the output.

No Ray here: the Ray actor calls `execute`, and tests call it directly.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from operators.base import Operator
from operators.catalog import FINDINGS_OPTION, KINDS
from pipeline.config import Settings
from pipeline.contract.errors import INPUT_UNREADABLE, INTERNAL, STORAGE_UNAVAILABLE, TaskError
from pipeline.contract.media import Artifact
from pipeline.fetch import download
from pipeline.ids import now_iso, output_file_id
from pipeline.media.containers import describe, probe
from pipeline.media.file import MediaFile
from pipeline.public_messages import public_message
from pipeline.storage import Storage, StorageError
from pipeline.storage.keys import UnsafeName, asset_key, check_relative, output_key
from pipeline.store import FileRecord

log = logging.getLogger(__name__)
MAX_FINDING_BYTES = 16 << 20  # one kind's JSON output read for a `reads_findings` kind

# How a task's progress splits: fetching the input, then the operator's own share.
FETCHED, PROCESSED = 0.1, 0.95


@dataclass(frozen=True)
class Job:
    """What a worker needs to run a task; small and picklable."""

    task_id: str
    project_id: str
    kind: str
    options: dict[str, Any]
    input_url: str | None = None
    input_key: str | None = None
    owner: str = ""  # the dispatcher holding the lease; progress writes need it
    # (kind, storage key) of the outputs on the input's media a kind reads (`reads_findings`)
    findings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Failure:
    """Why a task did not finish: a code from the README's error table, a message for the
    client, and whether running it again could help."""

    code: str
    message: str
    retryable: bool = False

    def __post_init__(self) -> None:
        # Clients read this: no server paths or object reprs (the log keeps the original).
        object.__setattr__(self, "message", public_message(self.message))

    @classmethod
    def of(cls, exc: TaskError) -> Failure:
        return cls(exc.code, exc.message, exc.retryable)

    def as_error(self) -> TaskError:
        return TaskError(self.code, self.message, retryable=self.retryable)


@dataclass(frozen=True)
class JobResult:
    task_id: str
    output: FileRecord | None = None
    error: Failure | None = None
    ran_on: str | None = None

    @property
    def ok(self) -> bool:
        return self.output is not None


class TaskMonitor:
    """The runtime's view into one running task, and its way to stop it.

    The executor reports progress and the probed input's duration here; the runtime reads
    them (progress for the store, the duration for the time budget) and may ask the task to
    stop, which the next progress report or fetch read raises as the given failure. A task
    that never reports again is killed with its actor by the runtime instead.
    """

    def __init__(self) -> None:
        self.fraction = 0.0
        self.media_duration: float | None = None  # None until the input was probed
        self.probed = False
        self.stop_with: Failure | None = None

    def progress(self, fraction: float) -> None:
        self.fraction = max(self.fraction, min(1.0, fraction))
        self.check()

    def input_probed(self, duration: float | None) -> None:
        self.media_duration, self.probed = duration, True
        self.check()

    def stop(self, failure: Failure) -> None:
        self.stop_with = self.stop_with or failure

    def check(self) -> None:
        if self.stop_with is not None:
            raise self.stop_with.as_error()


def execute(
    job: Job,
    operator: Operator,
    storage: Storage,
    settings: Settings,
    monitor: TaskMonitor | None = None,
) -> JobResult:
    monitor = monitor or TaskMonitor()
    try:
        return JobResult(job.task_id, output=_run(job, operator, storage, settings, monitor))
    except TaskError as exc:
        return JobResult(job.task_id, error=Failure.of(exc))
    except Exception as exc:  # a bug: keep the worker alive, say so, log the task id
        log.exception("task %s failed with an internal error", job.task_id)
        message = f"internal error ({type(exc).__name__}); the server's log has the details"
        return JobResult(job.task_id, error=Failure(INTERNAL, message))


def _run(
    job: Job, operator: Operator, storage: Storage, settings: Settings, monitor: TaskMonitor
) -> FileRecord:
    work = settings.data_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix=f"{job.task_id}-") as tmp:
        source_path = Path(tmp) / "input"
        _fetch_input(job, storage, settings, source_path, monitor)
        monitor.progress(FETCHED)
        source = MediaFile(
            source_path, max_pixels=settings.max_input_pixels, workdir=Path(tmp) / "scratch"
        )
        monitor.input_probed(source.info.duration)
        KINDS[job.kind].check_input(source.info)  # the streams the kind needs, checked once
        options = job.options
        if job.findings:
            options = {**options, FINDINGS_OPTION: _read_findings(job, storage, Path(tmp))}
        artifact = operator.process(
            source,
            options,
            lambda done: monitor.progress(FETCHED + (PROCESSED - FETCHED) * done),
        )
        monitor.check()
        output = _store_output(job, artifact, storage, Path(tmp))
        monitor.progress(PROCESSED)
        return output


def _fetch_input(
    job: Job, storage: Storage, settings: Settings, dest: Path, monitor: TaskMonitor
) -> None:
    if job.input_url:
        download(
            job.input_url,
            dest,
            max_bytes=settings.max_input_bytes,
            timeout_s=settings.fetch_timeout_s,
            allow_private=settings.allow_private_urls,
            check_stop=monitor.check,
        )
    elif job.input_key:
        try:
            storage.get_file(job.input_key, dest)
        except StorageError as exc:
            log.warning("task %s: reading its input failed: %s", job.task_id, exc)
            if exc.retryable:
                raise TaskError(
                    STORAGE_UNAVAILABLE, "the storage could not be read", retryable=True
                ) from exc
            raise TaskError(INPUT_UNREADABLE, "the input file is missing") from exc
        except OSError as exc:
            log.warning("task %s: reading its input failed: %s", job.task_id, exc)
            raise TaskError(INPUT_UNREADABLE, "the input file is missing") from exc
    else:
        raise TaskError(INPUT_UNREADABLE, "the task names no input")


def _read_findings(job: Job, storage: Storage, tmp: Path) -> dict[str, Any]:
    """kind -> the JSON output of that kind on the input's media; one that cannot be read
    (gone, too large, not JSON) is left out, and the operator says what it had."""
    found: dict[str, Any] = {}
    for index, (kind, key) in enumerate(job.findings):
        path = tmp / f"finding-{index}.json"
        try:
            storage.get_file(key, path)
            if path.stat().st_size <= MAX_FINDING_BYTES:
                found[kind] = json.loads(path.read_text())
        except (StorageError, OSError, ValueError) as exc:
            log.warning("task %s: finding %s unreadable: %s", job.task_id, kind, exc)
    return found


def _store_output(job: Job, artifact: Artifact, storage: Storage, tmp: Path) -> FileRecord:
    file_id = output_file_id(job.task_id)
    filename = job.options.get("filename") or f"{file_id}.{artifact.extension}"
    path = artifact.path or _write(tmp / f"output.{artifact.extension}", artifact.data)
    info: dict[str, Any] = {"format": artifact.format}
    if artifact.media:
        # What was written, not what was asked for; outputs are written upright.
        info |= describe(probe(path, rotated=False))
    # Deterministic keys: a retried task overwrites its earlier output.
    key = _key(output_key, job, filename)
    size = _put(storage, key, path, artifact.mimetype)
    for asset in artifact.assets:
        name = safe_asset_name(asset.name)
        asset_path = asset.path or _write(tmp / "assets" / name, asset.data)
        _put(storage, _key(asset_key, job, name), asset_path, asset.mimetype)
    if artifact.assets:
        info["assets"] = {safe_asset_name(a.name): a.mimetype for a in artifact.assets}
    info |= dict(artifact.summary)
    stamp = now_iso()
    return FileRecord(
        id=file_id,
        project_id=job.project_id,
        object=KINDS[job.kind].object,
        kind=job.kind,
        filename=filename,
        mimetype=artifact.mimetype,
        filesize=size,
        storage_key=key,
        created=stamp,
        updated=stamp,
        info=info,
        task_id=job.task_id,
        ref=job.options.get("ref"),
        folder=job.options.get("folder"),
    )


def safe_asset_name(name: str) -> str:
    """Asset names are relative paths below the output folder, each part a plain name."""
    try:
        return check_relative(name)
    except UnsafeName as exc:
        raise TaskError(INTERNAL, f"operator produced an unsafe asset name {name!r}") from exc


def _key(make: Callable[[str, str, str], str], job: Job, name: str) -> str:
    """A key of the task's output (see pipeline.storage.keys); the API refused bad names."""
    try:
        return make(job.project_id, job.task_id, name)
    except UnsafeName as exc:
        raise TaskError(INTERNAL, f"the output name {name!r} cannot be stored: {exc}") from exc


def _write(path: Path, data: bytes | None) -> Path:
    if data is None:
        raise TaskError(INTERNAL, "operator output has neither data nor a path")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _put(storage: Storage, key: str, path: Path, mimetype: str) -> int:
    try:
        return storage.put_file(key, path, mimetype)
    except StorageError as exc:
        log.warning("storing %s failed: %s", key, exc)
        raise TaskError(
            STORAGE_UNAVAILABLE, "could not store the output", retryable=exc.retryable
        ) from exc
