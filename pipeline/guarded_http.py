"""HTTP clients for URLs that clients of the API chose: URL inputs, URL ingests, webhooks.

Two attacks shape them:

* **DNS rebinding.** Checking a name's addresses and then letting the HTTP library resolve
  it again at connect time lets a name answer a public address to the check and loopback to
  the connection. Here the client's network backend resolves each host once, refuses it
  when any address is private (`pipeline.urlguard.resolve`), connects to one of exactly those
  addresses, and checks the connected peer before a byte is sent. The URL's name still goes
  in the `Host` header and in TLS (SNI and certificate verification), so HTTPS holds. Every
  connection goes through this, so each redirect hop is checked as it is followed.
* **Trickling.** A per-read timeout alone lets a server that sends a byte a second keep a
  request going for ever (status line and headers included). Every socket operation here
  waits at most the smaller of its own timeout and what is left of the client's overall
  deadline; past the deadline the next read raises `httpx.ReadTimeout`.

A client is made per download or delivery: its deadline starts when it is made. Proxies
from the environment are not used (the guard checks the address actually connected to).
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from pipeline.urlguard import resolve


class Deadline:
    """An instant on the monotonic clock; `left` clamps a timeout to the time remaining."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self, timeout: float | None, expired: type[Exception]) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise expired("the overall deadline passed")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._deadline.left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, timeout), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class PinnedBackend(httpcore.NetworkBackend):
    """Resolves and checks each host once, and connects to the addresses it checked."""

    def __init__(self, *, allow_private: bool, deadline: Deadline) -> None:
        self.allow_private, self.deadline = allow_private, deadline
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        lookup_s = self.deadline.left(timeout, httpcore.ConnectTimeout)
        found = resolve(host, port, allow_private=self.allow_private, timeout_s=lookup_s)
        for *_, sockaddr in found:
            address = str(sockaddr[0])
            left = self.deadline.left(timeout, httpcore.ConnectTimeout)
            try:
                # A literal address: the socket library parses it, it never asks DNS.
                stream = self._plain.connect_tcp(address, port, left, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            self._check_peer(stream, address, host)
            return _DeadlineStream(stream, self.deadline)
        raise failure

    def _check_peer(self, stream: httpcore.NetworkStream, approved: str, host: str) -> None:
        peer = str((stream.get_extra_info("server_addr") or ("",))[0])
        if _same_address(peer, approved):
            return
        stream.close()
        raise httpcore.ConnectError(
            f"connected to {peer or 'an unknown peer'} for {host}, not to {approved}"
        )

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _same_address(one: str, two: str) -> bool:
    try:
        return ipaddress.ip_address(one.split("%")[0]) == ipaddress.ip_address(two.split("%")[0])
    except ValueError:
        return False


class _PinnedTransport(httpx.HTTPTransport):
    def __init__(self, backend: PinnedBackend, verify: ssl.SSLContext | bool) -> None:
        super().__init__(verify=verify, trust_env=False)
        # httpx builds its connection pool with the default network backend; this one is the
        # same pool with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=backend,
        )


def guarded_client(
    *,
    allow_private: bool,
    timeout_s: float,
    read_timeout_s: float | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Client:
    """A client whose every request ends within `timeout_s` from now (`httpx.TimeoutException`
    past it) and reaches only addresses the URL guard approved. `read_timeout_s` (default:
    `timeout_s`) bounds each wait for bytes. Redirects are not followed: a caller that follows
    them checks each URL's syntax itself; the addresses are checked here."""
    deadline = Deadline(timeout_s)
    backend = PinnedBackend(allow_private=allow_private, deadline=deadline)
    read_s = min(read_timeout_s or timeout_s, timeout_s)
    return httpx.Client(
        transport=_PinnedTransport(backend, verify),
        timeout=httpx.Timeout(read_s, connect=min(10.0, timeout_s)),
        follow_redirects=False,
        trust_env=False,
    )
