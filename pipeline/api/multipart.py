"""A multipart upload streamed straight into one file, within the upload limit.

Starlette's form parser spools every file part to the system temp folder before the route
sees it, so a body with no `Content-Length` is written out whole before any limit applies.
Here the parts are parsed as the body arrives: the `file` part's bytes go to the caller's
path (in the data dir's scratch space) and stop with `413` at the limit; other fields are
counted and capped, and their values dropped.
"""

from __future__ import annotations

from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from pipeline.api.errors import ApiError
from pipeline.api.limits import PayloadTooLarge
from pipeline.contract.errors import INVALID_REQUEST

MAX_FIELDS = 20  # parts other than the file
MAX_FIELD_BYTES = 64 << 10  # the value of one of them
MAX_HEADER_BYTES = 16 << 10  # the headers of one part


class MultipartError(ApiError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(422, INVALID_REQUEST, f"multipart body: {message}", field)


class _Upload:
    """The parser's callbacks: one file part (`field`) written to `path`."""

    def __init__(self, path: Path, field: str, limit: int) -> None:
        self.path, self.field, self.limit = path, field, limit
        self.out = path.open("wb")
        self.written = 0
        self.fields = 0
        self.found = False
        self.filename = ""
        self.content_type = ""
        self._headers: dict[bytes, bytes] = {}
        self._name = b""
        self._value = b""
        self._header_bytes = 0
        self._part_bytes = 0
        self._into_file = False

    def on_part_begin(self) -> None:
        self._headers, self._header_bytes, self._part_bytes = {}, 0, 0
        self._into_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]
        self._count_header(end - start)

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._count_header(end - start)

    def on_header_end(self) -> None:
        self._headers[self._name.lower()] = self._value
        self._name, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == self.field and b"filename" in options:
            if self.found:
                raise MultipartError(f"only one {self.field!r} part is accepted", self.field)
            self.found = self._into_file = True
            self.filename = options[b"filename"].decode("utf-8", "replace")
            self.content_type = self._headers.get(b"content-type", b"").decode("latin-1")
            return
        self.fields += 1
        if self.fields > MAX_FIELDS:
            raise MultipartError(f"at most {MAX_FIELDS} parts besides {self.field!r}")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self._into_file:
            self.written += size
            if self.written > self.limit:
                raise PayloadTooLarge(self.limit, "uploads")
            self.out.write(data[start:end])
            return
        self._part_bytes += size
        if self._part_bytes > MAX_FIELD_BYTES:
            raise MultipartError(f"a field besides {self.field!r} is over {MAX_FIELD_BYTES} bytes")

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            raise MultipartError(f"a part's headers are over {MAX_HEADER_BYTES} bytes")


async def receive_file(request: Request, path: Path, *, limit: int, field: str) -> tuple[str, str]:
    """Write the multipart part `field` to `path`; its filename and content type."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise MultipartError("the Content-Type has no boundary")
    upload = _Upload(path, field, limit)
    callbacks = {
        "on_part_begin": upload.on_part_begin,
        "on_part_data": upload.on_part_data,
        "on_header_field": upload.on_header_field,
        "on_header_value": upload.on_header_value,
        "on_header_end": upload.on_header_end,
        "on_headers_finished": upload.on_headers_finished,
    }
    try:
        with upload.out:
            parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
    except FormParserError as exc:
        raise MultipartError("malformed") from exc
    if not upload.found:
        raise MultipartError(f"needs a {field!r} file part", field)
    return upload.filename or "upload", upload.content_type
