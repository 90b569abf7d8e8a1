"""Webhook secrets per project and their rotation, and a receiver that answers too slowly:
each written as the attack or the receiver's view, against a real store and loopback
receivers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline import cli
from pipeline.config import Settings
from pipeline.store.sqlite import SQLiteStore
from pipeline.webhooks import WebhookPolicy, verify
from tests.integration.test_webhooks import deliver_all, make_sender
from tests.support.receiver import Delivery, webhook_receiver
from tests.support.records import output_for, task_record


def finish_for(store: SQLiteStore, project: str, url: str) -> str:
    task = replace(task_record(project_id=project), webhook_url=url)
    store.create_task(task)
    [leased] = store.lease("w1", ["image"], 1, 60, 3)
    assert store.complete(leased.id, "w1", output_for(task))
    return task.id


def accepts(secret: str, delivery: Delivery) -> bool:
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    return verify(secret, headers["strobe-timestamp"], delivery.body, headers["strobe-signature"])


def project_of(delivery: Delivery) -> str:
    return str(json.loads(delivery.body)["meta"]["project_id"])


def test_one_projects_secret_never_verifies_anothers_delivery(settings: Settings) -> None:
    store = SQLiteStore(settings.data_dir / "strobe.db")
    sender = make_sender(store, settings, secret_overlap_s=0)  # the shared secret: gone
    with webhook_receiver() as receiver:
        finish_for(store, "prj_a", receiver.url)
        finish_for(store, "prj_b", receiver.url)
        deliver_all(sender, receiver, want=2)
    by_project = {project_of(d): d for d in receiver.deliveries}
    secret_a, secret_b = sender.secrets_of("prj_a"), sender.secrets_of("prj_b")
    assert len(secret_a) == len(secret_b) == 1 and secret_a != secret_b
    assert accepts(secret_a[0], by_project["prj_a"]) and accepts(secret_b[0], by_project["prj_b"])
    assert not accepts(secret_a[0], by_project["prj_b"])
    assert not accepts(secret_b[0], by_project["prj_a"])
    for delivery in receiver.deliveries:  # the installation's shared secret verifies neither
        assert not accepts(settings.webhook_secret, delivery)


def test_during_rotation_receivers_with_the_old_or_the_new_secret_both_accept(
    settings: Settings,
) -> None:
    store = SQLiteStore(settings.data_dir / "strobe.db")
    sender = make_sender(store, settings, secret_overlap_s=0)
    [old] = sender.secrets_of("prj_a")
    cli.run_webhooks(replace(settings, webhook_secret_overlap_s=0.8), "rotate", "prj_a", None)
    new, previous = sender.secrets_of("prj_a")
    assert previous == old and new != old
    with webhook_receiver() as receiver:
        finish_for(store, "prj_a", receiver.url)
        deliver_all(sender, receiver, want=1)
        [during] = receiver.deliveries
        assert accepts(old, during) and accepts(new, during)
        time.sleep(1.0)  # the overlap ends: the old secret no longer signs
        finish_for(store, "prj_a", receiver.url)
        deliver_all(sender, receiver, want=2)
    after = receiver.deliveries[1]
    assert accepts(new, after) and not accepts(old, after)


def test_the_shared_secret_signs_beside_a_projects_first_secret_for_the_overlap(
    settings: Settings,
) -> None:
    # Receivers set up before secrets were per project keep verifying while they move.
    store = SQLiteStore(settings.data_dir / "strobe.db")
    sender = make_sender(store, settings, secret_overlap_s=3600)
    own, shared = sender.secrets_of("prj_a")
    assert shared == settings.webhook_secret and own != shared
    with webhook_receiver() as receiver:
        finish_for(store, "prj_a", receiver.url)
        deliver_all(sender, receiver, want=1)
    assert accepts(own, receiver.deliveries[0]) and accepts(shared, receiver.deliveries[0])


def test_the_cli_prints_and_rotates_a_projects_secrets(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STROBE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("STROBE_API_KEYS", "sk_a:prj_a")
    monkeypatch.setenv("STROBE_WEBHOOK_SECRET_OVERLAP_S", "0")
    assert cli.main(["webhooks", "secret", "prj_a"]) == 0
    first = capsys.readouterr().out.split()
    assert first[0] == "current" and first[1].startswith("whsec_") and len(first) == 2
    assert cli.main(["webhooks", "rotate", "prj_a", "--overlap", "600"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("current ") and first[1] not in lines[0]
    assert lines[1].startswith(f"previous  {first[1]}  (signs until ")


# --- a receiver that answers one byte at a time ---------------------------------------------


@contextmanager
def trickling_receiver(interval_s: float) -> Iterator[str]:
    """Reads the delivery, then sends its answer's status line a byte per `interval_s`."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            give_up = time.monotonic() + 30
            try:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" * 100:
                    if time.monotonic() > give_up:
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(interval_s)
            except OSError:  # the sender hung up
                pass
            self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def test_a_receiver_trickling_its_answer_is_cut_at_the_delivery_timeout(
    settings: Settings,
) -> None:
    store = SQLiteStore(settings.data_dir / "strobe.db")
    policy = WebhookPolicy(max_attempts=2, base_delay_s=30, claim_s=60, timeout_s=1.5)
    sender = make_sender(store, settings, policy=policy)
    with trickling_receiver(0.2) as url:
        finish_for(store, "prj_a", url)
        started = time.monotonic()
        assert sender.send_due() == 1
        took = time.monotonic() - started
    assert took < 3, f"the delivery took {took:.1f} s"
    with store.database.connect() as db:
        row = db.execute("SELECT sent, attempts, last_error FROM webhooks").fetchone()
    assert row[0] is None and row[1] == 1 and "Timeout" in row[2]
