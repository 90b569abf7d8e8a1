"""Pagination numbers and links, and the `meta` block of the envelope."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.api.envelope import API_VERSION, list_meta, meta, page_count, page_links

BASE = "https://strobe.test/tasks"


def query_of(link: str | None) -> dict[str, list[str]]:
    assert link is not None
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == BASE
    return parse_qs(parts.query)


@pytest.mark.parametrize(
    ("total", "limit", "pages"),
    [(0, 12, 0), (1, 12, 1), (12, 12, 1), (13, 12, 2), (100, 1, 100), (101, 100, 2)],
)
def test_page_count(total: int, limit: int, pages: int) -> None:
    assert page_count(total, limit) == pages


def test_links_in_the_middle_keep_the_query_parameters() -> None:
    params = {"kind": "image", "limit": "2", "sort": "updated"}
    links = page_links(BASE, params, page=2, pages=3)
    expected = {"kind": ["image"], "limit": ["2"], "sort": ["updated"]}
    assert query_of(links["self"]) == {**expected, "page": ["2"]}
    assert query_of(links["next"]) == {**expected, "page": ["3"]}
    assert query_of(links["prev"]) == {**expected, "page": ["1"]}


def test_first_page_has_no_prev_and_last_page_has_no_next() -> None:
    first = page_links(BASE, {}, page=1, pages=2)
    assert first["prev"] is None
    assert query_of(first["next"]) == {"page": ["2"]}
    last = page_links(BASE, {}, page=2, pages=2)
    assert last["next"] is None
    assert query_of(last["prev"]) == {"page": ["1"]}


def test_an_empty_list_links_only_to_itself() -> None:
    links = page_links(BASE, {"status": "error"}, page=1, pages=0)
    assert query_of(links["self"]) == {"status": ["error"], "page": ["1"]}
    assert (links["next"], links["prev"]) == (None, None)


def test_a_page_parameter_in_params_is_replaced_not_repeated() -> None:
    links = page_links(BASE, {"page": "7", "kind": "image"}, page=2, pages=5)
    assert query_of(links["next"]) == {"page": ["3"], "kind": ["image"]}


def test_parameters_are_url_encoded() -> None:
    links = page_links(BASE, {"q": "a b&c=d"}, page=1, pages=1)
    assert query_of(links["self"]) == {"q": ["a b&c=d"], "page": ["1"]}


def test_list_meta() -> None:
    assert list_meta(25, 2, 10) == {"total": 25, "limit": 10, "page": 2, "pages": 3}
    assert list_meta(0, 1, 12) == {"total": 0, "limit": 12, "page": 1, "pages": 0}


def test_meta_carries_the_request_and_the_api_version() -> None:
    block = meta(
        request_id="req_1",
        project_id="prj_a",
        method="GET",
        host="https://strobe.test",
        path="/tasks",
        status=200,
        type_="list",
        total=3,
    )
    assert block == {
        "id": "req_1",
        "org_id": None,
        "project_id": "prj_a",
        "method": "GET",
        "host": "https://strobe.test",
        "path": "/tasks",
        "version": API_VERSION,
        "status": 200,
        "type": "list",
        "total": 3,
    }
