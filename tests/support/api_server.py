"""The API app served by uvicorn on loopback in a thread, and a raw HTTP/1.1 client that
streams a chunked body (no Content-Length) the way an attacker would."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from tests.support.processes import free_port


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """`http://127.0.0.1:PORT` while `app` is served; stopped on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Exchange:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes the client got onto the wire before the server stopped it


def send_chunked(
    base: str, method: str, target: str, headers: dict[str, str], chunks: Iterable[bytes]
) -> Exchange:
    """Send `chunks` as a chunked body while reading the answer on another thread, until the
    body ends or the server stops taking it."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Transfer-Encoding: chunked"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    received = bytearray()
    done = threading.Event()

    def read() -> None:
        try:
            while data := sock.recv(65536):
                received.extend(data)
        except OSError:
            pass
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for chunk in chunks:
            if done.is_set() or b"\r\n\r\n" in received:
                break  # the server has answered: an attacker's client would go on, but why
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # reset by the server: it stopped reading
    done.wait(timeout=30)
    sock.close()
    return _parse(bytes(received), sent)


def _parse(raw: bytes, sent: int) -> Exchange:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return Exchange(status, headers, body, sent)


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)
