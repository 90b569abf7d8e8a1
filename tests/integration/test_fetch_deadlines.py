"""A server that trickles bytes cannot hold a download past STROBE_FETCH_TIMEOUT: not in the
body, not in the status line and headers, not as a task's input."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from operators.image import ImageOperator
from pipeline.config import Settings
from pipeline.contract.errors import TaskError
from pipeline.executor import Job, execute
from pipeline.fetch import download
from pipeline.ids import new_id
from pipeline.storage import LocalStorage


@pytest.mark.parametrize("route", ["trickle", "trickle-headers"])
def test_a_trickling_download_ends_at_the_overall_deadline(
    http_base: str, tmp_path: Path, route: str
) -> None:
    started = time.monotonic()
    with pytest.raises(TaskError) as info:
        download(
            f"{http_base}/{route}/0.2",
            tmp_path / "out",
            max_bytes=1 << 30,
            timeout_s=1.5,
            allow_private=True,
        )
    took = time.monotonic() - started
    assert info.value.code == "input_unreachable" and info.value.retryable
    assert 1.4 < took < 2.5, took


def test_a_trickling_task_input_ends_at_the_fetch_timeout(
    http_base: str, settings: Settings
) -> None:
    assert settings.fetch_timeout_s == 2
    loopback = dataclasses.replace(settings, allow_private_urls=True)
    storage = LocalStorage(settings.storage_url.removeprefix("file://"))
    job = Job(
        task_id=new_id("tsk"),
        project_id="prj_a",
        kind="image",
        options={"format": "jpeg"},
        input_url=f"{http_base}/trickle-headers/0.2",
    )
    started = time.monotonic()
    result = execute(job, ImageOperator(), storage, loopback)
    assert time.monotonic() - started < 3.5
    assert result.error is not None and result.error.code == "input_unreachable"
    assert result.error.retryable


def test_a_dns_lookup_that_never_answers_ends_at_the_overall_deadline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A name server that never answers: the system resolver would wait its own timeouts.
    released = threading.Event()
    real = socket.getaddrinfo

    def silent(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "slow-dns.example":
            released.wait(30)
            raise socket.gaierror("released by the test")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", silent)
    started = time.monotonic()
    try:
        with pytest.raises(TaskError) as info:
            download(
                "http://slow-dns.example/in.jpg",
                tmp_path / "out",
                max_bytes=1 << 20,
                timeout_s=1.5,
                allow_private=False,
            )
    finally:
        released.set()
    took = time.monotonic() - started
    assert info.value.code == "input_unreachable" and "slow-dns.example" in str(info.value)
    assert 1.0 < took < 2.5, took
