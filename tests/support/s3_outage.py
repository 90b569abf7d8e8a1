"""An S3 endpoint that restarts mid-upload: a TCP proxy in front of the S3 server that, when a
PUT whose path holds a given fragment comes through, cuts every open connection (that upload
among them) and refuses connections for a while, then serves again with the same objects,
which is what clients see of an S3 server restarting. The proxy decides the moment, so the
cut lands inside an upload every time rather than by luck of timing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

CHUNK = 64 * 1024


class RestartingEndpoint:
    def __init__(self, upstream: str, *, down_s: float) -> None:
        split = urlsplit(upstream)
        self.upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self.down_s = down_s
        self.restarts = 0
        self.armed: bytes | None = None
        self.port = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm(self, path_fragment: str) -> None:
        """Restart when the next PUT whose request line holds `path_fragment` arrives."""
        self.armed = path_fragment.encode()

    def start(self) -> None:
        self._listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._cut()

    def restart(self) -> None:
        """Cut every connection, refuse new ones for `down_s`, then listen again."""
        self.restarts += 1
        self._cut()
        time.sleep(self.down_s)
        if not self._closed.is_set():
            self._listen()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener

    def _cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = list(self._open), set()
        for sock in [s for s in (listener,) if s is not None] + sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:  # down: wait for restart() to listen again
                time.sleep(0.05)
                continue
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, server}
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(CHUNK):
                if from_client and self._triggers(chunk):
                    # The request line and headers go up; the body never will.
                    sink.sendall(chunk.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
                    threading.Thread(target=self.restart, daemon=True).start()
                    return
                sink.sendall(chunk)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _triggers(self, chunk: bytes) -> bool:
        if not chunk.startswith(b"PUT "):
            return False
        with self._lock:
            if self.armed is None or self.armed not in chunk.split(b"\r\n", 1)[0]:
                return False
            self.armed = None
            return True


@contextmanager
def restarting_endpoint(upstream: str, *, down_s: float) -> Iterator[RestartingEndpoint]:
    endpoint = RestartingEndpoint(upstream, down_s=down_s)
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.close()
