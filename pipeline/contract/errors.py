"""Every error code Strobe answers with or ends a task with, declared once, and TaskError.

A code is a plain string (it is stored in the tasks table and sent in JSON as is); the
constants below are how code spells it, and `ERRORS` says for each one where it appears,
whether it is retried, and what it means. The README's error tables are checked against this
table by tests/unit/test_error_codes.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    meaning: str
    task: bool = False  # a task can end `error` with it
    status: int | None = None  # the HTTP status an API answer with it carries (None: never)
    # Retried (up to STROBE_MAX_ATTEMPTS) before a task ends with it. This is the usual case;
    # the raise site decides for each failure (a 404 is not retried, a timeout is).
    retryable: bool = False


ERRORS: dict[str, ErrorCode] = {}


def _declare(
    code: str,
    meaning: str,
    *,
    task: bool = False,
    status: int | None = None,
    retryable: bool = False,
) -> str:
    ERRORS[code] = ErrorCode(code, meaning, task, status, retryable)
    return code


# Answers of the HTTP API (the `error.code` of a 4xx/5xx envelope).
INVALID_REQUEST = _declare(
    "invalid_request", "a field or header is malformed or not allowed here", status=422
)
UNAUTHORIZED = _declare("unauthorized", "no API key, or an unknown one", status=401)
FORBIDDEN = _declare(
    "forbidden", "a signed upload URL that is forged, expired or for another use", status=403
)
NOT_FOUND = _declare("not_found", "no such object in this project", status=404)
PAYLOAD_TOO_LARGE = _declare("payload_too_large", "a body over its size limit", status=413)
REQUEST_TIMEOUT = _declare(
    "request_timeout", "a request body that stopped arriving (STROBE_BODY_IDLE_S)", status=408
)
RATE_LIMITED = _declare("rate_limited", "over the key's rate or the ingest slots", status=429)
UNSUPPORTED_VERSION = _declare(
    "unsupported_version", "an Accept-Version this server does not speak", status=400
)
DATABASE_UNAVAILABLE = _declare(
    "database_unavailable", "the database did not answer in time (Retry-After)", status=503
)
RANGE_NOT_SATISFIABLE = _declare(
    "range_not_satisfiable", "a byte range that starts past the end of the file", status=416
)

# How a task ends `error`. The input_* codes also answer a URL ingest (POST /files with a url),
# which fetches while the client waits.
INPUT_UNREACHABLE = _declare(
    "input_unreachable",
    "the URL failed (HTTP status, timeout, DNS)",
    task=True,
    status=422,
    retryable=True,
)
INPUT_FORBIDDEN = _declare(
    "input_forbidden", "the URL resolves to a private or loopback address", task=True, status=422
)
INPUT_TOO_LARGE = _declare(
    "input_too_large", "bytes or pixel count over the limits", task=True, status=413
)
INPUT_UNREADABLE = _declare("input_unreadable", "not media, corrupt, truncated or empty", task=True)
NO_VIDEO_STREAM = _declare("no_video_stream", "a picture is needed and there is none", task=True)
NO_AUDIO_STREAM = _declare("no_audio_stream", "sound is needed and there is none", task=True)
OPTION_OUT_OF_RANGE = _declare(
    "option_out_of_range", "valid alone, impossible for this input", task=True
)
MODEL_MISSING = _declare("model_missing", "the kind's weights are not installed", task=True)
WORKER_LOST = _declare(
    "worker_lost", "the workers running it died more times than the retry budget", task=True
)
TIMEOUT = _declare("timeout", "it ran past its time budget", task=True, retryable=True)
STORAGE_UNAVAILABLE = _declare(
    "storage_unavailable", "the storage could not be read or written", task=True, retryable=True
)
CANCELLED = _declare("cancelled", "DELETE /tasks/{id}", task=True)
UPSTREAM_FAILED = _declare(
    "upstream_failed",
    "a workflow step not run because a step it depends on failed; the run names that step",
    task=True,
)
INTERNAL = _declare("internal", "a bug; logged with the task or request id", task=True, status=500)


class TaskError(Exception):
    """A task cannot finish; `code` is one of the codes in ERRORS above."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
