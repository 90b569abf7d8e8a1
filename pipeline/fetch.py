"""Download a task's URL input to a local file, within size and time limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

import httpx

from pipeline.contract.errors import INPUT_TOO_LARGE, INPUT_UNREACHABLE, TaskError
from pipeline.guarded_http import guarded_client
from pipeline.urlguard import check_url_syntax

MAX_REDIRECTS = 5
# Longest silence between two reads. The overall deadline (`timeout_s`) holds as well, down
# to each socket read: a server trickling bytes (headers included) is cut when it passes.
MAX_STALL_S = 10.0


def _never_stop() -> None:
    """The default stop check: never asks the download to stop."""


def download(
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_private: bool,
    check_stop: Callable[[], None] = _never_stop,
) -> None:
    """Save `url` to `dest`; every hop, the whole download included, ends within `timeout_s`.

    Only public addresses are connected to unless `allow_private` (each redirect hop too;
    see `pipeline.guarded_http`). `check_stop` is called after every read; it raises (e.g.
    the task's time budget ran out) to abandon the download."""
    deadline = time.monotonic() + timeout_s
    with guarded_client(
        allow_private=allow_private, timeout_s=timeout_s, read_timeout_s=MAX_STALL_S
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            reason = check_url_syntax(url)
            if reason:
                raise TaskError(INPUT_UNREACHABLE, f"url {reason}")
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    _check_response(response, max_bytes)
                    _save(response, dest, max_bytes, deadline, check_stop)
                    return
            except httpx.TimeoutException as exc:
                raise TaskError(
                    INPUT_UNREACHABLE,
                    f"timed out after {timeout_s:g} s fetching the url",
                    retryable=True,
                ) from exc
            except httpx.HTTPError as exc:
                raise TaskError(
                    INPUT_UNREACHABLE, f"could not fetch the url: {exc}", retryable=True
                ) from exc
    raise TaskError(INPUT_UNREACHABLE, f"more than {MAX_REDIRECTS} redirects")


def _check_response(response: httpx.Response, max_bytes: int) -> None:
    status = response.status_code
    if status >= 400:
        transient = status >= 500 or status in (408, 429)
        raise TaskError(INPUT_UNREACHABLE, f"the url answered HTTP {status}", retryable=transient)
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise TaskError(
            INPUT_TOO_LARGE, f"the url's content is {length} bytes; the limit is {max_bytes}"
        )


def _save(
    response: httpx.Response,
    dest: Path,
    max_bytes: int,
    deadline: float,
    check_stop: Callable[[], None],
) -> None:
    received = 0
    with dest.open("wb") as out:
        for chunk in response.iter_bytes():  # one chunk per network read, however small
            check_stop()
            received += len(chunk)
            if received > max_bytes:
                raise TaskError(
                    INPUT_TOO_LARGE, f"the url's content exceeds the {max_bytes}-byte limit"
                )
            if time.monotonic() > deadline:
                raise TaskError(
                    INPUT_UNREACHABLE, "the download took longer than allowed", retryable=True
                )
            out.write(chunk)
