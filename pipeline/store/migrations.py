"""The schema's versions, oldest first, shared by both SQL adapters.

Version N is reached by running `MIGRATIONS[N - 1]`; `{float}` is the adapter's floating
point type. PostgreSQL records the version in `strobe_schema`, SQLite in `PRAGMA
user_version`; each adapter runs the missing versions in one transaction, one process at a
time, and leaves a database from a newer Strobe alone. Add a version with ALTERs; never
edit one that has shipped. The first versions create with IF NOT EXISTS, so a database from
before versions were kept (SQLite's, at version 0 with every table) passes through them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from pipeline.store.sql import SCHEMA, iter_statements
from pipeline.store.sql_events import EVENTS_SCHEMA
from pipeline.store.sql_paging import LIST_BOTH_FILTERS_INDEXES, LIST_INDEXES
from pipeline.store.sql_runs import RUNS_SCHEMA
from pipeline.store.sql_secrets import WEBHOOK_SECRETS_SCHEMA
from pipeline.store.sql_workers import WORKERS_SCHEMA

MIGRATIONS: tuple[str, ...] = (
    SCHEMA,
    WORKERS_SCHEMA,
    WEBHOOK_SECRETS_SCHEMA,
    # Lists by index at any depth; the (project_id, created) ones are prefixes of the new.
    LIST_INDEXES
    + "DROP INDEX IF EXISTS tasks_project; DROP INDEX IF EXISTS files_project; "
    + "DROP INDEX IF EXISTS media_project;",
    LIST_BOTH_FILTERS_INDEXES,
    RUNS_SCHEMA,  # workflows: automations, runs, and each step task's run, parent and path
    EVENTS_SCHEMA,  # webhook endpoints, events, and endpoint deliveries in the outbox
)
LATEST = len(MIGRATIONS)
log = logging.getLogger(__name__)


def steps(current: int, float_type: str) -> Iterator[tuple[int, list[str]]]:
    """(version, its statements) for each version after `current`, oldest first."""
    for version in range(current + 1, LATEST + 1):
        yield version, list(iter_statements(MIGRATIONS[version - 1].format(float=float_type)))


def run_missing(execute: Callable[[str], object], current: int, float_type: str) -> bool:
    """Run the versions after `current` through `execute`, inside the caller's transaction;
    whether any ran (the caller then records LATEST). A database from a newer Strobe is left
    as it is, with a warning."""
    if current > LATEST:
        log.warning("database schema v%d is newer than this Strobe's (v%d)", current, LATEST)
        return False
    for version, statements in steps(current, float_type):
        for statement in statements:
            execute(statement)
        log.info("database schema migrated to v%d", version)
    return current < LATEST
