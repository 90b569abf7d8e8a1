"""Which URLs a worker may fetch: syntax, literal private hosts, and resolved addresses."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from pipeline.contract.errors import TaskError
from pipeline.urlguard import (
    check_url_syntax,
    ensure_public,
    is_private_address,
    literal_private_host,
)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_private_loopback_link_local_and_multicast_addresses_are_private(address: str) -> None:
    assert is_private_address(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_not_private(address: str) -> None:
    assert not is_private_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a",
        "http://127.0.0.1:8080/a",
        "https://10.20.30.40/a",
        "http://[::1]:8000/a",
        "http://[::ffff:127.0.0.1]/a",
        "http://localhost/a",
        "http://LocalHost:80/a",
        "http://api.localhost/a",
    ],
)
def test_literal_private_hosts(url: str) -> None:
    assert literal_private_host(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a",
        "http://8.8.8.8/a",
        "http://localhost.example.com/a",
        "http://notlocalhost/a",
        "http://[2606:4700:4700::1111]/a",
    ],
)
def test_names_and_public_literals_are_not_literal_private_hosts(url: str) -> None:
    assert not literal_private_host(url)


@pytest.mark.parametrize("url", ["http://example.com/a.jpg", "https://example.com:8443/a?b=c"])
def test_http_urls_with_a_host_pass_the_syntax_check(url: str) -> None:
    assert check_url_syntax(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a", "got scheme 'ftp'"),
        ("gopher://example.com/a", "got scheme 'gopher'"),
        ("//example.com/a", "got scheme 'none'"),
        ("", "got scheme 'none'"),
        ("http://", "has no host"),
        ("https:///a", "has no host"),
    ],
)
def test_syntax_check_says_why_a_url_cannot_work(url: str, reason: str) -> None:
    assert reason in (check_url_syntax(url) or "")


@pytest.mark.parametrize(
    "url", ["http://[::1/a", "http://example.com:99999/a", "http://example.com:port/a"]
)
def test_syntax_check_gives_a_reason_for_malformed_hosts_and_ports(url: str) -> None:
    # These raise ValueError from urlsplit or `.port`; they should be a reason, not a crash.
    assert check_url_syntax(url)


# --- ensure_public -----------------------------------------------------------------------


def fake_resolver(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> list[str]:
    """Make getaddrinfo answer `addresses`; returns the hosts it was asked about."""
    asked: list[str] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        asked.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/a.jpg", "http://localhost/a.jpg", "http://[::1]:9/a.jpg"]
)
def test_loopback_urls_are_forbidden(url: str) -> None:
    with pytest.raises(TaskError) as info:
        ensure_public(url, allow_private=False)
    assert info.value.code == "input_forbidden"
    assert "STROBE_ALLOW_PRIVATE_URLS=1" in info.value.message
    assert not info.value.retryable


@pytest.mark.parametrize("url", ["http://127.0.0.1/a.jpg", "http://localhost/a.jpg"])
def test_loopback_urls_pass_when_private_urls_are_allowed(url: str) -> None:
    ensure_public(url, allow_private=True)


def test_a_name_resolving_to_public_addresses_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_resolver(monkeypatch, "93.184.216.34", "2606:2800:220:1::1")
    ensure_public("https://media.example/a.jpg", allow_private=False)
    assert asked == ["media.example"]


def test_one_private_address_among_public_ones_is_enough_to_refuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_resolver(monkeypatch, "93.184.216.34", "10.0.0.7")
    with pytest.raises(TaskError) as info:
        ensure_public("https://rebind.example/a.jpg", allow_private=False)
    assert info.value.code == "input_forbidden"
    assert "10.0.0.7" in info.value.message


def test_an_unresolvable_host_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(TaskError) as info:
        ensure_public("https://nowhere.invalid/a.jpg", allow_private=False)
    assert info.value.code == "input_unreachable"
    assert "nowhere.invalid" in info.value.message


@pytest.mark.parametrize("allow_private", [False, True])
def test_a_bad_scheme_is_unreachable_even_when_private_urls_are_allowed(
    allow_private: bool,
) -> None:
    with pytest.raises(TaskError) as info:
        ensure_public("file:///etc/passwd", allow_private=allow_private)
    assert info.value.code == "input_unreachable"


def test_an_impossible_port_is_a_task_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # `.port` raises ValueError, which the executor would report as an internal error.
    fake_resolver(monkeypatch, "93.184.216.34")
    with pytest.raises(TaskError):
        ensure_public("http://media.example:99999/a.jpg", allow_private=False)


# --- IPv6 forms that carry an IPv4 address, and spellings of localhost ----------------------


@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1",  # IPv4-compatible (deprecated): refused whatever it holds
        "::8.8.8.8",
        "64:ff9b::7f00:1",  # NAT64 (RFC 6052) of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::8.8.8.8",  # local-use NAT64 (RFC 8215): never public
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "::ffff:0:7f00:1",  # IPv4-translated (SIIT) 127.0.0.1
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_private(address: str) -> None:
    assert is_private_address(address)


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1"])
def test_ipv6_forms_of_public_ipv4_addresses_are_public(address: str) -> None:
    assert not is_private_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost./a",
        "http://LOCALHOST/a",
        "http://localhost../a",
        "http://a.b.localhost./a",
        "http://2130706433/a",  # 127.0.0.1 in decimal
        "http://0x7f000001/a",
        "http://0177.0.0.1/a",
        "http://127.1/a",
        "http://[::127.0.0.1]/a",
        "http://[64:ff9b::7f00:1]/a",
    ],
)
def test_other_spellings_of_loopback_are_literal_private_hosts(url: str) -> None:
    assert literal_private_host(url)


@pytest.mark.parametrize("host", ["localhost.", "LocalHost", "x.localhost."])
def test_localhost_names_are_refused_without_asking_dns(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    asked = fake_resolver(monkeypatch, "93.184.216.34")
    with pytest.raises(TaskError) as info:
        ensure_public(f"http://{host}/a.jpg", allow_private=False)
    assert info.value.code == "input_forbidden" and asked == []
