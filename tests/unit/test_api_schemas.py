"""`task_request`: kind and format resolution, option applicability, filename and URL checks."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from operators.catalog import KINDS
from operators.options import VIDEO_CODECS
from pipeline.api.errors import ApiError
from pipeline.api.schemas import TaskCreate, TaskRequest, task_request

ALL_KINDS = set(KINDS)
PUBLIC_URL = "https://example.com/input.mp4"


def resolve(
    *, enabled: set[str] | None = None, allow_private: bool = False, **fields: Any
) -> TaskRequest:
    if "url" not in fields and "file_id" not in fields:
        fields["url"] = PUBLIC_URL
    body = TaskCreate(**fields)
    return task_request(
        body, enabled_kinds=ALL_KINDS if enabled is None else enabled, allow_private=allow_private
    )


def refused(**fields: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        resolve(**fields)
    assert info.value.status == 422
    assert info.value.code == "invalid_request"
    return info.value


# --- kind and format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "kind", "resolved"),
    [
        ("png", "image", "png"),
        ("jpeg", "image", "jpeg"),
        ("jpg", "image", "jpeg"),
        ("avif", "image", "avif"),
        ("mp4", "video", "mp4"),
        ("webm", "video", "webm"),
        ("mp3", "audio", "mp3"),
        ("wav", "audio", "wav"),
    ],
)
def test_a_source_format_implies_its_kind(fmt: str, kind: str, resolved: str) -> None:
    req = resolve(format=fmt)
    assert (req.kind, req.options["format"]) == (kind, resolved)


@pytest.mark.parametrize(
    ("filename", "kind", "fmt"),
    [
        ("poster.jpg", "image", "jpeg"),
        ("Poster.JPG", "image", "jpeg"),
        ("poster.jpeg", "image", "jpeg"),
        ("clip.webm", "video", "webm"),
        ("song.ogg", "audio", "ogg"),
    ],
)
def test_a_filename_extension_implies_kind_and_format(filename: str, kind: str, fmt: str) -> None:
    req = resolve(filename=filename)
    assert (req.kind, req.options) == (kind, {"format": fmt, "filename": filename})


@pytest.mark.parametrize(
    "fields",
    [{}, {"format": "json"}, {"format": "vtt"}, {"filename": "notes.txt"}, {"filename": "noext"}],
)
def test_kind_is_required_when_nothing_implies_it(fields: dict[str, Any]) -> None:
    error = refused(**fields)
    assert error.field == "kind"
    assert "kinds: video, image, audio, objects" in error.message


@pytest.mark.parametrize(
    ("kind", "default"),
    [
        ("video", "mp4"),
        ("image", "jpeg"),
        ("audio", "mp3"),
        ("objects", "json"),
        ("subtitles", "vtt"),
        ("chapters", "json"),
        ("thumbnails", "json"),
    ],
)
def test_each_kind_has_a_default_format(kind: str, default: str) -> None:
    assert resolve(kind=kind).options == {"format": default}


def test_an_explicit_kind_wins_over_inference() -> None:
    assert resolve(kind="subtitles", format="srt").options == {"format": "srt"}


def test_a_format_of_another_kind_is_refused_with_the_allowed_list() -> None:
    error = refused(kind="image", format="mp4")
    assert error.field == "format"
    assert "allowed: jpeg, png, webp, avif" in error.message


def test_a_filename_extension_that_contradicts_the_format_is_refused() -> None:
    error = refused(format="jpeg", filename="poster.png")
    assert error.field == "filename"
    assert "'png'" in error.message and "'jpeg'" in error.message


def test_jpg_filename_matches_jpeg_format() -> None:
    assert resolve(format="jpg", filename="poster.jpg").options["format"] == "jpeg"


def test_a_kind_without_an_operator_on_this_server_is_refused() -> None:
    error = refused(kind="video", enabled={"image", "audio"})
    assert error.field == "kind"
    assert "available: audio, image" in error.message


def test_an_inferred_kind_must_be_enabled_too() -> None:
    assert refused(format="mp4", enabled={"image"}).field == "kind"


# --- options per kind --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("image", {"width": 320, "height": 200, "fit": "contain", "quality": 70, "start": 1.5}),
        ("video", {"width": 640, "fps": 30.0, "bitrate": 2_000_000, "start": 1.0, "end": 4.0}),
        ("audio", {"bitrate": 128_000, "start": 0.0, "duration": 2.0}),
        ("objects", {"fps": 2.0, "confidence": 0.5, "end": 10.0}),
        ("speech", {"language": "en"}),
        ("subtitles", {"language": "pt-BR"}),
        ("thumbnails", {"width": 160, "count": 10, "interval": 5.0}),
    ],
)
def test_options_that_apply_to_the_kind_are_kept(kind: str, options: dict[str, Any]) -> None:
    req = resolve(kind=kind, **options)
    assert req.kind == kind
    assert req.options == {"format": KINDS[kind].formats[0], **options}


@pytest.mark.parametrize(
    ("kind", "option", "value"),
    [
        ("image", "fps", 30.0),
        ("image", "duration", 2.0),
        ("image", "bitrate", 100_000),
        ("audio", "quality", 50),
        ("audio", "width", 100),
        ("video", "language", "en"),
        ("video", "count", 3),
        ("objects", "width", 100),
        ("thumbnails", "height", 100),
        ("outline", "start", 1.0),
    ],
)
def test_an_option_that_does_not_apply_names_the_option_and_lists_the_kinds_options(
    kind: str, option: str, value: Any
) -> None:
    error = refused(kind=kind, **{option: value})
    assert error.field == option
    assert f"options for {kind}: {', '.join(sorted(KINDS[kind].option_names))}" in error.message


@pytest.mark.parametrize(
    ("fmt", "codec"),
    [
        ("mp4", "h264"),
        ("mp4", "hevc"),
        ("webm", "vp9"),
        ("webm", "vp8"),
        ("webm", "av1"),
        ("av1", "av1"),
        ("cmaf", "h264"),
        ("cmaf", "hevc"),
    ],
)
def test_a_codec_that_fits_the_format_is_kept(fmt: str, codec: str) -> None:
    req = resolve(kind="video", format=fmt, codec=codec)
    assert req.options == {"format": fmt, "codec": codec}


@pytest.mark.parametrize(
    ("fields", "allowed"),
    [
        ({"format": "mp4", "codec": "vp9"}, "allowed for mp4: h264, hevc"),
        ({"format": "webm", "codec": "hevc"}, "allowed for webm: vp9, vp8, av1"),
        ({"format": "av1", "codec": "h264"}, "allowed for av1: av1"),
        ({"format": "cmaf", "codec": "av1"}, "allowed for cmaf: h264, hevc"),
        ({"kind": "video", "codec": "vp8"}, "allowed for mp4: h264, hevc"),  # mp4 by default
    ],
)
def test_a_codec_that_does_not_fit_the_format_names_the_allowed_ones(
    fields: dict[str, Any], allowed: str
) -> None:
    error = refused(**fields)
    assert error.field == "codec"
    assert allowed in error.message


def test_codec_applies_only_to_video() -> None:
    assert refused(kind="image", codec="h264").field == "codec"


def test_every_codec_the_schema_takes_fits_some_format() -> None:
    schema = TaskCreate.model_json_schema()["properties"]["codec"]["anyOf"][0]
    assert set(schema["enum"]) == {c for codecs in VIDEO_CODECS.values() for c in codecs}


# --- inputs ------------------------------------------------------------------------------


def test_a_file_id_is_an_input() -> None:
    req = resolve(file_id="file_abc", format="png")
    assert (req.input_file_id, req.input_url) == ("file_abc", None)


def test_url_and_options_are_separated() -> None:
    req = resolve(url=PUBLIC_URL, format="png", width=10)
    assert req.input_url == PUBLIC_URL
    assert req.options == {"format": "png", "width": 10}


@pytest.mark.parametrize("inputs", [{}, {"url": PUBLIC_URL, "file_id": "file_abc"}])
def test_exactly_one_of_url_and_file_id(inputs: dict[str, str]) -> None:
    body = TaskCreate(format="png", **inputs)
    with pytest.raises(ApiError) as info:
        task_request(body, enabled_kinds=ALL_KINDS, allow_private=False)
    assert info.value.field == "url"
    assert "exactly one of url or file_id" in info.value.message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.jpg", "scheme 'ftp'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("example.com/a.jpg", "scheme 'none'"),
        ("http:///a.jpg", "has no host"),
    ],
)
def test_urls_that_can_never_work_are_refused(url: str, reason: str) -> None:
    error = refused(url=url, format="png")
    assert error.field == "url"
    assert reason in error.message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.jpg",
        "http://127.0.0.1:8080/a.jpg",
        "http://10.1.2.3/a.jpg",
        "http://192.168.0.10/a.jpg",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/a.jpg",
        "http://[::ffff:127.0.0.1]/a.jpg",
        "http://localhost/a.jpg",
        "http://LOCALHOST:9000/a.jpg",
        "http://api.localhost/a.jpg",
    ],
)
def test_private_literal_hosts_are_refused_unless_allowed(url: str) -> None:
    error = refused(url=url, format="png")
    assert error.field == "url"
    assert "STROBE_ALLOW_PRIVATE_URLS=1" in error.message
    assert resolve(url=url, format="png", allow_private=True).input_url == url


def test_a_public_name_is_not_resolved_by_the_api() -> None:
    # The worker resolves and checks names; the API only refuses literal private hosts.
    assert resolve(url="https://internal.example/a.jpg", format="png").input_url


@pytest.mark.parametrize("url", ["http://[::1/a.jpg", "http://[not-an-ip]/a.jpg"])
def test_a_malformed_url_is_a_422_not_a_crash(url: str) -> None:
    # urlsplit raises ValueError on these; the API must answer 422 naming `url`.
    assert refused(url=url, format="png").field == "url"


@pytest.mark.parametrize("url", ["http://example.com:99999/a.jpg", "http://example.com:x/a.jpg"])
def test_a_url_with_an_impossible_port_is_refused(url: str) -> None:
    assert refused(url=url, format="png").field == "url"


# --- filename ----------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["poster.jpg", "my poster (1).jpg", "plakát-ü.jpg", "a.b.jpg"])
def test_plain_filenames_are_accepted(filename: str) -> None:
    assert resolve(format="jpeg", filename=filename).options["filename"] == filename


@pytest.mark.parametrize(
    "filename",
    [
        "../x.jpg",
        "a/b.jpg",
        "/etc/x.jpg",
        "a\\b.jpg",
        ".hidden",
        ".hidden.jpg",
        ".",
        "..",
        "a\x00b.jpg",
        "a\tb.jpg",
        "a\nb.jpg",
    ],
)
def test_unsafe_filenames_are_refused(filename: str) -> None:
    error = refused(format="jpeg", filename=filename)
    assert error.field == "filename"
    assert "plain file name" in error.message


def test_a_trailing_newline_in_a_filename_is_refused() -> None:
    # `$` in the pattern also matches before a final "\n", so this slipped through.
    error = refused(format="jpeg", filename="poster.jpg\n")
    assert error.field == "filename"


# --- times -------------------------------------------------------------------------------


def test_end_and_duration_together_are_refused() -> None:
    error = refused(kind="video", end=5.0, duration=2.0)
    assert error.field == "duration"


@pytest.mark.parametrize(("start", "end"), [(5.0, 5.0), (5.0, 4.0)])
def test_end_must_be_after_start(start: float, end: float) -> None:
    error = refused(kind="video", start=start, end=end)
    assert error.field == "end"
    assert "after start" in error.message


@pytest.mark.parametrize(
    "times", [{"end": 0.5}, {"start": 1.0, "end": 1.5}, {"start": 2.0, "duration": 1.0}]
)
def test_valid_time_ranges_are_kept(times: dict[str, float]) -> None:
    assert resolve(kind="video", **times).options == {"format": "mp4", **times}


# --- field ranges (pydantic) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("width", -5),
        ("width", 0),
        ("width", "abc"),
        ("width", 100_000),
        ("height", 8193),
        ("quality", 101),
        ("bitrate", 10),
        ("fps", 0),
        ("start", -1),
        ("end", 0),
        ("confidence", 1.5),
        ("language", "ENGLISH"),
        ("count", 1001),
        ("interval", 0),
        ("fit", "zoom"),
        ("kind", "bogus"),
        ("format", "gif"),
        ("filename", ""),
        ("filename", "x" * 256),
        ("url", "https://e.com/" + "a" * 4096),
        ("unknown", 1),
    ],
)
def test_out_of_range_fields_fail_validation(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        TaskCreate.model_validate({"url": PUBLIC_URL, field: value})
    assert info.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(("field", "value"), [("width", 1), ("width", 8192), ("quality", 100)])
def test_range_limits_are_inclusive(field: str, value: int) -> None:
    assert TaskCreate.model_validate({"url": PUBLIC_URL, field: value}).model_dump()[field] == value


# --- webhook_url -------------------------------------------------------------------------


def test_a_webhook_url_is_kept_apart_from_the_options() -> None:
    req = resolve(format="png", webhook_url="https://hooks.example/strobe")
    assert req.webhook_url == "https://hooks.example/strobe"
    assert req.options == {"format": "png"}


def test_no_webhook_url_means_none() -> None:
    assert resolve(format="png").webhook_url is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example/x", "scheme 'ftp'"),
        ("https:///x", "has no host"),
        ("http://127.0.0.1:9000/hook", "STROBE_ALLOW_PRIVATE_URLS=1"),
        ("http://localhost/hook", "STROBE_ALLOW_PRIVATE_URLS=1"),
        ("http://[fd00::1]/hook", "STROBE_ALLOW_PRIVATE_URLS=1"),
    ],
)
def test_a_webhook_url_is_checked_like_an_input_url(url: str, reason: str) -> None:
    error = refused(format="png", webhook_url=url)
    assert error.field == "webhook_url"
    assert reason in error.message


def test_a_private_webhook_url_is_allowed_when_private_urls_are() -> None:
    req = resolve(format="png", webhook_url="http://127.0.0.1:9000/hook", allow_private=True)
    assert req.webhook_url == "http://127.0.0.1:9000/hook"
