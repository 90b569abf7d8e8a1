"""Outputs played in a real browser: Debian's Chromium driven by Playwright, hls.js from npm.

A player needs more than the right bytes: an mp4 seeks only when Range is answered, an Ogg
file shows its duration only when its end can be read, and a web app on another origin
plays HLS only when CORS allows it (docs/ARCHITECTURE.md, "How outputs are served").
Screenshots go to the test's tmp_path.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.api.app import create_app
from pipeline.config import Settings
from pipeline.storage import open_storage
from pipeline.store import open_store
from tests.e2e.conftest import KEYS, Server, running_server
from tests.e2e.test_image_tasks import wait_done
from tests.support.api_server import serve_app
from tests.support.http import serve_directory
from tests.support.media import make_video

pytestmark = pytest.mark.e2e

HLS_JS = "hls.js@1.6.15"
CLIP_SECONDS = 4.0
PAGE = "<!doctype html><html><body><script src='/hls.min.js'></script></body></html>"

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def npm_hls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hls.min.js as npm installs it, at the pinned version."""
    packages = tmp_path_factory.mktemp("npm")
    npm = shutil.which("npm")
    assert npm, "npm is needed for hls.js (Debian package npm; see .ci/system-deps)"
    # No skip when the registry is unreachable: a silent skip would hide a broken check.
    subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(packages), HLS_JS],
        check=True,
        timeout=120,
    )
    return packages / "node_modules/hls.js/dist/hls.min.js"


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory: pytest.TempPathFactory, npm_hls: Path) -> Iterator[str]:
    """Another origin (its own loopback port) serving a blank page and hls.js from npm."""
    root = tmp_path_factory.mktemp("web-app")
    shutil.copy(npm_hls, root / "hls.min.js")
    (root / "index.html").write_text(PAGE)
    with serve_directory(root) as base:
        yield base


def test_the_console_ships_hls_js_exactly_as_npm_gives_it(npm_hls: Path) -> None:
    """The console's copy (pipeline/api/console/vendor/) is the pinned release, byte for byte,
    and its README names that version and hash."""
    console = Path(__file__).resolve().parents[2] / "pipeline/api/console"
    shipped = (console / "vendor/hls.min.js").read_bytes()
    assert shipped == npm_hls.read_bytes()
    readme = (console / "README.md").read_text()
    version = HLS_JS.split("@")[1]
    assert f"`{HLS_JS}`" in readme and f"hls.js {version}" in readme
    assert hashlib.sha256(shipped).hexdigest() in readme


