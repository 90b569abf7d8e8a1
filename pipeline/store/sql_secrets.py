"""The store's SQL for webhook signing secrets: one current secret per project, and the one
it replaced while the rotation's overlap lasts (deliveries carry a signature for each).

A role object over one `Database` (database.py), like those in sql.py.
"""

from __future__ import annotations

import time

from pipeline.ids import now_iso
from pipeline.store.database import Connection, Database
from pipeline.store.port import WebhookSecret

# `expires` NULL: the project's current secret (at most one, by the partial index).
WEBHOOK_SECRETS_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_secrets (
    project_id TEXT NOT NULL,
    secret TEXT NOT NULL,
    created TEXT NOT NULL,
    expires {float},
    PRIMARY KEY (project_id, secret)
);
CREATE UNIQUE INDEX IF NOT EXISTS webhook_secrets_current
    ON webhook_secrets (project_id) WHERE expires IS NULL;
"""


class SqlWebhookSecrets:
    """`WebhookSecretsPort`: each project's webhook signing secrets."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def webhook_secrets(self, project_id: str) -> list[WebhookSecret]:
        with self.database.connect() as db:
            return self._valid_secrets(db, project_id)

    def ensure_webhook_secret(
        self, project_id: str, secret: str, *, legacy: str | None, legacy_until: float
    ) -> list[WebhookSecret]:
        with self.database.transaction() as db:
            if not self._valid_secrets(db, project_id):
                self._insert(db, project_id, secret, None)
                if legacy and legacy != secret:
                    self._insert(db, project_id, legacy, legacy_until)
            return self._valid_secrets(db, project_id)

    def rotate_webhook_secret(
        self, project_id: str, secret: str, previous_until: float
    ) -> list[WebhookSecret]:
        now = time.time()
        with self.database.transaction() as db:
            # Two at most: the new one and the one it replaces; older ones stop at once.
            self.database.run(
                db,
                "DELETE FROM webhook_secrets WHERE project_id = ? AND expires IS NOT NULL",
                (project_id,),
            )
            if previous_until > now:
                self.database.run(
                    db,
                    "UPDATE webhook_secrets SET expires = ? "
                    "WHERE project_id = ? AND expires IS NULL",
                    (previous_until, project_id),
                )
            else:
                self.database.run(
                    db,
                    "DELETE FROM webhook_secrets WHERE project_id = ? AND expires IS NULL",
                    (project_id,),
                )
            self._insert(db, project_id, secret, None)
            return self._valid_secrets(db, project_id)

    def _insert(self, db: Connection, project_id: str, secret: str, expires: float | None) -> None:
        self.database.run(
            db,
            "INSERT INTO webhook_secrets (project_id, secret, created, expires) "
            "VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
            (project_id, secret, now_iso(), expires),
        )

    def _valid_secrets(self, db: Connection, project_id: str) -> list[WebhookSecret]:
        rows = self.database.run(
            db,
            "SELECT secret, created, expires FROM webhook_secrets "
            "WHERE project_id = ? AND (expires IS NULL OR expires > ?) "
            "ORDER BY expires IS NOT NULL, expires DESC",
            (project_id, time.time()),
        ).fetchall()
        return [WebhookSecret(secret, created, expires) for secret, created, expires in rows]
