"""Requests per API key: a token bucket per key, in this API process's memory.

Off unless `STROBE_RATE_LIMIT` (requests per second per key) is set. Each known key has a
bucket of `STROBE_RATE_LIMIT_BURST` tokens that refills at the rate; a request takes one,
and with none left it is answered `429 rate_limited` with `Retry-After` (whole seconds
until a token is back). Requests without a known key are not counted here (they are
answered 401, or are the open routes: health, metrics, signed links), so unknown keys
cannot grow the table. Buckets are per process: N API replicas allow N times the rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.api.auth import ApiKeys, bearer
from pipeline.api.context import error_response
from pipeline.api.errors import ApiError
from pipeline.contract.errors import RATE_LIMITED


class TokenBuckets:
    """`take(key)` -> 0 when allowed, else the seconds until a token is back."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.clock = rate, max(1, burst), clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class RateLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, api_keys: Mapping[str, str], rate: float, burst: int
    ) -> None:
        self.app, self.keys = app, ApiKeys(api_keys)
        self.buckets = TokenBuckets(rate, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope) if scope["type"] == "http" else None
        wait = self.buckets.take(key) if key is not None else 0.0
        if not wait:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        exc = ApiError(
            429,
            RATE_LIMITED,
            f"too many requests for this API key; retry in {retry_after} s "
            f"(at most {self.buckets.rate:g} per second, bursts of {self.buckets.burst})",
        )
        response = error_response(Request(scope, receive), exc)
        response.headers["Retry-After"] = str(retry_after)
        await response(scope, receive, send)

    def _key(self, scope: Scope) -> str | None:
        given = bearer(Headers(scope=scope))
        found = self.keys.find(given) if given else None
        return found[0] if found else None
