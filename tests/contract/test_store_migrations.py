"""Schema versions on both SQL stores (pipeline/store/migrations.py): a database written by
the previous release opens with its data, one at the previous version is brought up to
date, and a newer one is left alone."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import psycopg

from pipeline.store.migrations import LATEST, steps
from pipeline.store.postgres import PostgresStore
from pipeline.store.sqlite import SQLiteStore
from tests.support.postgres import create_database, drop_database
from tests.support.records import task_record

# Written by the release before versions were kept on SQLite (user_version 0): two tasks (one
# ready with its output, from an input file in a media), a webhook secret, an idempotency
# record and a worker report.
RELEASE_DB = Path(__file__).resolve().parents[1] / "fixtures" / "sqlite-release-2026-12.db"
TASK_ROW = (
    "INSERT INTO tasks (id, project_id, kind, status, input_url, options, progress, created, "
    "updated) VALUES ('tsk_old', 'prj_a', 'image', 'waiting', 'https://example.com/a.jpg', "
    "'{\"format\": \"jpeg\"}', 0, '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z')"
)


def before_the_latest(float_type: str) -> list[str]:
    """The statements of every version but the last: a database at the previous version."""
    return [sql for version, found in steps(0, float_type) if version < LATEST for sql in found]


def sqlite_indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def test_a_database_from_the_previous_release_opens_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "strobe.db"
    shutil.copy(RELEASE_DB, path)
    store = SQLiteStore(path)
    assert store.schema_version == LATEST
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == LATEST

    done = store.get_task("prj_a", "tsk_release_done")
    assert done is not None and done.status == "ready" and done.ran_on == "node-1"
    assert done.output is not None and done.output.filesize == 1234
    task, source = store.get_task_with_input("prj_a", "tsk_release_done")
    assert task == done and source is not None and source.id == "file_release"
    media = store.get_media("prj_a", "med_release")
    assert media is not None and media.title == "clip"
    waiting = store.get_task("prj_a", "tsk_release_waiting")
    assert waiting is not None and waiting.options == {"format": "mp4"}
    assert [s.secret for s in store.webhook_secrets("prj_a")] == ["whsec_release"]
    kept = store.claim_idempotency("prj_a", "idem-1", "fp", 86400)
    assert kept is not None and kept.status == 201 and kept.body == b'{"ok":true}'

    # It works as a store of this release: a new task is queued and leased with the old one.
    new = task_record(kind="video", options={"format": "mp4"})
    store.create_task(new)
    leased = store.lease("w2", ["video"], 5, 60, 3)
    assert {t.id for t in leased} == {"tsk_release_waiting", new.id}
    indexes = sqlite_indexes(path)
    assert {"tasks_list_created", "tasks_list_both_created"} <= indexes
    assert "tasks_project" not in indexes  # replaced by the list indexes (version 4)


def at_previous_version_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        for statement in before_the_latest("REAL"):
            db.execute(statement)
        db.execute(TASK_ROW)
        db.execute(f"PRAGMA user_version = {LATEST - 1}")


def test_sqlite_at_the_previous_version_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "strobe.db"
    at_previous_version_sqlite(path)
    assert "webhooks_run_step" not in sqlite_indexes(path)
    store = SQLiteStore(path)
    assert store.schema_version == LATEST
    assert {"webhooks_run_step", "webhook_endpoints_project"} <= sqlite_indexes(path)
    old = store.get_task("prj_a", "tsk_old")
    assert old is not None and old.status == "waiting" and old.options == {"format": "jpeg"}
    assert (old.run_id, old.parent_id, old.step) == (None, None, None)
    assert store.list_events("prj_a", 1, 10).total == 0


def test_postgres_at_the_previous_version_is_migrated(postgres_url: str) -> None:
    url = create_database(postgres_url)
    try:
        with psycopg.connect(url, autocommit=True) as db:
            for statement in before_the_latest("DOUBLE PRECISION"):
                db.execute(statement)
            db.execute(TASK_ROW)
            db.execute("CREATE TABLE strobe_schema (version INTEGER NOT NULL)")
            db.execute("INSERT INTO strobe_schema VALUES (%s)", (LATEST - 1,))
        store = PostgresStore(url)
        try:
            old = store.get_task("prj_a", "tsk_old")
            assert old is not None and old.options == {"format": "jpeg"} and old.run_id is None
            assert store.list_runs("prj_a", 1, 10).total == 0
        finally:
            store.close()
        with psycopg.connect(url) as db:
            assert db.execute("SELECT version FROM strobe_schema").fetchall() == [(LATEST,)]
            indexes = {r[0] for r in db.execute("SELECT indexname FROM pg_indexes").fetchall()}
        assert {"webhooks_run_step", "webhook_endpoints_project"} <= indexes
    finally:
        drop_database(url)


def test_sqlite_from_a_newer_strobe_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "strobe.db"
    SQLiteStore(path)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 999")
    assert SQLiteStore(path).schema_version == 999
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 999


def test_sqlite_processes_opening_at_once_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "strobe.db"
    shutil.copy(RELEASE_DB, path)
    start = threading.Barrier(6)
    versions: list[int] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait(10)
        try:
            versions.append(SQLiteStore(path).schema_version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and versions == [LATEST] * 6
    assert SQLiteStore(path).get_task("prj_a", "tsk_release_done") is not None
