"""The console in a real Chromium against `strobe serve`, fed hostile strings: what a client
writes (file names and contents, task URLs and so error messages, automation names and
descriptions) and what media yields (OCR detection labels, subtitle cues, transcript lines)
must be shown as text. Nothing may become markup, an event handler, a style or a link
target; and a script blocked by the page's policy would itself show an injection, so the
page's policy violations are counted too. In project B, so the console tests in project A
see none of it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_console import console_page, log_in, snap

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
KEY = "sk_e2e_b"
V2024 = {"Accept-Version": "2024-08-21"}

# Each would set window.__xss (or add an element) if it were ever parsed as HTML.
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '"><svg onload="window.__xss=2">'
SCRIPT = "</textarea></pre><script>window.__xss=3</script>"
STYLE = '<style>*{background:url("http://127.0.0.1:9/leak")}</style>'

WATCH = """() => {
  window.__violations = [];
  document.addEventListener('securitypolicyviolation',
    (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
}"""

# What the page must never hold: an event-handler attribute, an element from the hostile
# strings, a link anywhere but http(s), a style that loads something.
INJECTED = """() => {
  const all = [...document.querySelectorAll('*')];
  return {
    handlers: all.flatMap((e) => [...e.attributes].filter((a) => a.name.startsWith('on'))
      .map((a) => `${e.tagName} ${a.name}`)),
    elements: [...document.querySelectorAll(
      'img[src="x"], main svg[onload], main script, main style, body > style')]
      .map((e) => e.outerHTML.slice(0, 80)),
    links: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href'))
      .filter((h) => !/^https?:/.test(h)),
    styled: all.map((e) => e.getAttribute('style') || '').filter((s) => s.includes('url(')
      && !s.includes('/files/')),
    xss: window.__xss === undefined ? null : window.__xss,
    violations: window.__violations,
  };
}"""


def assert_clean(page: Any) -> None:
    found = page.evaluate(INJECTED)
    assert found == {
        "handlers": [],
        "elements": [],
        "links": [],
        "styled": [],
        "xss": None,
        "violations": [],
    }, found


@pytest.fixture
def page(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    with console_page(browser, server.url, request.node.name, {"width": 1280, "height": 900}) as (
        opened
    ):
        opened.add_init_script(f"({WATCH})()")
        opened.reload()
        yield opened


def test_what_clients_write_is_shown_as_text(page: Any, server: Server) -> None:
    """A file named and filled with markup, a task whose URL (and so its error) holds markup,
    an automation named and described with markup: the task list, both details, the
    automations list, its editor and the run form show them as typed."""
    name = f"{IMG}{SVG}.html"
    body = f"<!doctype html>{IMG}{SCRIPT}{STYLE}"
    url = f"http://127.0.0.1:9/{IMG}{SVG}.mp4"
    with server.client(KEY) as client:
        uploaded = client.post("/files", params={"filename": name}, content=body.encode(),
                               headers=V2024)  # fmt: skip
        assert uploaded.status_code == 201, uploaded.text
        file_id = uploaded.json()["data"]["id"]
        on_file = client.post("/tasks", json={"kind": "image", "file_id": file_id},
                              headers=V2024).json()["data"]["id"]  # fmt: skip
        on_url = client.post("/tasks", json={"kind": "image", "url": url},
                             headers=V2024).json()["data"]["id"]  # fmt: skip
        made = client.post("/automations", headers=V2024, json={
            "name": f"{IMG}{SVG}", "description": SCRIPT + STYLE, "status": "paused",
            "workflow": [{"kind": "image", "width": 64}]})  # fmt: skip
        assert made.status_code == 201, made.text
        automation = made.json()["data"]["id"]
    try:
        log_in(page, KEY)
        page.wait_for_selector("#app:not([hidden])")
        for task in (on_file, on_url):  # both fail: not media, nothing listening
            page.wait_for_selector(f"#tasks tr[data-id='{task}'][data-status='error']",
                                   state="attached", timeout=50_000)  # fmt: skip

        page.click(f"#tasks tr[data-id='{on_url}'] button.open")
        page.wait_for_function(
            "(id) => document.querySelector('#detail-title').textContent.includes(id)", arg=on_url
        )
        assert page.text_content("#detail-input p") == url
        assert page.locator("#detail-input a").count() == 0  # the URL is never a link
        assert "<img src=x onerror=" in page.text_content("#detail-json")
        assert_clean(page)

        page.click(f"#tasks tr[data-id='{on_file}'] button.open")
        shown = page.wait_for_selector("#detail-input pre")  # the file's content, as text
        assert shown.text_content() == body
        link = page.locator("#detail-input a")
        assert link.text_content() == name and link.get_attribute("href").startswith("http")
        assert_clean(page)
        snap(page, "attack-file-detail")

        page.click("nav >> text=Automations")
        row = page.wait_for_selector(f"#automations tr[data-id='{automation}']")
        assert (row.text_content() or "").startswith(f"{IMG}{SVG}")
        row.query_selector("button.edit").click()
        assert page.input_value("#automation-name") == f"{IMG}{SVG}"
        assert page.input_value("#automation-description") == SCRIPT + STYLE
        assert page.text_content("#automation-title") == f"Edit {IMG}{SVG}"
        page.click("nav >> text=Upload and create")
        option = page.wait_for_selector(f"#run-automation option[value='{automation}']",
                                        state="attached")  # fmt: skip
        assert option.text_content() == f"{IMG}{SVG} (paused)"
        assert_clean(page)
    finally:
        with server.client(KEY) as client:
            client.delete(f"/automations/{automation}")


# A 1x1 PNG: the picture the detections are drawn over.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005000201a3b3a1e50000000049454e44ae426082"
)


def test_what_media_yields_is_shown_as_text(page: Any, server: Server) -> None:
    """Detections read from a picture (OCR `text`), subtitle cues and transcript lines come
    from the media a client sent: answers of the API are stood in for here (a worker would
    need the models) with hostile labels, boxes, cues and lines."""
    base = server.url
    stamp = "2026-01-01T00:00:00.000Z"

    def file(ident: str, type_: str, name: str) -> dict[str, Any]:
        return {"id": ident, "object": "source", "kind": "image", "mimetype": type_,
                "filename": name, "url": f"{base}/fake/{ident}"}  # fmt: skip

    def task(ident: str, kind: str, input_: str, output: dict[str, Any]) -> dict[str, Any]:
        return {"id": ident, "object": "task", "kind": kind, "input": input_, "output": output,
                "status": "ready", "progress": 100, "error": None, "created": stamp,
                "updated": stamp}  # fmt: skip

    evil_box = {"x": '0;background:url("http://127.0.0.1:9/box")', "y": "0", "width": 0.5,
                "height": "1%;position:fixed"}  # fmt: skip
    tasks = {
        "tsk_fakeocr": task("tsk_fakeocr", "text", "file_fakepic",
                            file("file_fakeocr", "application/json", f"{IMG}.json")),
        "tsk_fakesubs": task("tsk_fakesubs", "subtitles", f"javascript:window.__xss=4//{IMG}",
                             file("file_fakevtt", "text/vtt", "subs.vtt")),
        "tsk_fakewords": task("tsk_fakewords", "speech", f"http://127.0.0.1:9/{SVG}",
                              file("file_fakewords", "application/json", "words.json")),
    }  # fmt: skip
    contents: dict[str, tuple[str, bytes]] = {
        "file_fakepic": ("image/png", PNG),
        "file_fakeocr": ("application/json", json.dumps({"timeline": [
            {"text": IMG, "confidence": SVG, "box": evil_box},
            {"label": SCRIPT, "text": STYLE, "confidence": 0.9,
             "box": {"x": 0.1, "y": 0.1, "width": 0.2, "height": 0.2}},
        ]}).encode()),
        "file_fakevtt": ("text/vtt", (
            f"WEBVTT\n\n00:00.000 --> 00:01.000\n{IMG}\n\n"
            f"00:01.000 --> 00:02.000\n<b>{SCRIPT}</b>\n\n"
            f"00:02.000 --> 00:03.000 align:start\n<c.x>{STYLE}</c>\n").encode()),
        "file_fakewords": ("application/json", json.dumps({"timeline": [
            {"index": 0, "start": 0, "end": 1, "text": IMG},
            {"index": 1, "start": 1, "end": 2, "text": SCRIPT},
        ]}).encode()),
    }  # fmt: skip
    listed = {"meta": {"total": len(tasks)}, "data": list(tasks.values()), "links": {}}

    def answer(route: Any) -> None:
        path = route.request.url.removeprefix(base).split("?")[0]
        if path == "/tasks":
            return route.fulfill(json=listed)
        if path.startswith("/tasks/") and path[7:] in tasks:
            return route.fulfill(json={"meta": {}, "data": tasks[path[7:]], "links": {}})
        if path == "/files/file_fakepic":
            return route.fulfill(json={"data": file("file_fakepic", "image/png", f"{IMG}.png")})
        if path.startswith("/fake/") and path[6:] in contents:
            type_, data = contents[path[6:]]
            return route.fulfill(body=data, content_type=type_)
        return route.continue_()

    page.route(f"{base}/tasks**", answer)
    page.route(f"{base}/files/file_fake*", answer)
    page.route(f"{base}/fake/*", answer)
    log_in(page, KEY)
    page.wait_for_selector("#tasks tr[data-id='tsk_fakeocr']")

    page.click("#tasks tr[data-id='tsk_fakeocr'] button.open")
    page.wait_for_selector("#detail-input .stage .box >> nth=1", state="attached")
    labels = page.eval_on_selector_all(
        "#detail-input .box span", "s => s.map((e) => e.textContent)"
    )
    assert labels == [IMG, SCRIPT]
    titles = page.eval_on_selector_all("#detail-input .box", "s => s.map((e) => e.title)")
    assert titles == [f"{IMG} {SVG}", f"{SCRIPT} 0.9"]
    assert page.get_attribute("#detail-input .stage img", "alt") == f"{IMG}.png"
    assert page.locator("#detail-output a").text_content() == f"{IMG}.json"
    assert "<img src=x onerror=" in page.text_content("#detail-output pre")
    assert_clean(page)
    snap(page, "attack-detections")

    page.click("#tasks tr[data-id='tsk_fakesubs'] button.open")
    page.wait_for_selector("#detail-output .cues li >> nth=2", state="attached")
    cues = page.eval_on_selector_all("#detail-output .cue", "s => s.map((e) => e.textContent)")
    assert cues == [f"0:00 {IMG}", f"0:01 <b>{SCRIPT}</b>", f"0:02 <c.x>{STYLE}</c>"]
    assert page.text_content("#detail-input p") == tasks["tsk_fakesubs"]["input"]
    assert page.locator("#detail-input a").count() == 0  # a javascript: input is never a link
    assert_clean(page)

    page.click("#tasks tr[data-id='tsk_fakewords'] button.open")
    page.wait_for_selector("#detail-output .transcript .line >> nth=1", state="attached")
    lines = page.eval_on_selector_all(
        "#detail-output .transcript .line", "s => s.map((e) => e.textContent)"
    )
    assert lines == [IMG, SCRIPT]
    assert_clean(page)
    time.sleep(0.5)  # a late poll of the list changes nothing either
    assert_clean(page)
