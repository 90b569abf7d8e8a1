"""HMAC-signed, expiring download links for `/files/{id}/content`."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode


def sign(secret: str, file_id: str, expires: int) -> str:
    message = f"{file_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, file_id: str, expires: int, signature: str, now: float | None = None
) -> bool:
    if expires < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(sign(secret, file_id, expires), signature)


def content_url(base_url: str, secret: str, file_id: str, ttl_s: int) -> str:
    expires = int(time.time()) + ttl_s
    query = urlencode({"expires": expires, "signature": sign(secret, file_id, expires)})
    return f"{base_url.rstrip('/')}/files/{file_id}/content?{query}"


def folder_url(base_url: str, secret: str, file_id: str, name: str, ttl_s: int) -> str:
    """A link to `name` in a file's output folder, with the signature in the path, so that
    relative references (HLS segments next to a playlist) resolve to signed links too."""
    expires = int(time.time()) + ttl_s
    signature = sign(secret, file_id, expires)
    return f"{base_url.rstrip('/')}/files/{file_id}/t/{expires}/{signature}/{quote(name)}"
