"""Wire shapes of requests, and the checks that turn a request into a task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from operators.catalog import (
    FORMAT_ALIASES,
    FORMAT_KIND,
    FORMAT_NAMES,
    KIND_NAMES,
    KINDS,
    format_for_extension,
)
from operators.options import (
    VIDEO_CODECS,
    Bitrate,
    Codec,
    Confidence,
    Count,
    Duration,
    End,
    Filename,
    Fit,
    Fps,
    Height,
    Interval,
    KindOptions,
    Language,
    Quality,
    Start,
    Width,
)
from pipeline.api.errors import invalid
from pipeline.storage.keys import MAX_NAME_BYTES, name_problem
from pipeline.urlguard import check_url_syntax, literal_private_host

# The names the schema (and OpenAPI) accept come from the catalog, so a kind, format or codec
# is declared once. mypy sees plain strings; pydantic sees the literal sets.
if TYPE_CHECKING:
    KindName = str
    FormatName = str
else:
    KindName = Literal[KIND_NAMES]
    FormatName = Literal[FORMAT_NAMES + tuple(FORMAT_ALIASES)]
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
FOLDER_PATTERN = r"^[A-Za-z0-9_.-]{1,64}(/[A-Za-z0-9_.-]{1,64}){0,7}$"


def check_folder(folder: str | None) -> str | None:
    """A folder label (`FOLDER_PATTERN`) whose parts are plain names: no `.` or `..`."""
    for part in (folder or "x").split("/"):
        if name_problem(part):
            raise ValueError("each part must be a plain name (not '.' or '..', no leading '.')")
    return folder


Folder = Annotated[str | None, AfterValidator(check_folder)]


class TaskCreate(BaseModel):
    """POST /tasks. Give `url` or `file_id`; `kind` may be left to `format`."""

    # Strict: `"width": true` or `"width": "10"` is refused, not read as a number.
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str | None = Field(None, max_length=4096, description="Public http(s) URL of the input")
    file_id: str | None = Field(None, max_length=64, description="An uploaded file's id")
    kind: KindName | None = None
    format: FormatName | None = None
    # The options: each one's type and range comes from operators/options.py; which kinds
    # take it, and their defaults, from each kind's options model there.
    filename: Filename | None = None
    width: Width | None = None
    height: Height | None = None
    fit: Fit | None = None
    quality: Quality | None = None
    bitrate: Bitrate | None = None
    codec: Codec | None = None
    fps: Fps | None = None
    start: Start | None = None
    end: End | None = None
    duration: Duration | None = None
    confidence: Confidence | None = None
    language: Language | None = None
    count: Count | None = None
    interval: Interval | None = None
    webhook_url: str | None = Field(
        None, max_length=2048, description="Notified with the task when it is ready or fails"
    )
    ref: str | None = Field(None, pattern=REF_PATTERN, description="Names the output in its media")
    folder: Folder = Field(None, pattern=FOLDER_PATTERN, description="A label for the output")


@dataclass(frozen=True)
class TaskRequest:
    kind: str
    options: dict[str, Any]
    input_url: str | None
    input_file_id: str | None
    webhook_url: str | None = None


def task_request(body: TaskCreate, *, enabled_kinds: set[str], allow_private: bool) -> TaskRequest:
    """Resolve kind and format and check that every option fits the kind."""
    given = body.model_dump(exclude_none=True)
    url, file_id = given.pop("url", None), given.pop("file_id", None)
    webhook_url = given.pop("webhook_url", None)
    labels = {name: given.pop(name) for name in KindOptions.LABELS if name in given}
    _check_input(url, file_id, allow_private)
    if webhook_url is not None:
        check_public_url("webhook_url", webhook_url, allow_private)
    filename = given.get("filename")
    if filename is not None:
        check_filename(filename)
    fmt = given.get("format")
    fmt = FORMAT_ALIASES.get(fmt, fmt) if fmt else None
    kind = given.pop("kind", None) or _infer_kind(fmt, filename)
    spec = KINDS[kind]
    if kind not in enabled_kinds:
        raise invalid(
            "kind",
            f"kind {kind!r} is not available on this server yet; "
            f"available: {', '.join(sorted(enabled_kinds))}",
        )
    fmt = fmt or (format_for_extension(filename) if filename else None) or spec.formats[0]
    if fmt not in spec.formats:
        raise invalid(
            "format",
            f"format {fmt!r} does not apply to kind {kind!r}; allowed: {', '.join(spec.formats)}",
        )
    named = format_for_extension(filename) if filename else None
    if named and named != fmt:
        raise invalid("filename", f"extension asks for {named!r} but format is {fmt!r}")
    given["format"] = fmt
    for name in given:
        if name not in spec.option_names:
            raise invalid(
                name,
                f"option {name!r} does not apply to kind {kind!r}; "
                f"options for {kind}: {', '.join(sorted(spec.option_names))}",
            )
    _check_times(given)
    _check_codec(given)
    given |= labels
    return TaskRequest(
        kind=kind, options=given, input_url=url, input_file_id=file_id, webhook_url=webhook_url
    )


def _check_input(url: str | None, file_id: str | None, allow_private: bool) -> None:
    if (url is None) == (file_id is None):
        raise invalid("url", "give exactly one of url or file_id")
    if url is not None:
        check_public_url("url", url, allow_private)


def check_public_url(field: str, url: str, allow_private: bool) -> None:
    reason = check_url_syntax(url)
    if reason:
        raise invalid(field, reason)
    if not allow_private and literal_private_host(url):
        raise invalid(
            field,
            "points at a private or loopback address; the server refuses "
            "those unless STROBE_ALLOW_PRIVATE_URLS=1",
        )


def check_callback_url(field: str, url: str, allow_private: bool) -> None:
    """A URL Strobe POSTs to (a webhook endpoint, an http step): public, and without
    credentials or spaces, which would be stored and shown back."""
    check_public_url(field, url, allow_private)
    if urlsplit(url).username is not None or any(c.isspace() for c in url):
        raise invalid(field, "must not hold credentials (user:password@) or spaces")


def check_filename(filename: str, field: str = "filename") -> None:
    """A 422 naming `field` unless `filename` can be one part of a storage key."""
    problem = name_problem(filename)
    if problem:
        raise invalid(field, f"{problem} (a plain file name, at most {MAX_NAME_BYTES} bytes)")


def _infer_kind(fmt: str | None, filename: str | None) -> str:
    fmt = fmt or (format_for_extension(filename) if filename else None)
    if fmt in FORMAT_KIND:
        return FORMAT_KIND[fmt]
    raise invalid("kind", f"kind is required unless format implies it; kinds: {', '.join(KINDS)}")


def _check_codec(options: dict[str, Any]) -> None:
    codec, fmt = options.get("codec"), options["format"]
    if codec is not None and codec not in VIDEO_CODECS[fmt]:
        raise invalid(
            "codec",
            f"codec {codec!r} does not fit format {fmt!r}; "
            f"allowed for {fmt}: {', '.join(VIDEO_CODECS[fmt])}",
        )


def _check_times(options: dict[str, Any]) -> None:
    if "end" in options and "duration" in options:
        raise invalid("duration", "give end or duration, not both")
    if "end" in options and options["end"] <= options.get("start", 0):
        raise invalid("end", "must be after start")
