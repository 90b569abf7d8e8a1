"""The store contract for files (list, find, update, delete), media and idempotency keys."""

from __future__ import annotations

from dataclasses import replace

from pipeline.store import MediaRecord, Store
from tests.support.records import file_record, output_for, stamp, task_record

A, B = "prj_a", "prj_b"


def media(n: int = 0, project_id: str = A) -> MediaRecord:
    return MediaRecord(
        id=f"med_{project_id}_{n}",
        project_id=project_id,
        created=stamp(n),
        updated=stamp(n),
        kind="video",
        metadata={"n": n},
    )


def test_files_list_newest_first_per_project_and_media(store: Store) -> None:
    older = replace(file_record(), created=stamp(1), media_id="med_x", ref="original")
    newer = replace(file_record(filename="b.jpg"), created=stamp(2), folder="shots")
    store.create_file(older)
    store.create_file(newer)
    store.create_file(file_record(project_id=B))
    page = store.list_files(A, page=1, limit=10)
    assert [f.id for f in page.items] == [newer.id, older.id] and page.total == 2
    assert [f.id for f in store.list_files(A, page=2, limit=1).items] == [older.id]
    grouped = store.list_files(A, page=1, limit=10, media_id="med_x")
    assert [(f.id, f.ref) for f in grouped.items] == [(older.id, "original")]
    assert store.find_file(A, "shots", "b.jpg") == store.get_file(A, newer.id)
    assert store.find_file(A, None, "out.jpg") == store.get_file(A, older.id)
    assert store.find_file(B, "shots", "b.jpg") is None


def test_update_and_delete_a_file_only_in_its_project(store: Store) -> None:
    file = file_record()
    store.create_file(file)
    changes = {"ref": "poster", "folder": "a/b", "filename": "p.jpg", "metadata": {"k": [1]}}
    assert store.update_file(B, file.id, changes) is None
    updated = store.update_file(A, file.id, changes)
    assert updated is not None
    assert (updated.ref, updated.folder, updated.filename, updated.metadata) == (
        "poster",
        "a/b",
        "p.jpg",
        {"k": [1]},
    )
    assert updated.updated > file.updated and updated.storage_key == file.storage_key
    assert store.delete_file(B, file.id) is None
    assert store.delete_file(A, file.id) == updated
    assert store.get_file(A, file.id) is None and store.delete_file(A, file.id) is None


def test_media_crud_and_isolation(store: Store) -> None:
    first, second = media(1), media(2)
    store.create_media(first)
    store.create_media(second)
    store.create_media(media(3, project_id=B))
    assert store.get_media(A, first.id) == first
    assert store.get_media(B, first.id) is None
    page = store.list_media(A, page=1, limit=10)
    assert [m.id for m in page.items] == [second.id, first.id] and page.total == 2
    changed = store.update_media(A, first.id, {"title": "Intro", "metadata": {"x": 1}})
    assert changed is not None and (changed.title, changed.metadata) == ("Intro", {"x": 1})
    assert store.update_media(B, first.id, {"title": "no"}) is None
    file = replace(file_record(), media_id=first.id)
    store.create_file(file)
    assert store.delete_media(B, first.id) is None
    assert store.delete_media(A, first.id) == changed
    assert store.get_media(A, first.id) is None
    kept = store.get_file(A, file.id)
    assert kept is not None and kept.media_id is None


def test_idempotency_key_is_claimed_once_then_replayed(store: Store) -> None:
    assert store.claim_idempotency(A, "k1", "fp", ttl_s=60) is None
    running = store.claim_idempotency(A, "k1", "fp", ttl_s=60)
    assert running is not None and running.status is None and running.fingerprint == "fp"
    assert store.claim_idempotency(B, "k1", "other", ttl_s=60) is None  # per project
    store.finish_idempotency(A, "k1", 201, b'{"id": "tsk_1"}', "application/json")
    done = store.claim_idempotency(A, "k1", "fp2", ttl_s=60)
    assert done is not None and (done.status, done.body) == (201, b'{"id": "tsk_1"}')
    assert done.fingerprint == "fp" and done.content_type == "application/json"
    store.release_idempotency(A, "k1")  # finished records are kept
    assert store.claim_idempotency(A, "k1", "fp", ttl_s=60) is not None


def test_idempotency_release_and_expiry(store: Store) -> None:
    assert store.claim_idempotency(A, "k", "fp", ttl_s=60) is None
    store.release_idempotency(A, "k")
    assert store.claim_idempotency(A, "k", "fp", ttl_s=60) is None  # claimable again
    store.finish_idempotency(A, "k", 201, b"{}", None)
    assert store.claim_idempotency(A, "k", "new", ttl_s=-1) is None  # expired: claimed anew


def test_a_completed_output_joins_its_tasks_media(store: Store) -> None:
    store.create_media(MediaRecord("med_in", A, stamp(), stamp()))
    task = replace(task_record(), media_id="med_in")
    store.create_task(task)
    (leased,) = store.lease("w", ["image"], 1, 60.0, 3)
    assert store.complete(leased.id, "w", output_for(task))
    done = store.get_task(A, task.id)
    assert done is not None and done.media_id == "med_in"
    assert done.output is not None and done.output.media_id == "med_in"
    assert [f.id for f in store.list_files(A, 1, 10, media_id="med_in").items] == [done.output.id]
