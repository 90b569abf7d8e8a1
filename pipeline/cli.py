"""`strobe serve | api | worker | models | webhooks | tasks | batch`."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from pipeline.client import commands as client_commands
from pipeline.config import ConfigError, Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pipeline.storage import Storage
    from pipeline.store import Store

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
        sub.add_argument(
            "--workers",
            type=int,
            help="API processes serving the port (overrides STROBE_API_WORKERS; default 1)",
        )
    worker = commands.add_parser("worker", help="workers only: dispatcher + Ray actors")
    worker.add_argument("--data-dir", help="overrides STROBE_DATA_DIR")
    worker.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    models = commands.add_parser("models", help="list, fetch or verify model weights")
    models.add_argument("action", choices=("list", "fetch", "verify"))
    models.add_argument("names", nargs="*", help="model names (default: all)")
    models.add_argument("--mirror", help="fetch from BASE/<file name> instead of upstream")
    models.add_argument("--data-dir", help="overrides STROBE_DATA_DIR")
    hooks = commands.add_parser("webhooks", help="a project's webhook signing secrets")
    hooks.add_argument("action", choices=("secret", "rotate"))
    hooks.add_argument("project", help="the project id, e.g. prj_default")
    hooks.add_argument(
        "--overlap",
        type=float,
        help="rotate: seconds the replaced secret keeps signing "
        "(default STROBE_WEBHOOK_SECRET_OVERLAP_S)",
    )
    hooks.add_argument("--data-dir", help="overrides STROBE_DATA_DIR")
    client_commands.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command in ("tasks", "batch"):
        return client_commands.run(args)  # a client of any server: no settings, no data dir

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.data_dir:
        os.environ["STROBE_DATA_DIR"] = args.data_dir
    if args.command == "models":
        from pipeline import models as model_store

        return model_store.run(args.action, args.names, mirror=args.mirror)
    try:
        settings = Settings.from_env().with_generated_secrets()
    except ConfigError as exc:
        raise SystemExit(f"strobe: {exc}") from exc
    if args.command == "worker":
        return run_worker(settings, exit_with_parent=args.exit_with_parent)
    if args.command == "webhooks":
        return run_webhooks(settings, args.action, args.project, args.overlap)
    if args.workers is not None:
        os.environ["STROBE_API_WORKERS"] = str(args.workers)  # the API processes read it too
        settings = replace(settings, api_workers=args.workers)
    if settings.api_workers < 1:
        raise SystemExit("strobe: --workers / STROBE_API_WORKERS must be at least 1")
    return run_api(settings, args.host, args.port, embedded_workers=args.command == "serve")


def run_api(settings: Settings, host: str, port: int, *, embedded_workers: bool) -> int:
    import uvicorn

    from pipeline.api.app import create_app
    from pipeline.api.presenters import Presenter
    from pipeline.webhooks import WebhookSender

    store, storage = _open_backends(settings)
    url = settings.public_url or f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"
    presenter = Presenter(url, settings.secret_key, storage, settings.url_ttl_s)
    sender = WebhookSender(
        store,
        presenter,
        legacy_secret=settings.webhook_secret,
        allow_private=settings.allow_private_urls,
        secret_overlap_s=settings.webhook_secret_overlap_s,
    )
    stopping = threading.Event()
    threading.Thread(
        target=sender.run, args=(stopping.is_set,), name="webhooks", daemon=True
    ).start()
    worker = _spawn_worker() if embedded_workers else None
    print(f"Strobe API on {url}  (data in {settings.data_dir})", flush=True)
    for key, project in settings.api_keys.items():
        shown = key if os.environ.get("STROBE_API_KEYS") is None else key[:6] + "…"
        print(f"API key for {project}: {shown}", flush=True)
    try:
        if settings.api_workers > 1:
            # Each process builds its app from the environment (api_app); this one keeps the
            # webhook sender and the embedded workers, so there is one of each.
            uvicorn.run(
                "pipeline.cli:api_app",
                factory=True,
                host=host,
                port=port,
                workers=settings.api_workers,
                log_level="warning",
            )
        else:
            uvicorn.run(
                create_app(settings, store, storage), host=host, port=port, log_level="warning"
            )
    finally:
        stopping.set()
        if worker is not None:
            _stop(worker)
    return 0


def api_app() -> FastAPI:
    """The app of one of several API processes (`--workers N`): settings from the
    environment, its own store connections and storage client."""
    from pipeline.api.app import create_app

    settings = Settings.from_env().with_generated_secrets()  # the files the parent made
    store, storage = _open_backends(settings)
    return create_app(settings, store, storage)


def run_webhooks(settings: Settings, action: str, project: str, overlap_s: float | None) -> int:
    """`strobe webhooks secret PROJECT` prints the project's signing secrets (making its
    first one if need be); `rotate` makes a new one, the replaced one signing for an overlap."""
    import time

    from pipeline import webhook_secrets

    store, _ = _open_backends(settings)
    overlap = settings.webhook_secret_overlap_s if overlap_s is None else overlap_s
    if action == "rotate":
        found = webhook_secrets.rotate(store, project, overlap_s=overlap)
    else:
        found = webhook_secrets.signing_secrets(
            store, project, legacy=settings.webhook_secret, overlap_s=overlap
        )
    for secret in found:
        if secret.expires is None:
            print(f"current   {secret.secret}")
        else:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(secret.expires))
            print(f"previous  {secret.secret}  (signs until {when})")
    return 0


def _open_backends(settings: Settings) -> tuple[Store, Storage]:
    """Open the store and storage or exit with a message that says what is wrong."""
    from pipeline.storage import open_storage
    from pipeline.store import open_store

    try:
        store = open_store(settings.database_url)
    except Exception as exc:
        raise SystemExit(
            f"strobe: cannot open the database {_redact(settings.database_url)}: {exc}"
        ) from exc
    try:
        storage = open_storage(settings.storage_url, settings.s3_endpoint_url)
        storage.check()
    except Exception as exc:
        raise SystemExit(f"strobe: cannot use the storage {settings.storage_url}: {exc}") from exc
    return store, storage


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def run_worker(settings: Settings, *, exit_with_parent: bool) -> int:
    import secrets
    import socket

    from operators.registry import OPERATORS
    from pipeline.media.decoders import hardware_decoder
    from pipeline.media.encoders import probe_at_start
    from pipeline.runtime.autoscale import BacklogSignal
    from pipeline.runtime.budget import budget_s
    from pipeline.runtime.dispatcher import Dispatcher
    from pipeline.runtime.ray_pool import RayActorPool, request_backlog, start_ray, stop_ray
    from pipeline.runtime.retry import RetryPolicy

    parent = os.getppid()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    store, _ = _open_backends(settings)
    probe_at_start()
    hardware_decoder()
    start_ray(settings)
    pool = RayActorPool(settings)
    if settings.autoscale_interval_s > 0:  # the backlog -> Ray resource requests
        backlog = BacklogSignal(
            store,
            pool.shape,
            request_backlog,
            kinds=sorted(OPERATORS),
            max_per_kind=settings.autoscale_max_per_kind,
        )
        threading.Thread(
            target=backlog.run,
            args=(lambda: stopping, settings.autoscale_interval_s),
            name="autoscale",
            daemon=True,
        ).start()
    dispatcher = Dispatcher(
        store,
        pool,
        owner=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}",
        kinds=sorted(OPERATORS),
        lease_s=settings.lease_seconds,
        retry=RetryPolicy(max_attempts=settings.max_attempts),
        budget=lambda kind, options, media_s: budget_s(settings, kind, options, media_s),
    )
    try:
        dispatcher.run(lambda: stopping or (exit_with_parent and os.getppid() != parent))
    finally:
        stop_ray()
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
