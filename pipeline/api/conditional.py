"""Conditional reads of the JSON API: a weak ETag on every `GET` answered 200, and `304 Not
Modified` when `If-None-Match` names it (RFC 9110 §8.8.3, §13.1.2).

A poller (the console, a script watching a task) sends back the tag it holds and is answered
with no body while nothing it shows has changed. The tag is taken over what the answer says,
not its bytes: the envelope's request id differs on every request, and signed output links are
signed again on every request (their expiry counts from now). Those links are replaced by what
they point to (file and name) before hashing, and the tag also names the current quarter of the
links' lifetime: a client answered 304 holds links signed at most a quarter of their lifetime
ago, so they stay good for three quarters of it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response


def weak_etag(
    said: Any, signed: Mapping[str, str], url_ttl_s: int, now: float | None = None
) -> str:
    """`W/"…"` over `said` (JSON-able), each signed link in `signed` counted as its stand-in."""
    text = json.dumps(_stood_in(said, signed), sort_keys=True, separators=(",", ":"), default=str)
    window = int((time.time() if now is None else now) // max(1, url_ttl_s // 4))
    digest = hashlib.sha256(f"{window}\n{text}".encode()).hexdigest()[:32]
    return f'W/"{digest}"'


def _stood_in(value: Any, signed: Mapping[str, str]) -> Any:
    """`value` with each string that is a signed link replaced by its stand-in: one walk,
    however many links (a page of thumbnails outputs holds tens of thousands)."""
    if isinstance(value, str):
        return signed.get(value, value)
    if isinstance(value, dict):
        return {key: _stood_in(item, signed) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_stood_in(item, signed) for item in value]
    return value


def etag_listed(header: str, etag: str, *, weak: bool) -> bool:
    """Whether an `If-None-Match` (or `If-Match`) list names `etag`; `*` names any."""
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if weak:
            candidate = candidate.removeprefix("W/")
        if candidate == opaque:
            return True
    return False


# The answer depends on the key (its project) and the dialect asked for: a cache (the
# browser's) must not hand one key's or dialect's answer to another.
VARY = "Authorization, Accept-Version"


def answer(request: Request, response: JSONResponse, etag: str) -> Response:
    """A GET's 200 `response` with its ETag, or a bodiless 304 when the client already holds
    that tag (the caller tags only those: `Presenter._tagged`)."""
    condition = request.headers.get("if-none-match")
    if condition is not None and etag_listed(condition, etag, weak=True):
        return Response(status_code=304, headers={"ETag": etag, "Vary": VARY})
    response.headers["ETag"] = etag
    response.headers["Vary"] = VARY
    return response
