"""Attacks on the conditional reads of the JSON API (pipeline/api/conditional.py) and on the
console's file route (pipeline/api/routes_console.py), against the real app in process.

A 304 says "the copy you hold is still what I would send": it must never stand in for a 401,
404, 422 or 400, never answer for another project's object, and never be sent when the body
that would have been sent differs from the one the tag was made for (other than the request
id and the signatures of links). Weird `If-None-Match` values must not break a read, and the
tag must stay cheap. The console's file route must only ever serve its own files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

import anyio
import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_app
from pipeline.api.routes_console import _ASSETS, CONSOLE
from pipeline.config import Settings
from pipeline.ids import new_id, now_iso
from pipeline.storage import open_storage
from pipeline.store import FileRecord, Store, open_store
from tests.integration.conftest import Samples

A = {"Authorization": "Bearer sk_a"}
B = {"Authorization": "Bearer sk_b"}
V2024 = {"Accept-Version": "2024-08-21"}
V2025 = {"Accept-Version": "2025-08-20"}
WORKFLOW = [{"kind": "image", "width": 64}]


@dataclass
class Api:
    client: TestClient
    store: Store


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    settings = replace(settings, cors_origins=("http://console.test",))
    store = open_store(settings.database_url)
    app = create_app(settings, store, open_storage(settings.storage_url))
    with TestClient(app) as test_client:
        yield Api(test_client, store)


@pytest.fixture
def client(api: Api) -> TestClient:
    return api.client


@pytest.fixture
def uploaded(client: TestClient, samples: Samples) -> dict[str, Any]:
    response = client.post("/files?filename=clip.mp4", content=samples.clip.read_bytes(), headers=A)
    assert response.status_code == 201, response.text
    file: dict[str, Any] = response.json()["data"]
    return file


def automation(client: TestClient, name: str = "nightly") -> str:
    made = client.post(
        "/automations", json={"name": name, "workflow": WORKFLOW}, headers={**A, **V2024}
    )
    assert made.status_code == 201, made.text
    ident: str = made.json()["data"]["id"]
    return ident


# -- a 304 never stands in for a refusal ---------------------------------------------------


def test_another_projects_object_is_404_whatever_tag_is_sent(
    client: TestClient, uploaded: dict[str, Any]
) -> None:
    ident = automation(client)
    for path in (f"/files/{uploaded['id']}", f"/automations/{ident}"):
        for version in (V2024, V2025):
            etag = client.get(path, headers={**A, **version}).headers["ETag"]
            for tag in (etag, "*", f"W/{etag}", f'"x", {etag}'):
                answer = client.get(path, headers={**B, **version, "If-None-Match": tag})
                assert answer.status_code == 404, (path, version, tag)
                assert "ETag" not in answer.headers


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/files", {}, 401),
        ("/files", {"Authorization": "Bearer sk_nope"}, 401),
        ("/files", {"Authorization": "Basic c2tfYTo="}, 401),
        ("/files?limit=0", A, 422),
        ("/files?page=abc", A, 422),
        ("/tasks?order=sideways", A, 422),
        ("/tasks?after=not-a-cursor", A, 422),
        ("/files", {**A, "Accept-Version": "1999-01-01"}, 400),
        ("/files/file_missing", A, 404),
        ("/tasks/tsk_missing", {**A, **V2025}, 404),
    ],
)
def test_refusals_are_never_304(
    client: TestClient, uploaded: dict[str, Any], path: str, headers: dict[str, str], status: int
) -> None:
    held = client.get("/files", headers=A).headers["ETag"]
    for tag in ("*", held):
        answer = client.get(path, headers={**headers, "If-None-Match": tag})
        assert answer.status_code == status, answer.text
        assert "ETag" not in answer.headers


# -- weird If-None-Match values ------------------------------------------------------------

WEIRD: list[str | bytes] = [
    "",
    " ",
    "W/",
    "W/W/",
    '"',
    'W/"',
    "W/*",
    "**",
    "*,*",
    ", , ,",
    '"' * 5000,
    "x" * 100_000,
    ", ".join(['W/"a"'] * 20_000),
    "é".encode("latin-1"),
    'W/"\xe9"'.encode("latin-1"),
    "☃".encode(),
    b"\xff\xfe\xfd",
    b'W/"a"\x00',
    b'W/"a"\t,\tW/"b"',
]


@pytest.mark.parametrize("tag", WEIRD, ids=range(len(WEIRD)))
def test_a_weird_if_none_match_is_a_full_answer_never_an_error(
    client: TestClient, uploaded: dict[str, Any], tag: str | bytes
) -> None:
    for path, version in (
        ("/files", V2024),
        ("/files", V2025),
        (f"/files/{uploaded['id']}", V2025),
    ):
        answer = client.get(path, headers={**A, **version, "If-None-Match": tag})  # type: ignore[dict-item]
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["ETag"].startswith('W/"')
        head = client.head(path, headers={**A, **version, "If-None-Match": tag})  # type: ignore[dict-item]
        assert head.status_code < 500


def test_the_real_tag_is_found_among_many_and_in_any_spelling(
    client: TestClient, uploaded: dict[str, Any]
) -> None:
    etag = client.get("/files", headers=A).headers["ETag"]
    opaque = etag.removeprefix("W/")
    for sent in (
        etag,
        opaque,
        ", ".join([*(['W/"no"'] * 5000), etag]),
        f" \t{etag} ,",
        f"x,{opaque}",
    ):
        assert client.get("/files", headers={**A, "If-None-Match": sent}).status_code == 304
    # a tag that only contains the real one, or is a prefix of it, is not it
    for sent in (etag[:-2] + '"', f'W/"{opaque}"', opaque.strip('"'), etag + "x"):
        assert client.get("/files", headers={**A, "If-None-Match": sent}).status_code == 200


def test_a_head_of_a_read_is_never_answered_for_a_missing_key(
    client: TestClient, uploaded: dict[str, Any]
) -> None:
    etag = client.get("/files", headers=A).headers["ETag"]
    for headers in ({}, {"Authorization": "Bearer sk_nope"}):
        for tag in (etag, "*"):
            head = client.head("/files", headers={**headers, "If-None-Match": tag})
            assert head.status_code not in (200, 304) and head.status_code < 500


# -- a 304 is never sent for a body that changed -------------------------------------------


@pytest.mark.parametrize("kind", ["health", "automation", "file", "task"])
def test_a_tag_of_one_dialect_does_not_answer_the_other(
    client: TestClient, uploaded: dict[str, Any], kind: str
) -> None:
    """The 2024 answer is `{meta, data, links}`, the 2025 one the bare object: a client (or an
    HTTP cache keyed by URL only, as no `Vary: Accept-Version` is sent) holding the 2024 body
    and its tag must not be told that it still holds the 2025 answer."""
    if kind == "health":
        path = "/health"
    elif kind == "automation":
        path = f"/automations/{automation(client)}"
    elif kind == "file":
        path = f"/files/{uploaded['id']}"
    else:
        made = client.post("/tasks", json={"kind": "image", "file_id": uploaded["id"]}, headers=A)
        path = f"/tasks/{made.json()['data']['id']}"
    old = client.get(path, headers={**A, **V2024})
    new = client.get(path, headers={**A, **V2025, "If-None-Match": old.headers["ETag"]})
    assert "meta" in old.json()
    assert new.status_code == 200, f"{path}: 304 to a 2025 read with the tag of a 2024 body"
    assert "meta" not in new.json()
    back = client.get(path, headers={**A, **V2024, "If-None-Match": new.headers["ETag"]})
    assert back.status_code == 200


def test_list_tags_differ_between_dialects(client: TestClient, uploaded: dict[str, Any]) -> None:
    automation(client)
    for path in ("/files", "/automations", "/tasks"):
        old = client.get(path, headers={**A, **V2024}).headers["ETag"]
        assert client.get(path, headers={**A, **V2025, "If-None-Match": old}).status_code == 200
        new = client.get(path, headers={**A, **V2025}).headers["ETag"]
        assert client.get(path, headers={**A, **V2024, "If-None-Match": new}).status_code == 200


def test_a_tag_of_another_projects_equal_list_does_not_answer_with_its_meta(
    client: TestClient,
) -> None:
    """Two projects with nothing in them: the 2024 bodies differ (meta.project_id), so project
    B must not be told that project A's body is its own (a browser's HTTP cache does exactly
    that revalidation when the console is logged out of A and into B: no `Vary`)."""
    held = client.get("/files", headers=A)
    assert held.json()["meta"]["project_id"] == "prj_a"
    other = client.get("/files", headers={**B, "If-None-Match": held.headers["ETag"]})
    assert other.status_code == 200, "304: B told that A's body (project_id prj_a) is current"
    assert other.json()["meta"]["project_id"] == "prj_b"


def test_a_list_whose_total_changed_beyond_the_page_is_200(
    client: TestClient, samples: Samples
) -> None:
    data = samples.photo.read_bytes()
    ids = [
        client.post(f"/files?filename=p{i}.jpg", content=data, headers=A).json()["data"]["id"]
        for i in range(3)
    ]
    for version in (V2024, V2025):
        first_page = client.get("/files?limit=1", headers={**A, **version})
        etag = first_page.headers["ETag"]
        shown = (first_page.json()["data"] if version == V2024 else first_page.json())[0]["id"]
        gone = next(i for i in ids if i != shown)
        assert client.delete(f"/files/{gone}", headers=A).status_code == 200
        ids.remove(gone)
        again = client.get("/files?limit=1", headers={**A, **version, "If-None-Match": etag})
        assert again.status_code == 200, "the page's items are the same but the total is not"


def test_the_order_and_filters_of_a_list_are_part_of_its_tag(
    client: TestClient, uploaded: dict[str, Any]
) -> None:
    for _ in range(2):
        client.post("/tasks", json={"kind": "image", "file_id": uploaded["id"]}, headers=A)
    for version in (V2024, V2025):
        desc = client.get("/tasks?order=desc", headers={**A, **version}).headers["ETag"]
        for other in ("/tasks?order=asc", "/tasks?order=desc&sort=updated", "/tasks?status=ready"):
            asked = client.get(other, headers={**A, **version, "If-None-Match": desc})
            assert asked.status_code == 200, other
        same = client.get("/tasks?order=desc", headers={**A, **version, "If-None-Match": desc})
        assert same.status_code == 304


def test_a_renamed_input_changes_the_tag_of_the_task_that_embeds_it(
    client: TestClient, uploaded: dict[str, Any]
) -> None:
    made = client.post("/tasks", json={"kind": "image", "file_id": uploaded["id"]}, headers=A)
    path = f"/tasks/{made.json()['data']['id']}"
    etag = client.get(path, headers={**A, **V2025}).headers["ETag"]
    listed = client.get("/tasks", headers={**A, **V2025}).headers["ETag"]
    renamed = client.patch(f"/files/{uploaded['id']}", json={"filename": "x.mp4"}, headers=A)
    assert renamed.status_code == 200
    assert client.get(path, headers={**A, **V2025, "If-None-Match": etag}).status_code == 200
    assert client.get("/tasks", headers={**A, **V2025, "If-None-Match": listed}).status_code == 200


def test_a_links_stand_in_cannot_be_mistaken_for_text_the_client_wrote(
    client: TestClient, uploaded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tag replaces each signed link by a stand-in (`<file_…>`) in the *serialized text*,
    so a metadata value equal to the link and one equal to the stand-in read the same to the
    hash; the two answers still get different tags only because `updated` moved between them.
    (The clock of the signatures is held still, so the link is signed the same way in every
    answer, as it is within one second.)"""
    import pipeline.storage.signing as signing

    class Still:
        @staticmethod
        def time() -> float:
            return 1_900_000_000.0

    monkeypatch.setattr(signing, "time", Still)
    path = f"/files/{uploaded['id']}"
    link = client.get(path, headers=A).json()["data"]["url"]
    assert client.patch(path, json={"metadata": {"source": link}}, headers=A).status_code == 200
    first = client.get(path, headers=A)
    assert first.json()["data"]["metadata"] == {"source": link}
    stand_in = f"<{uploaded['id']}>"
    assert client.patch(path, json={"metadata": {"source": stand_in}}, headers=A).status_code == 200
    changed = client.get(path, headers={**A, "If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200, "304, yet metadata.source changed from the link to text"
    assert changed.json()["data"]["metadata"] == {"source": stand_in}


# -- replays of POSTs ----------------------------------------------------------------------


def test_an_idempotent_replay_is_never_304_nor_tagged(
    client: TestClient, uploaded: dict[str, Any]
) -> None:
    body = {"kind": "image", "file_id": uploaded["id"]}
    for version in (V2024, V2025):
        key = {"Idempotency-Key": f"replay-{version['Accept-Version']}", **version}
        first = client.post("/tasks", json=body, headers={**A, **key, "If-None-Match": "*"})
        again = client.post("/tasks", json=body, headers={**A, **key, "If-None-Match": "*"})
        assert first.status_code == again.status_code == 201
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.content == first.content
        assert "ETag" not in first.headers and "ETag" not in again.headers


# -- the cost of the tag -------------------------------------------------------------------


def thumbnails_output(project: str, count: int) -> FileRecord:
    """A `thumbnails` output as the executor records it: `count` pictures, a sprite and a
    track beside the index, each turned into a signed link on the wire."""
    stamp = now_iso()
    names = [f"thumbnails/{i + 1:04d}.jpg" for i in range(count)]
    assets = {name: "image/jpeg" for name in names} | {
        "sprite.jpg": "image/jpeg",
        "thumbnails.vtt": "text/vtt",
    }
    ident = new_id("file")
    return FileRecord(
        id=ident,
        project_id=project,
        object="intelligence",
        kind="thumbnails",
        filename="thumbnails.json",
        mimetype="application/json",
        filesize=1000,
        storage_key=f"{project}/{ident}/thumbnails.json",
        created=stamp,
        updated=stamp,
        info={
            "assets": assets,
            "count": count,
            "urls": names,
            "links": {"sprite": "sprite.jpg", "vtt": "thumbnails.vtt"},
        },
    )


def test_a_page_of_files_with_many_links_is_answered_quickly(api: Api) -> None:
    """A page of 20 thumbnails outputs of 1000 pictures each (the most a task makes; the
    console polls `/tasks?limit=50`, whose ready tasks carry such outputs): presenting them
    takes a tenth of a second; the tag must not make the read take seconds (it is worked out
    on every 200, tag sent or not)."""
    for _ in range(20):
        api.store.create_file(thumbnails_output("prj_a", 1000))
    started = time.perf_counter()
    answer = api.client.get("/files?limit=20", headers=A)
    took = time.perf_counter() - started
    assert answer.status_code == 200 and len(answer.json()["data"]) == 20
    assert took < 1.5, f"GET /files?limit=20 took {took:.1f} s"


# -- the console's files -------------------------------------------------------------------

POLICY_NEEDS = ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'")


@pytest.mark.parametrize("path", ["/console", *(f"/console/{name}" for name in sorted(_ASSETS))])
def test_every_console_file_carries_the_policy(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    for needed in POLICY_NEEDS:
        assert needed in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["content-type"].split(";")[0] in (
        "text/html",
        "text/javascript",
        "text/css",
        "image/svg+xml",
    )
    # revalidated: the policy is there on a 304 too
    again = client.get(path, headers={"If-None-Match": answer.headers.get("etag", '"x"')})
    assert again.status_code in (200, 304)
    assert again.status_code == 200 or "Content-Security-Policy" in again.headers


ODD_NAMES = [
    "..",
    "../pyproject.toml",
    "%2e%2e/%2e%2e/pyproject.toml",
    "..%2f..%2fpyproject.toml",
    "%2e%2e%2f%2e%2e%2fconfig.py",
    "..%5c..%5cconfig.py",
    "..\\..\\config.py",
    "vendor/../../routes_console.py",
    "vendor/../app.js",
    "../console/app.js",
    "vendor/..%2f..%2froutes_console.py",
    "%c0%ae%c0%ae/%c0%ae%c0%ae/pyproject.toml",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "app.js%00",
    "app.js%00.png",
    "%00",
    "app.js/",
    "app.js/.",
    "./app.js",
    "APP.JS",
    "app.js.map",
    "README.md",
    "vendor/hls.js-LICENSE",
    "vendor",
    "vendor/",
    "console",
    "index.html%20",
    "app.js%3F",
    "%ff%fe",
    "%E2%80%AEsj.ppa",
    "a" * 10_000,
    "a/" * 2_000,
    "icon.svg;.html",
]


def raw_get(client: TestClient, raw_path: bytes) -> tuple[int, dict[str, str], bytes]:
    """GET `raw_path` exactly as sent on the wire (httpx would resolve `..` and `.` first),
    decoded into the ASGI scope's `path` the way uvicorn does it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
        "path": unquote(raw_path.decode("ascii")),
        "raw_path": raw_path,
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
    }
    sent: list[dict[str, Any]] = []
    asked: list[bool] = []

    async def receive() -> dict[str, Any]:
        # The (empty) body once; then, as a server does, nothing until the client goes away.
        if not asked:
            asked.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        while not (
            sent and sent[-1]["type"] == "http.response.body" and not sent[-1].get("more_body")
        ):
            await anyio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> None:
        with anyio.fail_after(10):
            await client.app(scope, receive, send)  # type: ignore[arg-type]

    client.portal.call(call)  # type: ignore[union-attr]
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


@pytest.mark.parametrize("name", ODD_NAMES, ids=range(len(ODD_NAMES)))
def test_an_odd_console_name_is_404_and_names_no_server_path(client: TestClient, name: str) -> None:
    assert raw_get(client, b"/console/app.js")[0] == 200  # the raw request itself works
    status, headers, body = raw_get(client, f"/console/{name}".encode())
    text = body.decode("utf-8", "replace")
    assert status == 404, text[:200]
    assert str(CONSOLE) not in text and "/work/" not in text and "Traceback" not in text
    assert headers["content-type"].startswith("application/json")
