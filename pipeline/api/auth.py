"""API keys: `Authorization: Bearer <key>` -> the key's project, in one lookup.

The keys are fixed for the life of the process (STROBE_API_KEYS, or the key generated into
the data dir, read once at start), so the table is built once per app. It is keyed by the
SHA-256 of each key: a request costs one hash and one dict lookup however many keys there
are, and the final comparison of the key itself is constant-time, as before.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from starlette.datastructures import Headers


class ApiKeys:
    def __init__(self, keys: Mapping[str, str]) -> None:
        self._by_digest = {_digest(key): (key, project) for key, project in keys.items()}

    def find(self, given: str) -> tuple[str, str] | None:
        """(the key, its project) when `given` is a known key."""
        found = self._by_digest.get(_digest(given))
        if found is not None and hmac.compare_digest(found[0].encode(), given.encode()):
            return found
        return None

    def project(self, headers: Headers) -> str | None:
        """The project of the bearer key in `headers`; None without a known one."""
        given = bearer(headers)
        found = self.find(given) if given else None
        return found[1] if found else None


def bearer(headers: Headers) -> str | None:
    """The key in `Authorization: Bearer <key>`; None when the header is not that."""
    scheme, _, given = headers.get("authorization", "").partition(" ")
    given = given.strip()
    return given if scheme.lower() == "bearer" and given else None


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
