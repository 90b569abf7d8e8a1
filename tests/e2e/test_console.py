"""The web console in a real Chromium (Debian's, driven by Playwright) against `strobe serve`
with Ray workers: log in, upload, create tasks from the generated form, watch them finish,
play the HLS output, cancel, tracks and transcripts, automations, the cluster, and the
refusals. Each test saves screenshots under `test-artifacts/console/`."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import Server, running_server
from tests.support.media import SCENES_SECONDS, make_video, three_scenes, write_video
from tests.support.speech import espeak, tiny_whisper
from tests.support.vision import photo

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
KEY = "sk_e2e_a"
DONE_MS = 180_000


@contextmanager
def console_page(browser: Any, url: str, name: str, size: dict[str, int]) -> Iterator[Any]:
    """A fresh browser context on the console at `url`; its last screenshot saved at the end."""
    context = browser.new_context(viewport=size)
    opened = context.new_page()
    opened.goto(f"{url}/console")
    try:
        yield opened
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        opened.screenshot(path=str(ARTIFACTS / f"{name}-end.png"), full_page=True)
        context.close()


@pytest.fixture
def page(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    size = getattr(request, "param", {"width": 1280, "height": 800})
    with console_page(browser, server.url, request.node.name, size) as opened:
        yield opened


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


def played_for(page: Any, ms: int) -> tuple[float, float]:
    """The output player's time when it starts playing (muted) and `ms` later."""
    start, now = page.evaluate(
        """async (ms) => {
          const video = document.querySelector('#detail-output video');
          video.muted = true;
          await video.play();
          const start = video.currentTime;
          await new Promise((ok) => setTimeout(ok, ms));
          return [start, video.currentTime];
        }""",
        ms,
    )
    return start, now


