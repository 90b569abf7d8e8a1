"""Recorded types come from the probe; only media, JSON, VTT and manifests show inline."""

from __future__ import annotations

import pytest

from pipeline.content_types import content_disposition, probed_mimetype, shown_inline
from pipeline.contract.media import MediaInfo

MP4 = MediaInfo("mov", 2.0, has_video=True, has_audio=True, is_image=False, video_codec="h264")
M4A = MediaInfo("mov", 2.0, has_video=False, has_audio=True, is_image=False, audio_codec="aac")
WEBM = MediaInfo("matroska", 2.0, True, True, False, video_codec="vp9", audio_codec="opus")
MKV = MediaInfo("matroska", 2.0, True, True, False, video_codec="h264", audio_codec="aac")
JPEG = MediaInfo("image2", None, True, False, True, video_codec="mjpeg")


@pytest.mark.parametrize(
    ("info", "filename", "declared", "recorded"),
    [
        (MP4, "upload", "application/x-www-form-urlencoded", "video/mp4"),
        (MP4, "a.mp4", "application/octet-stream", "video/mp4"),
        (MP4, "a.html", "text/html", "video/mp4"),
        (MP4, "a.mov", None, "video/quicktime"),
        (MP4, "a", "Video/QuickTime; x=y", "video/quicktime"),
        (M4A, "a.m4a", "video/mp4", "audio/mp4"),  # no picture: not a video type
        (WEBM, "a.webm", None, "video/webm"),
        (MKV, "a.webm", None, "video/webm"),  # a name the container answers to
        (MKV, "a", None, "video/x-matroska"),
        (JPEG, "a.png", "image/png", "image/jpeg"),
        (None, "page.html", "text/html", "text/html"),  # a plain file: named by its name
        (None, "page", "text/html", "application/octet-stream"),
    ],
)
def test_the_type_recorded_for_an_upload(
    info: MediaInfo | None, filename: str, declared: str | None, recorded: str
) -> None:
    assert probed_mimetype(info, filename, declared) == recorded


@pytest.mark.parametrize(
    ("mimetype", "inline"),
    [
        ("video/mp4", True),
        ("audio/mpeg", True),
        ("image/jpeg", True),
        ("application/json", True),
        ("text/vtt; charset=utf-8", True),
        ("application/vnd.apple.mpegurl", True),
        ("application/dash+xml", True),
        ("text/html", False),
        ("image/svg+xml", False),
        ("application/xhtml+xml", False),
        ("text/plain", False),
        ("application/octet-stream", False),
        ("application/pdf", False),
    ],
)
def test_what_may_show_inline(mimetype: str, inline: bool) -> None:
    assert shown_inline(mimetype) is inline
    assert content_disposition("a", mimetype).startswith("inline;" if inline else "attachment;")


def test_the_header_always_fits_latin_1_and_never_breaks_on_a_quote() -> None:
    header = content_disposition('x"; filename="evil.html\r\n雪', "video/mp4")
    header.encode("latin-1")
    assert header == (
        'inline; filename="x_; filename=_evil.html___"; '
        "filename*=UTF-8''x%22%3B%20filename%3D%22evil.html%0D%0A%E9%9B%AA"
    )
