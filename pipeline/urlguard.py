"""Which URLs a worker may download: public http(s) addresses only, unless opted in."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from operators.base import TaskError

ALLOWED_SCHEMES = ("http", "https")


def check_url_syntax(url: str) -> str | None:
    """The reason a URL can never work (wrong scheme, no host, bad port), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ALLOWED_SCHEMES:
        return f"must be an http or https URL (got scheme {parts.scheme or 'none'!r})"
    if not parts.hostname:
        return "has no host"
    return None


def is_private_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def literal_private_host(url: str) -> bool:
    """True when the URL names a private or loopback IP literal (or localhost) directly."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return is_private_address(host)
    except ValueError:
        return False


def ensure_public(url: str, *, allow_private: bool) -> None:
    """Resolve the URL's host and refuse it if any address is private, loopback or reserved."""
    reason = check_url_syntax(url)
    if reason:
        raise TaskError("input_unreachable", f"url {reason}")
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TaskError("input_unreachable", f"cannot resolve host {host!r}: {exc}") from exc
    for info in infos:
        if is_private_address(str(info[4][0])):
            raise TaskError(
                "input_forbidden",
                f"url host {host!r} resolves to a private or loopback address "
                f"({info[4][0]}); set STROBE_ALLOW_PRIVATE_URLS=1 to allow it",
            )
