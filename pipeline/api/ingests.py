"""A cap on URL ingests (`POST /files` with a `url`) running at once in this API process.

An ingest downloads while the client waits, on one of the threads that also serve every
other synchronous route. However slow the servers behind the URLs, ingests hold at most
`STROBE_MAX_CONCURRENT_INGESTS` of those threads, so `/health` and the rest keep answering;
each ingest also ends within `STROBE_FETCH_TIMEOUT` (see `pipeline.guarded_http`). One over
the cap is answered `429 rate_limited` with `Retry-After` at once, before its body is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from fastapi.responses import JSONResponse

from pipeline.api.context import error_response, state
from pipeline.api.errors import ApiError
from pipeline.contract.errors import RATE_LIMITED

RETRY_AFTER_S = 5


class IngestSlots:
    """Counts ingests in flight. Used from the event loop only, so it needs no lock."""

    def __init__(self, limit: int) -> None:
        self.limit, self.held = max(1, limit), 0

    @contextmanager
    def hold(self) -> Iterator[bool]:
        """Yields True with a slot held for the block, False when all are taken."""
        if self.held >= self.limit:
            yield False
            return
        self.held += 1
        try:
            yield True
        finally:
            self.held -= 1


def ingest_slots(request: Request) -> IngestSlots:
    """The app's slots, made on its first ingest."""
    slots: IngestSlots | None = getattr(request.app.state, "ingest_slots", None)
    if slots is None:
        slots = IngestSlots(state(request).settings.max_concurrent_ingests)
        request.app.state.ingest_slots = slots
    return slots


def too_many_ingests(request: Request, limit: int) -> JSONResponse:
    exc = ApiError(
        429,
        RATE_LIMITED,
        f"{limit} URL ingests are running on this server, its limit "
        f"(STROBE_MAX_CONCURRENT_INGESTS); retry in {RETRY_AFTER_S} s",
    )
    response = error_response(request, exc)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
