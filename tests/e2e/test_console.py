"""The web console in a real Chromium (Debian's, driven by Playwright) against `strobe serve`
with Ray workers: log in, upload, create tasks from the generated form, watch them finish,
play the HLS output, cancel, and the refusals. Each test saves screenshots under
`test-artifacts/console/`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.support.media import make_video
from tests.support.vision import photo

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
KEY = "sk_e2e_a"
DONE_MS = 180_000


@pytest.fixture
def page(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    size = getattr(request, "param", {"width": 1280, "height": 800})
    context = browser.new_context(viewport=size)
    opened = context.new_page()
    opened.goto(f"{server.url}/console")
    try:
        yield opened
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}-end.png"), full_page=True)
        context.close()


def snap(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page: Any, key: str = KEY) -> None:
    page.fill("#key", key)
    page.click("#login button[type=submit]")


def create(page: Any, source: str, kind: str, **options: str) -> str:
    """Fill the generated form and submit; the new task's id (its detail opens)."""
    page.click("nav >> text=Upload and create")
    page.fill("#create-input", source)
    page.select_option("#create-kind", kind)
    for name, value in options.items():
        field = page.locator(f"#option-{name}")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    before = page.text_content("#detail-title")
    page.click("#create button[type=submit]")
    page.wait_for_function(
        "(before) => { const t = document.querySelector('#detail-title').textContent;"
        " return /tsk_/.test(t) && t !== before; }",
        arg=before,
    )
    title = page.text_content("#detail-title") or ""
    found = re.search(r"(tsk_\w+)", title)
    assert found, title
    return found.group(1)


def wait_status(page: Any, task_id: str, status: str) -> None:
    page.wait_for_function(
        "([id, status]) => (document.querySelector('#detail-title').textContent || '')"
        ".includes(id) && document.querySelector('#detail-title').textContent.endsWith(status)",
        arg=[task_id, status],
        timeout=DONE_MS,
    )


def test_a_wrong_key_is_refused_and_nothing_else_loads(page: Any) -> None:
    log_in(page, "sk_wrong")
    page.wait_for_selector("#login-error:has-text('refused')")
    assert page.is_hidden("#app") and page.is_visible("#login")
    snap(page, "wrong-key")


def test_upload_create_cmaf_watch_it_finish_and_play_it(
    page: Any, media_dir: Path, tmp_path: Path
) -> None:
    clip = make_video(tmp_path / "console.mp4", width=320, height=180, seconds=3.0, audio=True)
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    page.click("nav >> text=Upload and create")
    page.set_input_files("#file", str(clip))
    page.wait_for_selector("#upload-result:has-text('Uploaded')")
    assert page.eval_on_selector("#upload-progress", "e => e.value") == 100
    file_id = page.input_value("#create-input")
    assert file_id.startswith("file_")
    snap(page, "uploaded")

    task_id = create(page, file_id, "video", format="cmaf")
    wait_status(page, task_id, "ready")
    row = page.wait_for_selector(f"#tasks tr[data-id='{task_id}'][data-status='ready']")
    assert "100%" in (row.text_content() or "")
    played = page.evaluate(
        """async () => {
          const video = document.querySelector('#detail-output video');
          video.muted = true;
          await video.play();
          const start = video.currentTime;
          await new Promise((ok) => setTimeout(ok, 1500));
          return [start, video.currentTime];
        }"""
    )
    assert played[1] > played[0] + 0.5, played
    snap(page, "cmaf-playing")

    image_id = create(page, file_id, "image", width="120")
    wait_status(page, image_id, "ready")
    page.wait_for_function(
        "() => document.querySelector('#detail-output img')?.naturalWidth === 120"
    )


def upload_through_page(page: Any, path: Path) -> str:
    page.click("nav >> text=Upload and create")
    page.set_input_files("#file", str(path))
    page.wait_for_selector(f"#upload-result:has-text('Uploaded {path.name}')")
    return page.input_value("#create-input")


def test_scrub_the_thumbnails(page: Any, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "strip.mp4", width=320, height=180, seconds=4.0)
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    task_id = create(page, upload_through_page(page, clip), "thumbnails", count="4", width="80")
    wait_status(page, task_id, "ready")
    preview = page.wait_for_selector(".scrubber .preview[data-xywh]")
    first = preview.get_attribute("data-xywh")
    page.focus(".scrubber input[type=range]")
    page.keyboard.press("ArrowRight")  # the keyboard scrubs too
    second = preview.get_attribute("data-xywh")
    assert first != second and second is not None
    x, y, w, h = (int(n) for n in second.split(","))
    assert (w, h) == (80, 45)
    position = preview.evaluate("e => getComputedStyle(e).backgroundPosition")
    assert [float(p.removesuffix("px")) for p in position.split()] == [-x, -y], position
    assert preview.evaluate("e => getComputedStyle(e).backgroundImage").startswith('url("http')
    snap(page, "thumbnails-scrubbed")


