"""The web console: one page and its assets, served by the API itself at /console.

The page is static (pipeline/api/console/): it asks for an API key, keeps it in the
browser's sessionStorage only, and calls the same API as any client. No build step: plain
HTML, CSS and one ES module; the one third-party file, hls.js, was installed from npm at a
pinned version and is kept beside its licence (console/vendor/, see console/README.md).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from pipeline.api.errors import not_found

CONSOLE = Path(__file__).with_name("console")
# The files served, fixed when the module loads: a request names one of these or gets 404,
# so no name from a URL ever becomes a path.
_ASSETS = {
    path.relative_to(CONSOLE).as_posix(): path
    for path in CONSOLE.rglob("*")
    if path.is_file() and path.suffix in (".js", ".css", ".html", ".svg")
}
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}
# The page may only load what the API serves itself: no CDN, no inline script.
_POLICY = (
    "default-src 'self'; img-src 'self' data: blob: http: https:; "
    "media-src 'self' blob: http: https:; connect-src 'self' http: https:; "
    "style-src 'self'; script-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=307)


@router.get("/console")
def console() -> Response:
    return _file("index.html")


@router.get("/console/{name:path}")
def asset(name: str) -> Response:
    return _file(name)


def _file(name: str) -> Response:
    path = _ASSETS.get(name)
    if path is None:
        raise not_found("console file", name)
    headers = {"Content-Security-Policy": _POLICY, "X-Content-Type-Options": "nosniff"}
    if name != "index.html":
        headers["Cache-Control"] = "no-cache"  # revalidated: the ETag answers 304
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=headers)
