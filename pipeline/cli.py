"""`strobe serve | api | worker`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from pipeline.config import Settings

log = logging.getLogger("strobe")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="strobe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (
        ("serve", "API + embedded workers in one command"),
        ("api", "the HTTP API only"),
    ):
        sub = commands.add_parser(name, help=help_)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=8000)
        sub.add_argument("--data-dir", help="overrides STROBE_DATA_DIR")
    worker = commands.add_parser("worker", help="workers only: dispatcher + Ray actors")
    worker.add_argument("--data-dir", help="overrides STROBE_DATA_DIR")
    worker.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.data_dir:
        os.environ["STROBE_DATA_DIR"] = args.data_dir
    settings = Settings.from_env().with_generated_secrets()
    if args.command == "worker":
        return run_worker(settings, exit_with_parent=args.exit_with_parent)
    return run_api(settings, args.host, args.port, embedded_workers=args.command == "serve")


def run_api(settings: Settings, host: str, port: int, *, embedded_workers: bool) -> int:
    import uvicorn

    from pipeline.api.app import create_app
    from pipeline.storage import open_storage
    from pipeline.store import open_store

    app = create_app(
        settings, open_store(settings.database_url), open_storage(settings.storage_url)
    )
    worker = _spawn_worker() if embedded_workers else None
    url = settings.public_url or f"http://{host}:{port}"
    print(f"Strobe API on {url}  (data in {settings.data_dir})", flush=True)
    for key, project in settings.api_keys.items():
        shown = key if os.environ.get("STROBE_API_KEYS") is None else key[:6] + "…"
        print(f"API key for {project}: {shown}", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if worker is not None:
            _stop(worker)
    return 0


def run_worker(settings: Settings, *, exit_with_parent: bool) -> int:
    import secrets
    import socket

    from operators.registry import OPERATORS
    from pipeline.runtime.dispatcher import Dispatcher
    from pipeline.runtime.ray_pool import RayActorPool, start_ray
    from pipeline.runtime.retry import RetryPolicy
    from pipeline.store import open_store

    parent = os.getppid()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    start_ray(settings)
    dispatcher = Dispatcher(
        open_store(settings.database_url),
        RayActorPool(settings),
        owner=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}",
        kinds=sorted(OPERATORS),
        lease_s=settings.lease_seconds,
        retry=RetryPolicy(max_attempts=settings.max_attempts),
    )
    try:
        dispatcher.run(lambda: stopping or (exit_with_parent and os.getppid() != parent))
    finally:
        import ray

        ray.shutdown()
    return 0


def _spawn_worker() -> subprocess.Popen[bytes]:
    # A separate process keeps Ray (and later torch) out of the API process.
    command = [sys.executable, "-m", "pipeline.cli", "worker", "--exit-with-parent"]
    return subprocess.Popen(command, env=os.environ.copy())


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


if __name__ == "__main__":
    sys.exit(main())
