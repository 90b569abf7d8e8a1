"""Stored bytes served as an HTTP origin would: Range, HEAD, validators and 304s.

The content routes (`/files/{id}/content`, the path-signed file links, `/signed/…`) all answer
through `respond`. Parsing follows RFC 9110 §14 (Range) and §13 (conditional requests):

* one byte range (`0-99`, `100-`, `-500`) is answered `206` with `Content-Range`; a range that
  starts at or past the end is `416` with `Content-Range: bytes */size`;
* a malformed Range header, or one asking for several ranges, is ignored and the whole file is
  sent (`200`) — the RFC allows both, and no player asks for several;
* `If-None-Match` (weak comparison), else `If-Modified-Since`, answers `304`; `If-Range`
  (an ETag compared strongly, or the exact Last-Modified date) keeps the range only while the
  file is unchanged.

The body is read in bounded chunks from the requested offset; see docs/ARCHITECTURE.md
("How outputs are served").
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from pipeline.api.conditional import etag_listed
from pipeline.api.context import error_response
from pipeline.api.errors import ApiError
from pipeline.contract.errors import RANGE_NOT_SATISFIABLE
from pipeline.storage import Storage

CHUNK_BYTES = 256 * 1024
_MAX_RANGE_HEADER = 1024  # longer Range headers are not one range; they are ignored


@dataclass(frozen=True)
class ByteRange:
    start: int
    stop: int  # exclusive

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{size}"


class Unsatisfiable(Exception):
    """The Range header is well formed but names no byte of the file."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range the header asks for, None to send the whole file; Unsatisfiable raised."""
    if not header or len(header) > _MAX_RANGE_HEADER:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in spec:
        return None  # not bytes, or several ranges: the whole file
    first, dash, last = spec.strip().partition("-")
    if not dash or not _digits(first, last):
        return None
    if not first:  # a suffix: the last N bytes
        if not last:
            return None
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - length), size)
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range-spec: the header is ignored
    if start >= size:
        raise Unsatisfiable
    stop = size if not last else min(int(last) + 1, size)
    return ByteRange(start, stop)


def _digits(*parts: str) -> bool:
    return all(p == "" or (p.isascii() and p.isdigit()) for p in parts)


@dataclass(frozen=True)
class Validators:
    etag: str  # strong, quoted
    mtime: int  # whole seconds since the epoch

    @property
    def last_modified(self) -> str:
        return formatdate(self.mtime, usegmt=True)


def validators(size: int, mtime_ns: int) -> Validators:
    return Validators(f'"{size:x}-{mtime_ns:x}"', mtime_ns // 1_000_000_000)


def not_modified(headers: Mapping[str, str], tag: Validators) -> bool:
    """True when a GET or HEAD may be answered 304 (RFC 9110 §13.2.2, steps 3 and 4)."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return etag_listed(if_none_match, tag.etag, weak=True)
    since = _http_date(headers.get("if-modified-since"))
    return since is not None and tag.mtime <= since


def range_applies(headers: Mapping[str, str], tag: Validators) -> bool:
    """False when If-Range names another version of the file: then the whole file is sent."""
    condition = headers.get("if-range")
    if condition is None:
        return True
    condition = condition.strip()
    if condition.startswith('"'):
        return condition == tag.etag  # strong comparison only
    return _http_date(condition) == tag.mtime


def _http_date(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # an unparseable date is ignored, as RFC 9110 asks


def signed_cache_control(expires: int, now: float | None = None) -> str:
    """The content behind a signed URL is fixed until the URL expires; no shared caches."""
    left = max(0, int(expires - (time.time() if now is None else now)))
    return f"private, max-age={left}"


KEYED_CACHE_CONTROL = "private, no-cache"  # reuse only after a 304 (the key may be revoked)


def respond(
    request: Request,
    storage: Storage,
    key: str,
    *,
    mimetype: str,
    headers: dict[str, str],
) -> Response:
    """GET or HEAD of the object at `key`, with `headers` (disposition, caching) added."""
    size, mtime_ns = storage.object_stat(key)
    tag = validators(size, mtime_ns)
    headers = {
        **headers,
        "Accept-Ranges": "bytes",
        "ETag": tag.etag,
        "Last-Modified": tag.last_modified,
    }
    if not_modified(request.headers, tag):
        return Response(status_code=304, headers=headers)
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except Unsatisfiable:
        if range_applies(request.headers, tag):
            error = ApiError(416, RANGE_NOT_SATISFIABLE, f"the file has {size} bytes")
            refused = error_response(request, error)
            refused.headers.update({"Accept-Ranges": "bytes", "Content-Range": f"bytes */{size}"})
            return refused
        wanted = None
    if wanted is not None and not range_applies(request.headers, tag):
        wanted = None
    status = 200 if wanted is None else 206
    span = wanted or ByteRange(0, size)
    headers["Content-Length"] = str(span.stop - span.start)
    if wanted is not None:
        headers["Content-Range"] = wanted.content_range(size)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=mimetype)
    body = storage.iter_range(key, span.start, span.stop)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=mimetype)
