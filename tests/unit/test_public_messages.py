"""Task error messages as a client reads them: no paths on the server, no object reprs."""

from __future__ import annotations

import pytest

from pipeline.executor import Failure
from pipeline.public_messages import public_message


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (
            "could not decode the input: Invalid data found when processing input: "
            "'/srv/strobe/data/work/tsk_1-x8/input'",
            "could not decode the input: Invalid data found when processing input: 'input'",
        ),
        (
            "[Errno 36] File name too long: /srv/strobe/objects/prj_a/a.jpg",
            "[Errno 36] File name too long: a.jpg",
        ),
        ("file:///srv/strobe/objects is not writable", "file://… is not writable"),
        (
            "stopped at <av.container.InputContainer object at 0x7f3a2b1c0d90>",
            "stopped at <object>",
        ),
    ],
)
def test_server_paths_and_reprs_are_dropped(raw: str, shown: str) -> None:
    assert public_message(raw) == shown


@pytest.mark.parametrize(
    "kept",
    [
        "HTTP 404 for https://example.com/videos/a.mp4",
        "format 'gif' does not apply; allowed: mp4/webm/av1",
        "8/10 frames; the limit is 100 MiB / 2 s",
    ],
)
def test_urls_and_plain_text_are_kept(kept: str) -> None:
    assert public_message(kept) == kept


def test_every_failure_a_client_sees_is_scrubbed() -> None:
    failure = Failure("internal", "cannot write /var/lib/strobe/work/tsk_1-ab/output.mp4")
    assert failure.message == "cannot write output.mp4"
