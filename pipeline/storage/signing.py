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
    if expires < (time.time() if now is None else now) or not signature.isascii():
        return False  # compare_digest refuses (raises on) non-ASCII strings
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


def sign_path(key: str, project_id: str, path: str, expiry: int, method: str) -> str:
    """The signature of a `POST /signatures` URL: HMAC-SHA256, keyed with one of the
    project's API keys, over the project, the file's path, the expiry and the method."""
    message = f"{project_id}/{path}?expiry={expiry}&method={method}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def signed_path_url(
    base_url: str, key: str, project_id: str, path: str, expiry: int, method: str
) -> tuple[str, str]:
    """`(url, signature)` for `path` (`folder/filename`) in the project."""
    signature = sign_path(key, project_id, path, expiry, method)
    query = urlencode({"expiry": expiry, "method": method, "signature": signature})
    return f"{base_url.rstrip('/')}/signed/{project_id}/{quote(path)}?{query}", signature


def verify_path(
    keys: list[str],
    project_id: str,
    path: str,
    expiry: int,
    method: str,
    signature: str,
    now: float | None = None,
) -> bool:
    """True when unexpired and signed with any of `keys` (so keys can be rotated)."""
    if expiry < (time.time() if now is None else now) or not signature.isascii():
        return False  # compare_digest refuses (raises on) non-ASCII strings
    return any(
        hmac.compare_digest(sign_path(k, project_id, path, expiry, method), signature) for k in keys
    )