def test_a_face_is_boxed_over_the_picture(page: Any, tmp_path: Path) -> None:
    astronaut = photo("astronaut", tmp_path / "astronaut.png")
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    task_id = create(page, upload_through_page(page, astronaut), "faces")
    wait_status(page, task_id, "ready")
    box = page.wait_for_selector("#detail-input .stage .box")
    picture = page.eval_on_selector(
        "#detail-input .stage img", "e => e.getBoundingClientRect().toJSON()"
    )
    face = box.evaluate("e => e.getBoundingClientRect().toJSON()")
    assert (box.text_content() or "").strip() == "face"
    # Inside the picture, in its upper half (the astronaut's face), and not the whole of it.
    assert picture["left"] <= face["left"] and face["right"] <= picture["right"] + 1
    assert (
        picture["top"] <= face["top"] and face["bottom"] <= picture["top"] + picture["height"] / 2
    )
    assert 0 < face["width"] < picture["width"] / 2
    snap(page, "face-boxed")


def test_run_a_workflow_and_watch_its_steps(page: Any, server: Server, tmp_path: Path) -> None:
    clip = make_video(tmp_path / "flow.mp4", width=320, height=180, seconds=2.0)
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    file_id = upload_through_page(page, clip)
    assert page.input_value("#run-input") == file_id

    refused = [{"kind": "image", "next": [{"kind": "speech"}]}]
    page.fill("#run-workflow", json.dumps(refused))
    page.click("#run button[type=submit]")
    page.wait_for_selector("#run-error:has-text('workflow[0].next[0].kind')")

    inline = [{"kind": "image", "width": 64}, {"kind": "video", "width": 96, "next": [
        {"kind": "image", "start": 0.5}]}]  # fmt: skip
    page.fill("#run-workflow", json.dumps(inline))
    page.click("#run button[type=submit]")
    page.wait_for_selector("#run-view .run-status[data-status='ready']", timeout=DONE_MS)
    assert page.locator("#run-view li[data-status='ready']").count() == 3
    snap(page, "workflow-run")

    with server.client() as client:  # an automation, made after the upload: it runs on demand
        body = {"name": "console", "workflow": [{"kind": "image", "width": 48}]}
        made = client.post("/automations", json=body, headers={"Accept-Version": "2024-08-21"})
        automation = made.json()["data"]["id"]
    try:
        page.click("nav >> text=Tasks")
        page.click("nav >> text=Upload and create")  # the list of automations is read again
        page.fill("#run-input", file_id)
        page.wait_for_selector(f"#run-automation option[value='{automation}']", state="attached")
        page.select_option("#run-automation", automation)
        page.click("#run button[type=submit]")
        page.wait_for_selector("#run-view .run-status[data-status='ready']", timeout=DONE_MS)
        assert page.locator("#run-view li[data-status='ready']").count() == 1
    finally:
        with server.client() as client:
            client.delete(f"/automations/{automation}")


def test_cancel_a_running_task(page: Any, http_base: str, media_dir: Path) -> None:
    make_video(media_dir / "cancel.mp4", width=64, height=64, seconds=1.0)
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    task_id = create(page, f"{http_base}/slow/30/cancel.mp4", "image")
    page.click("#detail-close")
    page.click(f"#tasks tr[data-id='{task_id}'] button.cancel")
    page.wait_for_selector(f"#tasks tr[data-id='{task_id}'] td.status:has-text('cancelled')")
    snap(page, "cancelled")


def test_a_non_media_upload_shows_the_error(page: Any, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not media\n" * 10)
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    page.click("nav >> text=Upload and create")
    page.set_input_files("#file", str(notes))
    page.wait_for_selector("#upload-result:has-text('not media')")
    task_id = create(page, page.input_value("#create-input"), "image")
    wait_status(page, task_id, "error")
    assert "input_unreadable" in (page.text_content("#detail-error") or "")


def test_the_api_going_away_is_said_and_the_page_reconnects(page: Any) -> None:
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    page.route("**/tasks?*", lambda route: route.abort())
    page.wait_for_selector("#connection:has-text('unreachable')")
    snap(page, "offline")
    page.unroute("**/tasks?*")
    page.wait_for_selector("#connection:has-text('Reconnected')")


def test_the_keyboard_reaches_every_control(page: Any) -> None:
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    reached = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.add(
            page.evaluate("document.activeElement.id || document.activeElement.textContent")
        )
    expected = {"logout", "filter-kind", "filter-status", "filter-sort", "filter-order"}
    assert expected <= reached, reached
    assert {"Tasks", "Upload and create", "Cluster"} <= reached
    page.keyboard.press("Shift+Tab")  # and back again without a trap


@pytest.mark.parametrize("page", [{"width": 390, "height": 844}], indirect=True)
def test_a_phone_width_has_no_sideways_scroll(page: Any) -> None:
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    for view in ("Tasks", "Upload and create", "Cluster"):
        page.click(f"nav >> text={view}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (view, width)
        snap(page, f"phone-{view.split()[0].lower()}")
