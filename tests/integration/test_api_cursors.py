"""GET /tasks with `after` / `before` cursors, in-process (real SQLite store, no workers)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import Store, open_store
from tests.support.records import task_record

A = {"Authorization": "Bearer sk_a"}
B = {"Authorization": "Bearer sk_b"}
NEW = {"Accept-Version": "2025-08-20"}
COUNT = 30


@pytest.fixture
def store(settings: Settings) -> Store:
    return open_store(settings.database_url)


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store, open_storage(settings.storage_url))) as c:
        yield c


@pytest.fixture
def newest_first(store: Store) -> list[str]:
    """30 tasks of prj_a (every third a video), a millisecond apart; their ids newest first."""
    tasks = [
        task_record(n=n, kind="video" if n % 3 == 0 else "image", options={}) for n in range(COUNT)
    ]
    for task in tasks:
        store.create_task(task)
    return [t.id for t in reversed(tasks)]


def get(client: TestClient, url: str, headers: dict[str, str] = A) -> dict[str, Any]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [t["id"] for t in body["data"]]


def error_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def test_page_answers_as_before_and_hands_out_cursors(
    client: TestClient, newest_first: list[str]
) -> None:
    first = get(client, "/tasks?limit=10")
    assert first["meta"].items() >= {"total": 30, "limit": 10, "page": 1, "pages": 3}.items()
    assert first["links"]["next"].endswith("page=2") and first["links"]["prev"] is None
    assert first["meta"]["cursors"]["before"] is None  # nothing precedes page 1
    after = first["meta"]["cursors"]["after"]
    assert ids(get(client, f"/tasks?limit=10&after={after}")) == newest_first[10:20]
    last = get(client, "/tasks?limit=10&page=3")
    assert last["meta"]["cursors"]["after"] is None
    before = last["meta"]["cursors"]["before"]
    assert ids(get(client, f"/tasks?limit=10&before={before}")) == newest_first[10:20]


def test_cursor_links_walk_forwards_and_back(client: TestClient, newest_first: list[str]) -> None:
    body = get(client, "/tasks?limit=7")
    walked = ids(body)
    body = get(client, f"/tasks?limit=7&after={body['meta']['cursors']['after']}")
    walked += ids(body)
    while body["links"]["next"]:
        assert "after=" in body["links"]["next"] and "page=" not in body["links"]["next"]
        body = get(client, body["links"]["next"])
        assert body["meta"]["page"] is None and body["meta"]["total"] == COUNT
        walked += ids(body)
    assert walked == newest_first and body["meta"]["cursors"]["after"] is None
    back: list[str] = ids(body)
    while body["links"]["prev"]:
        assert "before=" in body["links"]["prev"] and "page=" not in body["links"]["prev"]
        body = get(client, body["links"]["prev"])
        back = ids(body) + back
    assert back == newest_first and len(body["data"]) == 7


def test_cursor_pages_keep_filters_sort_and_order(
    client: TestClient, newest_first: list[str]
) -> None:
    videos_oldest_first = [i for n, i in enumerate(reversed(newest_first)) if n % 3 == 0]
    body = get(client, "/tasks?kind=video&order=asc&limit=4")
    after = body["meta"]["cursors"]["after"]
    body = get(client, f"/tasks?kind=video&order=asc&limit=4&after={after}")
    assert ids(body) == videos_oldest_first[4:8]
    assert body["meta"]["total"] == 10 and body["meta"]["pages"] == 3
    for param in ("kind=video", "order=asc", "limit=4"):
        assert param in body["links"]["next"] and param in body["links"]["prev"]
    body = get(client, body["links"]["next"])
    assert ids(body) == videos_oldest_first[8:] and body["links"]["next"] is None


def test_a_cursor_is_stable_when_tasks_are_added(
    client: TestClient, store: Store, newest_first: list[str]
) -> None:
    first = get(client, "/tasks?limit=10")
    for n in range(100, 105):  # newer than every task listed
        store.create_task(task_record(n=n))
    after = first["meta"]["cursors"]["after"]
    assert ids(get(client, f"/tasks?limit=10&after={after}")) == newest_first[10:20]
    assert ids(get(client, "/tasks?limit=10&page=2")) != newest_first[10:20]  # offset shifts


def test_a_cursor_never_reaches_another_projects_tasks(
    client: TestClient, store: Store, newest_first: list[str]
) -> None:
    theirs = task_record(n=5, project_id="prj_b")
    store.create_task(theirs)
    after = get(client, "/tasks?limit=5")["meta"]["cursors"]["after"]
    assert ids(get(client, f"/tasks?limit=5&after={after}", B)) == [theirs.id]
    forged = _cursor(["created", "desc", "2099-01-01T00:00:00.000000Z", theirs.id])
    assert theirs.id not in ids(get(client, f"/tasks?limit=100&after={forged}"))


def _cursor(fields: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("after=not-a-cursor", "after", "not a cursor"),
        ("before=%%%", "before", "not a cursor"),
        ("after=" + "A" * 300, "after", "not a cursor"),
        ("after=" + _cursor(["created", "desc", "yesterday", "tsk_a"]), "after", "not a cursor"),
        ("after=" + _cursor(["created", "desc", 5, "tsk_a"]), "after", "not a cursor"),
        ("after=" + _cursor(["filesize", "desc", "5", "tsk_a"]), "after", "not a cursor"),
        ("after=" + _cursor(["filesize", "desc", True, "tsk_a"]), "after", "not a cursor"),
        (
            "after=" + _cursor(["created", "desc", "2026-01-02T03:04:05.000000Z", "x' OR 1"]),
            "after",
            "not a cursor",
        ),  # noqa: E501
        ("after=" + _cursor({"sort": "created"}), "after", "not a cursor"),
        ("after=" + _cursor(["name", "desc", "a", "tsk_a"]), "after", "not a cursor"),
        ("after=" + base64.urlsafe_b64encode(b"\xff\xfe").decode(), "after", "not a cursor"),
        (
            "sort=updated&after="
            + _cursor(["created", "desc", "2026-01-02T03:04:05.000000Z", "tsk_a"]),
            "after",
            "sort=created",
        ),  # noqa: E501
        (
            "order=asc&before="
            + _cursor(["created", "desc", "2026-01-02T03:04:05.000000Z", "tsk_a"]),
            "before",
            "order=desc",
        ),  # noqa: E501
        ("after=x&before=y", "before", "not both"),
        (
            "page=2&after=" + _cursor(["created", "desc", "2026-01-02T03:04:05.000000Z", "tsk_a"]),
            "page",
            "not both",
        ),  # noqa: E501
    ],
)
def test_a_bad_cursor_is_a_422_naming_it(
    client: TestClient, query: str, field: str, words: str
) -> None:
    error = error_of(client.get(f"/tasks?{query}", headers=A))
    assert error["code"] == "invalid_request" and error["field"] == field
    assert words in error["message"]


def test_filesize_cursors_cross_from_finished_to_unfinished_tasks(
    client: TestClient, store: Store, newest_first: list[str]
) -> None:
    ordered: list[str] = []
    body = get(client, "/tasks?sort=filesize&limit=8")
    ordered += ids(body)
    while body["meta"]["cursors"]["after"]:
        body = get(client, f"/tasks?sort=filesize&limit=8&after={body['meta']['cursors']['after']}")
        ordered += ids(body)
    assert ordered == sorted(newest_first, reverse=True)  # no outputs yet: by id alone
    assert body["links"]["next"] is None


def test_2025_dialect_links_by_cursor(client: TestClient, newest_first: list[str]) -> None:
    after = get(client, "/tasks?limit=10")["meta"]["cursors"]["after"]
    response = client.get(f"/tasks?limit=10&after={after}", headers={**A, **NEW})
    assert response.status_code == 200
    assert [t["id"] for t in response.json()] == newest_first[10:20]
    assert response.headers["X-Total-Count"] == str(COUNT)
    link = response.headers["Link"]
    assert 'rel="next"' in link and 'rel="prev"' in link and "after=" in link
    assert 'rel="first"' in link and "page=1" in link