@pytest.fixture(scope="module")
def strobe(page_origin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`strobe serve` that allows the web app's origin."""
    data_dir = tmp_path_factory.mktemp("strobe-browser")
    with running_server(data_dir, STROBE_CORS_ORIGINS=page_origin) as server:
        yield server


@pytest.fixture(scope="module")
def outputs(strobe: Server, media_dir: Path, http_base: str) -> dict[str, dict[str, Any]]:
    """mp4, Ogg (Opus) and CMAF outputs of one short clip, made by tasks on the server."""
    make_video(media_dir / "browser.mp4", width=320, height=180, seconds=CLIP_SECONDS, audio=True)
    url = f"{http_base}/browser.mp4"
    made: dict[str, dict[str, Any]] = {}
    with strobe.client() as client:
        ids = {
            fmt: client.post("/tasks", json={"url": url, "format": fmt}).json()["data"]["id"]
            for fmt in ("mp4", "ogg", "cmaf")
        }
        for fmt, task_id in ids.items():
            done, _ = wait_done(client, task_id)
            assert done["status"] == "ready", done["error"]
            made[fmt] = done["output"]
    return made


@pytest.fixture
def page(browser: Any, page_origin: str) -> Iterator[Any]:
    context = browser.new_context()
    opened = context.new_page()
    opened.goto(f"{page_origin}/index.html")
    try:
        yield opened
    finally:
        context.close()


SEEK_AND_PLAY = """async (url) => {
  const v = document.createElement('video');
  v.muted = true; v.width = 320; v.src = url; document.body.append(v);
  await new Promise((ok, bad) => {
    v.onloadedmetadata = ok; v.onerror = () => bad(v.error.message);
  });
  const duration = v.duration;
  const seekableEnd = v.seekable.length ? v.seekable.end(v.seekable.length - 1) : 0;
  const target = duration - 1.0;
  v.currentTime = target;
  await new Promise((ok) => { v.onseeked = ok; });
  const landed = v.currentTime;
  await v.play();
  const deadline = performance.now() + 10000;
  while (v.currentTime < landed + 0.3 && !v.ended && performance.now() < deadline) {
    await new Promise((ok) => setTimeout(ok, 50));
  }
  v.pause();
  return {duration, seekableEnd, target, landed, after: v.currentTime};
}"""


def test_an_mp4_output_seeks_near_its_end_and_plays_from_there(
    page: Any, outputs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    state = page.evaluate(SEEK_AND_PLAY, outputs["mp4"]["url"])
    page.screenshot(path=str(tmp_path / "mp4-seeked.png"))
    assert state["duration"] == pytest.approx(CLIP_SECONDS, abs=0.2), state
    assert state["seekableEnd"] == pytest.approx(state["duration"], abs=0.1), state
    assert state["landed"] == pytest.approx(state["target"], abs=0.1), state
    assert state["after"] > state["landed"] + 0.2, state


LOAD_AUDIO = """async (url) => {
  const a = document.createElement('audio');
  a.controls = true; a.src = url; document.body.append(a);
  await new Promise((ok, bad) => {
    a.onloadedmetadata = ok; a.onerror = () => bad(a.error.message);
  });
  if (!Number.isFinite(a.duration)) {
    await new Promise((ok) => { a.ondurationchange = ok; setTimeout(ok, 3000); });
  }
  return {duration: a.duration, finite: Number.isFinite(a.duration)};
}"""


def test_an_ogg_output_reports_its_real_duration(
    page: Any, outputs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    ogg = outputs["ogg"]
    assert ogg["mimetype"] == "audio/ogg"
    state = page.evaluate(LOAD_AUDIO, ogg["url"])
    page.screenshot(path=str(tmp_path / "ogg-loaded.png"))
    assert state["finite"], state
    assert state["duration"] == pytest.approx(CLIP_SECONDS, abs=0.15), state


PLAY_HLS = """(url) => new Promise((done) => {
  const v = document.createElement('video');
  v.muted = true; v.width = 320; document.body.append(v);
  const hls = new Hls();
  hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) done({error: data.details}); });
  hls.on(Hls.Events.MANIFEST_PARSED, () => v.play());
  v.addEventListener('timeupdate', () => {
    if (v.currentTime > 1.0) done({time: v.currentTime, levels: hls.levels.length});
  });
  hls.loadSource(url);
  hls.attachMedia(v);
  setTimeout(() => done({error: 'nothing played in 20 s'}), 20000);
})"""


def test_a_web_app_on_a_configured_origin_plays_the_hls_output(
    page: Any, outputs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    state = page.evaluate(PLAY_HLS, outputs["cmaf"]["url"])
    page.screenshot(path=str(tmp_path / "hls-playing.png"))
    assert "error" not in state, state
    assert state["time"] > 1.0 and state["levels"] == len(outputs["cmaf"]["renditions"])


def test_without_the_origin_configured_the_web_app_is_refused(
    page: Any, strobe: Server, outputs: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    # The same data served by an app that has no STROBE_CORS_ORIGINS.
    data_dir = Path(strobe.log).parent
    env = {"STROBE_DATA_DIR": str(data_dir), "STROBE_API_KEYS": KEYS}
    settings = Settings.from_env(env).with_generated_secrets()
    assert settings.cors_origins == ()
    app = create_app(
        settings, open_store(settings.database_url), open_storage(settings.storage_url)
    )
    with serve_app(app) as plain:
        url = f"{plain}/{outputs['cmaf']['url'].split('/', 3)[3]}"
        assert httpx.get(url).status_code == 200  # served: only the browser refuses it
        state = page.evaluate(PLAY_HLS, url)
        page.screenshot(path=str(tmp_path / "hls-refused.png"))
        fetched = page.evaluate("(u) => fetch(u).then(() => 'read', (e) => e.name)", url)
    assert state.get("error") == "manifestLoadError", state
    assert fetched == "TypeError"  # the browser withholds the response from the page
