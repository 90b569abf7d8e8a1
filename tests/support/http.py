"""A loopback HTTP server for URL inputs: serves a directory, plus /status/N, /slow/N and
/stall/N."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
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
        if parts[0] == "redirect":
            self.send_response(302)
            self.send_header("Location", "/" + "/".join(parts[1:]))
            self.end_headers()
            return
        super().do_GET()


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve `root` on 127.0.0.1 on a free port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