def drop(page: Any, path: Path, mimetype: str) -> None:
    """Drag `path` onto the drop zone as a browser delivers it: dragover, then drop with
    the file in the event's DataTransfer."""
    page.evaluate(
        """([name, type, data]) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], name, { type }));
          const zone = document.querySelector('#drop');
          for (const kind of ['dragover', 'drop']) {
            zone.dispatchEvent(new DragEvent(kind, { dataTransfer: transfer, bubbles: true,
              cancelable: true }));
          }
        }""",
        [path.name, mimetype, base64.b64encode(path.read_bytes()).decode()],
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
    drop(page, clip, "video/mp4")
    page.wait_for_selector("#upload-result:has-text('Uploaded console.mp4')")
    assert page.eval_on_selector("#upload-progress", "e => e.value") == 100
    file_id = page.input_value("#create-input")
    assert file_id.startswith("file_")
    snap(page, "uploaded")

    task_id = create(page, file_id, "video", format="cmaf")
    wait_status(page, task_id, "ready")
    row = page.wait_for_selector(f"#tasks tr[data-id='{task_id}'][data-status='ready']")
    assert "100%" in (row.text_content() or "")
    start, now = played_for(page, 1500)
    assert now > start + 0.5, (start, now)
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


# Every control a person could use in the view shown: visible, enabled, not taken out of the
# tab order. Each is marked with a number, so the test can tell which ones Tab reached.
CONTROLS = """() => {
  const all = [...document.querySelectorAll(
    'button, input, select, textarea, summary, a[href], [tabindex]:not([tabindex="-1"])')];
  const shown = all.filter((e) => !e.disabled && e.offsetParent !== null && e.type !== 'file'
    && e.type !== 'hidden');
  shown.forEach((e, i) => { e.dataset.control = String(i); });
  return shown.map((e) => e.id || e.textContent.trim() || e.tagName);
}"""


@pytest.mark.parametrize("view", ["Tasks", "Upload and create", "Automations", "Cluster"])
def test_the_keyboard_reaches_every_control(page: Any, view: str) -> None:
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    page.click(f"nav >> text={view}")
    page.wait_for_timeout(300)  # the view's first answer is drawn
    page.evaluate("document.activeElement.blur()")
    controls = page.evaluate(CONTROLS)
    reached: set[str] = set()
    for _ in range(len(controls) + 10):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.dataset.control || ''"))
    missed = [name for i, name in enumerate(controls) if str(i) not in reached]
    assert not missed, missed  # all reached in one pass: no control traps the focus


@pytest.mark.parametrize("page", [{"width": 390, "height": 844}], indirect=True)
def test_a_phone_width_has_no_sideways_scroll(page: Any) -> None:
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    for view in ("Tasks", "Upload and create", "Automations", "Cluster"):
        page.click(f"nav >> text={view}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (view, width)
        snap(page, f"phone-{view.split()[0].lower()}")


def test_polling_is_answered_304_while_nothing_changes(page: Any, server: Server) -> None:
    answers: list[int] = []
    page.on(
        "response",
        lambda r: answers.append(r.status) if "/tasks?" in r.url and "kind=audio" in r.url else 0,
    )
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    page.select_option("#filter-kind", "audio")  # a list no other test here changes
    page.wait_for_function("() => !document.querySelector('#tasks-empty').hidden")
    deadline = time.monotonic() + 15
    while answers.count(304) < 2:
        assert time.monotonic() < deadline, answers
        page.wait_for_timeout(500)
    assert answers[0] == 200

    with server.client() as client:  # a change: the next poll is answered in full
        made = client.post("/tasks", json={"kind": "audio", "url": "http://127.0.0.1:9/a.mp4"})
        task_id = made.json()["data"]["id"]
    page.wait_for_selector(f"#tasks tr[data-id='{task_id}']", timeout=10_000)
    assert answers.count(200) >= 2


def test_automations_are_made_edited_paused_and_deleted_in_the_page(
    page: Any, server: Server
) -> None:
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    page.click("nav >> text=Automations")
    page.fill("#automation-name", "console-made")
    page.select_option("#automation-status", "paused")  # never triggered by other tests' uploads
    page.fill("#automation-workflow", json.dumps([{"kind": "image", "next": [{"kind": "speech"}]}]))
    page.click("#automation button[type=submit]")
    page.wait_for_selector("#automation-error:has-text('workflow[0].next[0].kind')")

    steps = [{"kind": "image", "width": 64, "ref": "small"}, {"kind": "video", "width": 96}]
    page.fill("#automation-workflow", json.dumps(steps))
    page.click("#automation button[type=submit]")
    row = page.wait_for_selector("#automations tr:has-text('console-made')")
    automation = row.get_attribute("data-id")
    assert automation and row.get_attribute("data-status") == "paused"
    try:
        with server.client() as client:
            stored = client.get(f"/automations/{automation}").json()
            assert stored["workflow"] == steps and stored["status"] == "paused"

            page.click(f"#automations tr[data-id='{automation}'] button.edit")
            assert page.input_value("#automation-name") == "console-made"
            page.fill("#automation-name", "console-edited")
            page.click("#automation button[type=submit]")
            page.wait_for_selector(
                f"#automations tr[data-id='{automation}']:has-text('console-edited')"
            )
            assert client.get(f"/automations/{automation}").json()["name"] == "console-edited"

            page.click(f"#automations tr[data-id='{automation}'] button.toggle")  # resume
            page.wait_for_selector(f"#automations tr[data-id='{automation}'][data-status='active']")
            page.click(f"#automations tr[data-id='{automation}'] button.toggle")  # pause again
            page.wait_for_selector(f"#automations tr[data-id='{automation}'][data-status='paused']")
            assert client.get(f"/automations/{automation}").json()["status"] == "paused"
            snap(page, "automations")

            page.once("dialog", lambda dialog: dialog.accept())
            page.click(f"#automations tr[data-id='{automation}'] button.delete")
            page.wait_for_selector(f"#automations tr[data-id='{automation}']", state="detached")
            assert client.get(f"/automations/{automation}").status_code == 404
    finally:
        with server.client() as client:
            client.delete(f"/automations/{automation}")


def test_the_cluster_view_shows_workers_nodes_and_kinds(page: Any) -> None:
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    page.click("nav >> text=Cluster")
    page.wait_for_selector("#queue tr[data-kind='image']")
    page.wait_for_function("() => Number(document.querySelector('#ray-nodes').textContent) === 1")
    summary = page.text_content("#cluster-summary") or ""
    assert re.search(r"Workers\s*1", summary), summary
    assert page.locator("#queue tr[data-kind] svg[role=img]").count() >= 10
    snap(page, "cluster")


def face_then_nothing(path: Path) -> Path:
    """3 s at 10 fps: the astronaut for the first second, then a plain gray picture."""
    astronaut = Image.open(photo("astronaut", path.with_suffix(".png"))).resize((320, 320))
    face = np.asarray(astronaut.convert("RGB"))
    gray = np.full_like(face, 128)
    return write_video(path, [face] * 10 + [gray] * 20, width=320, height=320, fps=10)


def test_detections_on_a_strip_show_their_frame_with_its_box(page: Any, tmp_path: Path) -> None:
    clip = face_then_nothing(tmp_path / "face.mp4")
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    task_id = create(page, upload_through_page(page, clip), "faces")
    wait_status(page, task_id, "ready")
    mark = page.wait_for_selector(".strip .lane .mark")
    lanes = page.locator(".strip .lane-label").all_text_contents()
    assert lanes == ["face"], lanes
    starts = [
        float(s) for s in page.eval_on_selector_all(".mark", "m => m.map(e => e.dataset.start)")
    ]
    assert starts and max(starts) < 1.0, starts  # seen in the first second only
    page.eval_on_selector("#detail-input video", "v => { v.currentTime = 2.5; }")
    page.wait_for_function(  # the gray second: nothing boxed
        "() => { const v = document.querySelector('#detail-input video');"
        " return !v.seeking && v.currentTime > 2 && !document.querySelector('.stage .box'); }"
    )
    mark.click()  # back to the frame the face was seen best in, boxed
    page.wait_for_function(
        "() => { const v = document.querySelector('#detail-input video');"
        " return !v.seeking && v.currentTime < 1; }"
    )
    page.wait_for_selector("#detail-input .stage .box")
    snap(page, "strip-face")


def test_chapters_are_a_track_and_a_list_that_seeks(page: Any, tmp_path: Path) -> None:
    clip = make_video(
        tmp_path / "scenes.mp4", width=160, height=90, seconds=SCENES_SECONDS, color_at=three_scenes
    )
    log_in(page)
    page.wait_for_selector("#app:not([hidden])")
    task_id = create(page, upload_through_page(page, clip), "chapters", format="vtt")
    wait_status(page, task_id, "ready")
    page.wait_for_function(
        "() => document.querySelector('#detail-input video')?.textTracks[0]?.cues?.length === 3"
    )
    track = page.eval_on_selector(
        "#detail-input video",
        "v => { const t = v.textTracks[0]; return [t.kind, [...t.cues].map(c => c.text)]; }",
    )
    assert track == ["chapters", ["Chapter 1", "Chapter 2", "Chapter 3"]]
    cues = page.locator("#detail-output .cue").all_text_contents()
    assert cues == ["0:00 Chapter 1", "0:04 Chapter 2", "0:09 Chapter 3"], cues
    page.click("#detail-output .cue >> text=Chapter 3")
    page.wait_for_function("() => document.querySelector('#detail-input video').currentTime >= 8.5")
    snap(page, "chapters")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server whose workers load a Whisper (the tiny test-built one) and whose links
    live 15 s, so a test can outlive them."""
    data = tmp_path_factory.mktemp("spoken")
    tiny_whisper(data / "models")
    with running_server(
        data, STROBE_MODELS_DIR=str(data / "models"), STROBE_URL_TTL_S="15", STROBE_RAY_NUM_CPUS="4"
    ) as running:
        yield running


def test_a_transcript_seeks_and_subtitles_are_a_track(
    browser: Any, spoken: Server, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    speech = espeak(
        tmp_path / "hello.wav", "Hello, this is Strobe. We transcribe speech into text."
    )
    with console_page(
        browser, spoken.url, request.node.name, {"width": 1280, "height": 800}
    ) as page:
        log_in(page)
        page.wait_for_selector("#app:not([hidden])")
        file_id = upload_through_page(page, speech)

        task_id = create(page, file_id, "speech")
        wait_status(page, task_id, "ready")
        line = page.wait_for_selector("#detail-output .transcript .line")
        start = float((line.get_attribute("title") or "").removesuffix(" s"))
        page.eval_on_selector("#detail-input audio", "a => { a.muted = true; a.currentTime = 3; }")
        page.wait_for_function(
            "() => document.querySelector('#detail-input audio').currentTime >= 3"
        )
        line.click()
        page.wait_for_function(
            "(start) => { const a = document.querySelector('#detail-input audio');"
            " return !a.seeking && a.currentTime >= start && a.currentTime < start + 2.5; }",
            arg=start,
        )
        snap(page, "transcript")

        task_id = create(page, file_id, "subtitles")
        wait_status(page, task_id, "ready")
        page.wait_for_function(
            "() => document.querySelector('#detail-input audio')?.textTracks[0]?.cues?.length > 0"
        )
        kind, shown = page.eval_on_selector(
            "#detail-input audio",
            "a => { const t = a.textTracks[0]; return [t.kind, [...t.cues].map(c => c.text)]; }",
        )
        listed = page.locator("#detail-output .cue").all_text_contents()
        assert kind == "subtitles" and shown and len(listed) == len(shown)
        for text, item in zip(shown, listed, strict=True):
            assert " ".join(text.split()) in " ".join(item.split())


def test_an_expired_link_is_signed_again_not_shown_broken(
    browser: Any, spoken: Server, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # A minute of HLS: hls.js buffers 30 s ahead, so the last segments are fetched only when
    # the viewer gets there, by then with links that have expired.
    clip = make_video(tmp_path / "minute.mp4", width=160, height=90, seconds=60.0, fps=10)
    refused: list[str] = []
    size = {"width": 1280, "height": 800}
    with console_page(browser, spoken.url, request.node.name, size) as page:
        page.on("response", lambda r: refused.append(r.url) if r.status == 401 else 0)
        log_in(page)
        page.wait_for_selector("#app:not([hidden])")
        task_id = create(page, upload_through_page(page, clip), "video", format="cmaf")
        wait_status(page, task_id, "ready")
        page.wait_for_function(
            "() => document.querySelector('#detail-output video').readyState >= 1"
        )
        first = json.loads(page.text_content("#detail-json") or "{}")["output"]["url"]
        expires = int(re.search(r"/t/(\d+)/", first).group(1))  # type: ignore[union-attr]
        time.sleep(max(0.0, expires - time.time() + 1.5))  # every link handed out is dead now

        page.eval_on_selector("#detail-output video", "v => { v.currentTime = 55; }")
        page.wait_for_function(  # refused, signed again, and playing on from where it was
            "(first) => { const v = document.querySelector('#detail-output video');"
            " const task = JSON.parse(document.querySelector('#detail-json').textContent);"
            " return task.output.url !== first && v.readyState >= 2 && v.currentTime > 50; }",
            arg=first,
            timeout=30_000,
        )
        assert refused and all(f"/t/{expires}/" in url for url in refused), refused
        assert (page.text_content("#detail-error") or "") == ""
        start, now = played_for(page, 1000)
        assert now > start + 0.3, (start, now)
        snap(page, "expired-link-refreshed")
