"""The store's SQL for files, media and idempotency keys.

Role objects over one `Database` (database.py), like those in sql.py; the tables are in
`sql.SCHEMA`. `upsert_file` and `insert_media` also serve the tasks' and the queue's writes.
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.store.database import Connection, Database
from pipeline.store.port import FileRecord, Idempotent, MediaRecord, Page
from pipeline.store.rows import (
    FILE_COLUMNS,
    MEDIA_COLUMNS,
    assignments,
    file_of,
    insert,
    listed,
    media_of,
    values,
)
from pipeline.store.sql_paging import newest_first

_FILE_CHANGES = ("ref", "folder", "filename", "metadata", "media_id")
_MEDIA_CHANGES = ("kind", "title", "alt", "metadata")
_FILE_COLUMNS = listed(FILE_COLUMNS, "f")
_FILE_FIELDS = listed(FILE_COLUMNS)  # without the table's alias, for RETURNING
_MEDIA_COLUMNS = listed(MEDIA_COLUMNS)
# A retried task's output overwrites the file its earlier attempt recorded.
_UPSERT_FILE = insert("files", FILE_COLUMNS) + (
    " ON CONFLICT (id) DO UPDATE SET filename=excluded.filename, "
    "mimetype=excluded.mimetype, filesize=excluded.filesize, "
    "storage_key=excluded.storage_key, info=excluded.info, updated=excluded.updated, "
    "media_id=excluded.media_id, ref=excluded.ref, folder=excluded.folder"
)


class SqlLibrary:
    """`LibraryPort`: files and the media that group them."""

    def __init__(self, database: Database) -> None:
        self.database = database

    # files -------------------------------------------------------------------------

    def create_file(self, file: FileRecord) -> None:
        with self.database.transaction() as db:
            upsert_file(self.database, db, file)

    def get_file(self, project_id: str | None, file_id: str) -> FileRecord | None:
        with self.database.connect() as db:
            params: tuple[str, ...] = (file_id,)
            sql = "WHERE f.id = ?"
            if project_id is not None:
                sql, params = "WHERE f.id = ? AND f.project_id = ?", (file_id, project_id)
            row = self.database.run(
                db, f"SELECT {_FILE_COLUMNS} FROM files f {sql}", params
            ).fetchone()
        return file_of(row) if row else None

    def list_files(
        self, project_id: str, page: int, limit: int, media_id: str | None = None
    ) -> Page[FileRecord]:
        where, params = "f.project_id = ?", [project_id]
        if media_id is not None:
            where, params = f"{where} AND f.media_id = ?", [project_id, media_id]
        with self.database.connect() as db:
            rows, count = newest_first(
                self.database, db, "files f", _FILE_COLUMNS, where, params, page, limit
            )
        return Page(items=[file_of(r) for r in rows], total=count)

    def find_file(self, project_id: str, folder: str | None, filename: str) -> FileRecord | None:
        folder_clause = "f.folder IS NULL" if folder is None else "f.folder = ?"
        params = [project_id, filename] + ([] if folder is None else [folder])
        with self.database.connect() as db:
            row = self.database.run(
                db,
                f"SELECT {_FILE_COLUMNS} FROM files f WHERE f.project_id = ? AND f.filename = ? "
                f"AND {folder_clause} ORDER BY f.created DESC, f.id DESC LIMIT 1",
                params,
            ).fetchone()
        return file_of(row) if row else None

    def original_file(self, project_id: str, media_id: str) -> FileRecord | None:
        with self.database.connect() as db:
            row = self.database.run(
                db,
                f"SELECT {_FILE_COLUMNS} FROM files f WHERE f.media_id = ? AND f.project_id = ? "
                "AND f.task_id IS NULL ORDER BY f.created, f.id LIMIT 1",
                (media_id, project_id),
            ).fetchone()
        return file_of(row) if row else None

    def update_file(
        self, project_id: str, file_id: str, changes: dict[str, Any]
    ) -> FileRecord | None:
        sets, params = assignments(changes, _FILE_CHANGES)
        with self.database.transaction() as db:
            cur = self.database.run(
                db,
                f"UPDATE files SET {sets} WHERE id = ? AND project_id = ?",
                [*params, file_id, project_id],
            )
            if cur.rowcount != 1:
                return None
        return self.get_file(project_id, file_id)

    def delete_file(self, project_id: str, file_id: str) -> FileRecord | None:
        with self.database.transaction() as db:
            row = self.database.run(
                db,
                f"DELETE FROM files WHERE id = ? AND project_id = ? RETURNING {_FILE_FIELDS}",
                (file_id, project_id),
            ).fetchone()
        return file_of(row) if row else None

    # media -------------------------------------------------------------------------

    def create_media(self, media: MediaRecord) -> None:
        with self.database.transaction() as db:
            insert_media(self.database, db, media)

    def get_media(self, project_id: str, media_id: str) -> MediaRecord | None:
        with self.database.connect() as db:
            row = self.database.run(
                db,
                f"SELECT {_MEDIA_COLUMNS} FROM media WHERE id = ? AND project_id = ?",
                (media_id, project_id),
            ).fetchone()
        return media_of(row) if row else None

    def list_media(self, project_id: str, page: int, limit: int) -> Page[MediaRecord]:
        with self.database.connect() as db:
            rows, count = newest_first(
                self.database,
                db,
                "media",
                _MEDIA_COLUMNS,
                "project_id = ?",
                [project_id],
                page,
                limit,
            )
        return Page(items=[media_of(r) for r in rows], total=count)

    def update_media(
        self, project_id: str, media_id: str, changes: dict[str, Any]
    ) -> MediaRecord | None:
        sets, params = assignments(changes, _MEDIA_CHANGES)
        with self.database.transaction() as db:
            cur = self.database.run(
                db,
                f"UPDATE media SET {sets} WHERE id = ? AND project_id = ?",
                [*params, media_id, project_id],
            )
            if cur.rowcount != 1:
                return None
        return self.get_media(project_id, media_id)

    def delete_media(self, project_id: str, media_id: str) -> MediaRecord | None:
        with self.database.transaction() as db:
            row = self.database.run(
                db,
                f"DELETE FROM media WHERE id = ? AND project_id = ? RETURNING {_MEDIA_COLUMNS}",
                (media_id, project_id),
            ).fetchone()
            if row is not None:
                self.database.run(
                    db,
                    "UPDATE files SET media_id = NULL WHERE media_id = ? AND project_id = ?",
                    (media_id, project_id),
                )
        return media_of(row) if row else None


class SqlIdempotency:
    """`IdempotencyPort`: a POST's answer kept for the retries of its Idempotency-Key."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def claim_idempotency(
        self, project_id: str, key: str, fingerprint: str, ttl_s: float
    ) -> Idempotent | None:
        now = time.time()
        with self.database.transaction() as db:
            self.database.run(
                db,
                "DELETE FROM idempotency WHERE project_id = ? AND key = ? AND created < ?",
                (project_id, key, now - ttl_s),
            )
            inserted = self.database.run(
                db,
                "INSERT INTO idempotency (project_id, key, fingerprint, body, created) "
                "VALUES (?,?,?,'',?) ON CONFLICT (project_id, key) DO NOTHING",
                (project_id, key, fingerprint, now),
            )
            if inserted.rowcount == 1:
                return None
            row = self.database.run(
                db,
                "SELECT fingerprint, status, body, content_type, created FROM idempotency "
                "WHERE project_id = ? AND key = ?",
                (project_id, key),
            ).fetchone()
        return Idempotent(
            fingerprint=row[0],
            status=None if row[1] is None else int(row[1]),
            body=str(row[2]).encode(),
            content_type=row[3],
            created=float(row[4]),
        )

    def finish_idempotency(
        self, project_id: str, key: str, status: int, body: bytes, content_type: str | None
    ) -> None:
        with self.database.transaction() as db:
            self.database.run(
                db,
                "UPDATE idempotency SET status = ?, body = ?, content_type = ? "
                "WHERE project_id = ? AND key = ?",
                (status, body.decode(), content_type, project_id, key),
            )

    def release_idempotency(self, project_id: str, key: str) -> None:
        with self.database.transaction() as db:
            self.database.run(
                db,
                "DELETE FROM idempotency WHERE project_id = ? AND key = ? AND status IS NULL",
                (project_id, key),
            )


def upsert_file(database: Database, db: Connection, f: FileRecord) -> None:
    """Insert a file, or replace what a retried task's earlier attempt recorded."""
    database.run(db, _UPSERT_FILE, values(f, FILE_COLUMNS))


def insert_media(database: Database, db: Connection, media: MediaRecord) -> None:
    database.run(db, insert("media", MEDIA_COLUMNS), values(media, MEDIA_COLUMNS))
