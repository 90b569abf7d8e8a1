"""OperatorHost: setup retried until it succeeds once, typed failures, stop requests."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from operators.base import Operator
from pipeline.config import Settings
from pipeline.contract.errors import TaskError
from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress
from pipeline.executor import Failure, Job
from pipeline.runtime.host import OperatorHost
from pipeline.storage import LocalStorage
from tests.support.media import make_image


class Flaky(Operator):
    """Its model is missing until `present` is set; `process` waits for `release`."""

    kind = "image"

    def __init__(self) -> None:
        self.present = False
        self.setups = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def setup(self) -> None:
        self.setups += 1
        if not self.present:
            raise TaskError("model_missing", "run `strobe models fetch flaky`")

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        self.entered.set()
        while not self.release.wait(0.01):
            progress(0.5)
        return Artifact("json", "application/json", "json", data=b"{}", media=False)


@pytest.fixture
def host(tmp_path: Path, settings: Settings) -> tuple[OperatorHost, Flaky, Job]:
    storage = LocalStorage(tmp_path / "objects")
    storage.put_file(
        "prj_a/in.png", make_image(tmp_path / "in.png", width=32, height=24), "image/png"
    )
    operator = Flaky()
    job = Job("tsk_1", "prj_a", "image", {"format": "json"}, input_key="prj_a/in.png")
    return OperatorHost(operator, storage, settings), operator, job


def test_a_failed_setup_fails_the_task_and_is_tried_again_next_time(
    host: tuple[OperatorHost, Flaky, Job],
) -> None:
    runner, operator, job = host
    first = runner.run(job)
    assert first.error == Failure("model_missing", "run `strobe models fetch flaky`")
    operator.present, operator.release = True, _set(threading.Event())
    assert runner.run(job).ok
    assert runner.run(job).ok
    assert operator.setups == 2  # once failed, once succeeded, then never again


def test_a_stop_request_ends_the_task_with_the_given_failure(
    host: tuple[OperatorHost, Flaky, Job],
) -> None:
    runner, operator, job = host
    operator.present = True
    results = []
    thread = threading.Thread(target=lambda: results.append(runner.run(job)))
    thread.start()
    assert operator.entered.wait(10)
    status = runner.status()[job.task_id]
    assert status.probed and status.media_duration is None  # a picture has no length
    assert status.fraction > 0
    assert runner.stop(job.task_id, Failure("timeout", "past its budget"))
    thread.join(10)
    assert [r.error for r in results] == [Failure("timeout", "past its budget")]
    assert runner.status() == {}
    assert not runner.stop(job.task_id, Failure("timeout", "again"))  # no longer running


def _set(event: threading.Event) -> threading.Event:
    event.set()
    return event
