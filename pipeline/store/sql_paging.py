"""The SQL of lists: task lists' filters, sort order and keyset positions, and the newest-
first page every other list reads (`newest_first`).

A list is ordered by its sort column, then by id, both in the asked direction (`filesize`
puts tasks with no output last either way). Keyset paging reads the rows strictly after (or
before) a row's (value, id) in that order, so its cost does not grow with depth the way an
OFFSET does. The indexes in `LIST_INDEXES` serve each filter with `created` and `updated`,
so neither the rows nor `COUNT(*)` need a scan of the table; `filesize` lives in the files
table and is sorted after the filters' index has narrowed the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.store.database import Connection, Database
from pipeline.store.port import Position, TaskQuery

SORT_COLUMNS = {"created": "t.created", "updated": "t.updated", "filesize": "f.filesize"}

# The list indexes: project, then each filter the API takes, then the sort column and id.
# A schema version of its own in both stores (never edit it once shipped; add another).
LIST_INDEXES = """
CREATE INDEX IF NOT EXISTS tasks_list_created ON tasks (project_id, created, id);
CREATE INDEX IF NOT EXISTS tasks_list_updated ON tasks (project_id, updated, id);
CREATE INDEX IF NOT EXISTS tasks_list_kind_created ON tasks (project_id, kind, created, id);
CREATE INDEX IF NOT EXISTS tasks_list_kind_updated ON tasks (project_id, kind, updated, id);
CREATE INDEX IF NOT EXISTS tasks_list_status_created ON tasks (project_id, status, created, id);
CREATE INDEX IF NOT EXISTS tasks_list_status_updated ON tasks (project_id, status, updated, id);
CREATE INDEX IF NOT EXISTS files_list ON files (project_id, created, id);
CREATE INDEX IF NOT EXISTS media_list ON media (project_id, created, id);
"""

# Both filters at once (kind and status): a version after LIST_INDEXES.
LIST_BOTH_FILTERS_INDEXES = """
CREATE INDEX IF NOT EXISTS tasks_list_both_created ON tasks (project_id, kind, status, created, id);
CREATE INDEX IF NOT EXISTS tasks_list_both_updated ON tasks (project_id, kind, status, updated, id);
"""


def filters(project_id: str, query: TaskQuery) -> tuple[str, list[Any]]:
    """The WHERE clause of the project's rows that match the query's filters."""
    where, params = ["t.project_id = ?"], [project_id]
    for column, value in (("t.kind", query.kind), ("t.status", query.status)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(where), params


def order_by(sort: str, order: str, *, backwards: bool = False) -> str:
    """ORDER BY terms of the list; `backwards` reads it from the other end."""
    ascending = (order == "asc") != backwards
    direction = "ASC" if ascending else "DESC"
    terms = f"{SORT_COLUMNS[sort]} {direction}, t.id {direction}"
    if sort == "filesize":  # tasks with no output last in the list, so first backwards
        terms = f"(f.filesize IS NULL) {'DESC' if backwards else 'ASC'}, {terms}"
    return terms


def beyond(sort: str, order: str, at: Position, *, backwards: bool) -> tuple[str, list[Any]]:
    """The rows strictly after `at` in the list (or strictly before it, `backwards`)."""
    ascending = (order == "asc") != backwards
    op = ">" if ascending else "<"
    column = SORT_COLUMNS[sort]
    if sort != "filesize":
        return f"({column}, t.id) {op} (?, ?)", [at.value, at.id]
    # (has no output, filesize, id): the first part ascends in the list whatever the order.
    if at.value is None:
        if backwards:  # every row with an output, and those without one with a lesser id
            return f"({column} IS NOT NULL OR t.id {op} ?)", [at.id]
        return f"({column} IS NULL AND t.id {op} ?)", [at.id]
    if backwards:  # rows with no output never precede one with an output
        return f"({column}, t.id) {op} (?, ?)", [at.value, at.id]
    return f"({column} IS NULL OR ({column}, t.id) {op} (?, ?))", [at.value, at.id]


def newest_first(
    database: Database,
    db: Connection,
    source: str,
    columns: str,
    clause: str,
    params: Sequence[Any],
    page: int,
    limit: int,
) -> tuple[list[Any], int]:
    """Page `page` of the rows of `source` (a table, or a subquery with an alias) matching
    `clause`, newest first (`created`, then `id`), and how many match in all."""
    where = f"FROM {source} WHERE {clause}"
    total = database.run(db, f"SELECT COUNT(*) {where}", params).fetchone()[0]
    rows = database.run(
        db,
        f"SELECT {columns} {where} ORDER BY created DESC, id DESC LIMIT ? OFFSET ?",
        (*params, limit, (page - 1) * limit),
    ).fetchall()
    return rows, int(total)
