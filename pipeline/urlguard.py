"""Which URLs a worker may download: public http(s) addresses only, unless opted in.

`resolve` is the one place a URL's host is turned into addresses to connect to; the HTTP
clients in `pipeline.guarded_http` connect to exactly the addresses it approved, so a name
that answers differently on a second lookup (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import urlsplit

from pipeline.contract.errors import INPUT_FORBIDDEN, INPUT_UNREACHABLE, TaskError

ALLOWED_SCHEMES = ("http", "https")
# A lookup's own limit when the caller has no deadline nearer than this.
LOOKUP_TIMEOUT_S = 10.0
# getaddrinfo cannot be interrupted: lookups run here, and a caller stops waiting at its
# deadline. A stuck lookup holds one of these threads until the system resolver gives up
# (resolv.conf's timeout × attempts); lookups past the pool's size wait in its queue, and
# that wait counts against their deadline too.
_LOOKUPS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="strobe-dns")
# An address found by resolving a host: (family, type, proto, sockaddr), as getaddrinfo gives.
AddressInfo = tuple[int, int, int, Any]

# IPv6 ranges that carry an IPv4 address in their last 32 bits: the IPv4 address decides.
_EMBEDS_IPV4_LAST_32 = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix (RFC 6052)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT, RFC 2765)
)
# IPv6 ranges refused whatever they carry.
_NEVER_PUBLIC = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated), ::, ::1
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # NAT64 for local use (RFC 8215)
    ipaddress.IPv6Network("2001::/32"),  # Teredo: the tunnel's relay picks the IPv4 end
)


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
    """True for any address that is not public unicast, IPv4 embedded in IPv6 included."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _ipv4_private(embedded)
        if any(ip in network for network in _NEVER_PUBLIC):
            return True
        return not ip.is_global or ip.is_multicast
    return _ipv4_private(ip)


def _ipv4_private(ip: ipaddress.IPv4Address) -> bool:
    return not ip.is_global or ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:  # 2002::/16
        return ip.sixtofour
    if any(ip in network for network in _EMBEDS_IPV4_LAST_32):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_localhost_name(host: str) -> bool:
    """`localhost` in any spelling: any case, trailing dots, and every name under it."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def literal_private_host(url: str) -> bool:
    """True when the URL names a private or loopback IP literal (or localhost) directly."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if is_localhost_name(host):
        return True
    try:
        return is_private_address(host)
    except ValueError:
        pass
    try:  # the legacy spellings C resolvers accept: 2130706433, 0x7f.1, 0177.0.0.1, 127.1
        return is_private_address(socket.inet_ntoa(socket.inet_aton(host)))
    except OSError:
        return False


def resolve(
    host: str, port: int, *, allow_private: bool, timeout_s: float = LOOKUP_TIMEOUT_S
) -> list[AddressInfo]:
    """The addresses to connect to for `host`: all of them public unless `allow_private`.

    One private, loopback or reserved address among the answers refuses the host; a lookup
    that takes longer than `timeout_s` fails the same way an unknown name does."""
    if not allow_private and is_localhost_name(host):
        raise _forbidden(host, "localhost")
    lookup = _LOOKUPS.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=max(timeout_s, 0.0))
    except FutureTimeout:
        lookup.cancel()  # still queued: never runs
        raise TaskError(
            INPUT_UNREACHABLE, f"looking up host {host!r} took longer than {timeout_s:.0f} s"
        ) from None
    except (socket.gaierror, UnicodeError) as exc:
        raise TaskError(INPUT_UNREACHABLE, f"cannot resolve host {host!r}: {exc}") from exc
    if not infos:
        raise TaskError(INPUT_UNREACHABLE, f"host {host!r} has no address")
    if not allow_private:
        for info in infos:
            if is_private_address(str(info[4][0])):
                raise _forbidden(host, str(info[4][0]))
    return [(family, kind, proto, sockaddr) for family, kind, proto, _, sockaddr in infos]


def ensure_public(url: str, *, allow_private: bool) -> None:
    """Resolve the URL's host and refuse it if any address is private, loopback or reserved.

    A check ahead of time only: the clients in `pipeline.guarded_http` resolve and check
    again when they connect, and connect to what they checked."""
    reason = check_url_syntax(url)
    if reason:
        raise TaskError(INPUT_UNREACHABLE, f"url {reason}")
    if allow_private:
        return
    parts = urlsplit(url)
    resolve(parts.hostname or "", parts.port or 443, allow_private=False)


def _forbidden(host: str, address: str) -> TaskError:
    return TaskError(
        INPUT_FORBIDDEN,
        f"url host {host!r} resolves to a private or loopback address "
        f"({address}); set STROBE_ALLOW_PRIVATE_URLS=1 to allow it",
    )
