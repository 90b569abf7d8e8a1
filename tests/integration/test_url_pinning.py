"""SSRF through DNS: a URL's name is resolved once, checked, and connected to as checked.

Each test is the attack against a loopback server that counts the requests it receives."""

from __future__ import annotations

import datetime
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from pipeline import guarded_http
from pipeline.contract.errors import TaskError
from pipeline.fetch import download
from pipeline.guarded_http import guarded_client
from tests.support.http import serving
from tests.support.resolver import fake_names

PUBLIC = "93.184.216.34"  # a public address; nothing here can reach it


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[ThreadingHTTPServer, int, Path]]:
    root = tmp_path / "site"
    root.mkdir()
    (root / "secret.txt").write_bytes(b"internal only")
    with serving(root) as server:
        yield server, int(server.server_address[1]), root


def fetch(url: str, dest: Path, *, allow_private: bool = False) -> None:
    download(url, dest, max_bytes=1 << 20, timeout_s=3, allow_private=allow_private)


def test_a_name_that_rebinds_to_loopback_after_the_check_is_never_fetched(
    monkeypatch: pytest.MonkeyPatch, site: tuple[ThreadingHTTPServer, int, Path], tmp_path: Path
) -> None:
    server, port, _ = site
    # Public on the first lookup (what a guard that resolves on its own sees), loopback on
    # every later one (what an HTTP client resolving again at connect time would use).
    asked = fake_names(monkeypatch, {"rebind.test": [PUBLIC, "127.0.0.1"]})
    started = time.monotonic()
    with pytest.raises(TaskError) as info:
        fetch(f"http://rebind.test:{port}/secret.txt", tmp_path / "out")
    assert info.value.code in ("input_unreachable", "input_forbidden")
    assert time.monotonic() - started < 5
    assert server.requests == []  # type: ignore[attr-defined]
    assert not (tmp_path / "out").exists() or b"internal" not in (tmp_path / "out").read_bytes()
    assert asked == ["rebind.test"]  # resolved once: the connection used that answer


def test_a_name_that_answers_loopback_first_is_forbidden(
    monkeypatch: pytest.MonkeyPatch, site: tuple[ThreadingHTTPServer, int, Path], tmp_path: Path
) -> None:
    server, port, _ = site
    fake_names(monkeypatch, {"rebind.test": ["127.0.0.1", PUBLIC]})
    with pytest.raises(TaskError) as info:
        fetch(f"http://rebind.test:{port}/secret.txt", tmp_path / "out")
    assert info.value.code == "input_forbidden" and not info.value.retryable
    assert server.requests == []  # type: ignore[attr-defined]


def test_a_redirect_hop_to_a_rebinding_name_is_checked_when_followed(
    monkeypatch: pytest.MonkeyPatch, site: tuple[ThreadingHTTPServer, int, Path], tmp_path: Path
) -> None:
    server, port, _ = site
    fake_names(monkeypatch, {"evil.test": ["127.0.0.1"]})
    real_resolve = guarded_http.resolve
    hops: list[str] = []

    def first_hop_public(host: str, port_: int, *, allow_private: bool, timeout_s: float) -> object:
        # The first hop stands for a public server (the test's is on loopback); every later
        # connection is checked by the real guard.
        hops.append(host)
        private = len(hops) == 1 or allow_private
        return real_resolve(host, port_, allow_private=private, timeout_s=timeout_s)

    monkeypatch.setattr(guarded_http, "resolve", first_hop_public)
    with pytest.raises(TaskError) as info:
        fetch(f"http://127.0.0.1:{port}/redirect-to/evil.test:{port}/secret.txt", tmp_path / "o")
    assert info.value.code == "input_forbidden"
    assert hops == ["127.0.0.1", "evil.test"]
    assert server.requests == [f"127.0.0.1:{port}/redirect-to/evil.test:{port}/secret.txt"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::127.0.0.1",  # IPv4-compatible
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b:1::a00:1",  # local-use NAT64
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo
        "::ffff:0:a00:1",  # IPv4-translated 10.0.0.1
    ],
)
def test_names_resolving_to_ipv6_forms_of_private_ipv4_are_forbidden(
    monkeypatch: pytest.MonkeyPatch,
    site: tuple[ThreadingHTTPServer, int, Path],
    tmp_path: Path,
    address: str,
) -> None:
    server, port, _ = site
    fake_names(monkeypatch, {"six.test": [address]})
    with pytest.raises(TaskError) as info:
        fetch(f"http://six.test:{port}/secret.txt", tmp_path / "out")
    assert info.value.code == "input_forbidden"
    assert address in info.value.message
    assert server.requests == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "host", ["localhost.", "LOCALHOST", "api.localhost", "api.localhost.", "127.1", "2130706433"]
)
def test_every_spelling_of_localhost_is_forbidden(
    site: tuple[ThreadingHTTPServer, int, Path], tmp_path: Path, host: str
) -> None:
    server, port, _ = site
    with pytest.raises(TaskError) as info:
        fetch(f"http://{host}:{port}/secret.txt", tmp_path / "out")
    assert info.value.code in ("input_forbidden", "input_unreachable")
    assert server.requests == []  # type: ignore[attr-defined]


def test_the_connection_goes_to_the_checked_address_with_the_urls_host_header(
    monkeypatch: pytest.MonkeyPatch, site: tuple[ThreadingHTTPServer, int, Path], tmp_path: Path
) -> None:
    server, port, _ = site
    asked = fake_names(monkeypatch, {"media.test": ["127.0.0.1", PUBLIC]})
    fetch(f"http://media.test:{port}/secret.txt", tmp_path / "out", allow_private=True)
    assert (tmp_path / "out").read_bytes() == b"internal only"
    assert server.requests == [f"media.test:{port}/secret.txt"]  # type: ignore[attr-defined]
    assert asked == ["media.test"]


# --- HTTPS to a pinned address: SNI and certificate are the URL's name ---------------------


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def tls_server(cert: Path, key: Path, seen: list[tuple[str | None, str]]) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append((None, self.headers.get("Host", "")))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: seen.append((name, "")) and None  # type: ignore[func-returns-value]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_https_to_a_pinned_address_verifies_the_certificate_for_the_urls_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert, key = _certificate(tmp_path, "media.test")
    trust = ssl.create_default_context(cafile=str(cert))
    fake_names(monkeypatch, {"media.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    seen: list[tuple[str | None, str]] = []
    with tls_server(cert, key, seen) as port:
        with guarded_client(allow_private=True, timeout_s=5, verify=trust) as client:
            answer = client.get(f"https://media.test:{port}/")
        assert answer.status_code == 200 and answer.content == b"ok"
        assert (("media.test", "") in seen) and ((None, f"media.test:{port}") in seen)
        # The same address under a name the certificate does not hold: refused by TLS.
        with (
            guarded_client(allow_private=True, timeout_s=5, verify=trust) as client,
            pytest.raises(httpx.ConnectError, match="(?i)certificate"),
        ):
            client.get(f"https://other.test:{port}/")
