"""The API key table: one lookup per request, right answers for many keys and near misses."""

from __future__ import annotations

from starlette.datastructures import Headers

from pipeline.api.auth import ApiKeys, bearer


def test_every_key_finds_its_project_among_many() -> None:
    keys = {f"sk_{n:04d}": f"prj_{n % 7}" for n in range(1000)}
    table = ApiKeys(keys)
    for key, project in keys.items():
        assert table.find(key) == (key, project)


def test_near_misses_and_empty_keys_are_unknown() -> None:
    table = ApiKeys({"sk_secret": "prj_a"})
    for given in ("sk_secre", "sk_secret ", "SK_SECRET", "sk_secret\0", "", "prj_a"):
        assert table.find(given) is None


def test_bearer_header_forms() -> None:
    table = ApiKeys({"sk_secret": "prj_a"})
    assert table.project(Headers({"authorization": "Bearer sk_secret"})) == "prj_a"
    assert table.project(Headers({"authorization": "bearer  sk_secret "})) == "prj_a"
    assert table.project(Headers({"authorization": "Basic sk_secret"})) is None
    assert table.project(Headers({"authorization": "Bearer"})) is None
    assert table.project(Headers({})) is None
    assert bearer(Headers({"authorization": "Bearer sk_x"})) == "sk_x"
