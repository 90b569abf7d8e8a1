"""A loopback HTTP server for URL inputs: serves a directory, plus /status/N, /slow/N,
/stall/N, /redirect/, /redirect-to/, /trickle/N and /trickle-headers/N. `serving` yields the
server, whose `requests` lists what it received."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# One byte per interval, for at most this long: a trickle ends even if nobody hangs up.
TRICKLE_MAX_S = 30.0


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append(f"{self.headers.get('Host', '')}{self.path}")
        parts = self.path.strip("/").split("/")
        if parts[0] in ("trickle", "trickle-headers") and len(parts) >= 2:
            # /trickle/<seconds>: the headers, then one body byte every <seconds>;
            # /trickle-headers/<seconds>: the status line and headers one byte at a time.
            self._trickle(float(parts[1]), headers=parts[0] == "trickle-headers")
            return
        if parts[0] == "status" and len(parts) == 2:
            self.send_error(int(parts[1]))
            return
        if parts[0] == "slow" and len(parts) >= 3:
            # /slow/<seconds>/<file>: wait, then serve the file (a task stays in processing)
            time.sleep(float(parts[1]))
            self.path = "/" + "/".join(parts[2:])
        if parts[0] == "stall" and len(parts) >= 3:
            # /stall/<seconds>/<file>: headers and the first byte, then nothing for that long
            body = (Path(self.directory) / "/".join(parts[2:])).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:1])
            self.wfile.flush()
            time.sleep(float(parts[1]))
            return
        if parts[0] == "redirect-to" and len(parts) >= 2:
            # /redirect-to/<host:port>/<path>: a redirect to another host
            self.send_response(302)
            self.send_header("Location", "http://" + "/".join(parts[1:]))
            self.end_headers()
            return
        if parts[0] == "redirect":
            self.send_response(302)
            self.send_header("Location", "/" + "/".join(parts[1:]))
            self.end_headers()
            return
        super().do_GET()

    def _trickle(self, interval_s: float, *, headers: bool) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {1 << 20}\r\n\r\n".encode()
        stream = head if headers else b"x" * (1 << 20)
        if not headers:
            self.wfile.write(head)
        give_up = time.monotonic() + TRICKLE_MAX_S
        try:
            for byte in stream:
                if time.monotonic() > give_up:
                    break
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(interval_s)
        except OSError:  # the client hung up: what a deadline should make it do
            pass
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
        self.lock = threading.Lock()
        self.requests: list[str] = []  # "host/path" of each request received


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve `root` on 127.0.0.1 on a free port; yields the base URL."""
    with serving(root) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def serving(root: Path) -> Iterator[_Server]:
    """`serve_directory`, yielding the server (its port, the requests it received)."""
    server = _Server(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
