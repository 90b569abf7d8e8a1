"""Strobe's video operator (and a task through the API) against the ffmpeg CLI.

Makes synthetic clips with the ffmpeg CLI (`testsrc2` + a sine tone, H.264/AAC), then
transcodes each with identical settings both ways, in the same run:

* mp4: libx264 `veryfast` CRF 22 (Strobe's default quality 70), AAC 128 kbit/s, faststart;
  at the input size and scaled to 640 px wide.
* cmaf ladder: Strobe decodes once and encodes every rendition; the baseline runs ffmpeg
  once per rendition (plus once for the audio), the same sizes, bitrates and 4 s GOPs.
* e2e: the mp4 case as a task through `strobe serve` (URL input over loopback HTTP),
  timed from POST /tasks until GET shows `ready`.

Prints seconds, throughput (input seconds per wall second) and the Strobe/ffmpeg ratios of
throughput and output size. The ffmpeg CLI is the baseline only; the product never runs it.

    .venv/bin/python -m benchmarks.transcode [--seconds 10] [--sizes 1280x720,1920x1080]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from operators.options import VideoOptions
from operators.video import VideoOperator, renditions
from pipeline.media.file import MediaFile

FPS = 30
CRF = 22  # what Strobe's default quality (70) maps to for libx264
KEY = "sk_bench"


def make_clip(path: Path, width: int, height: int, seconds: float) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size={width}x{height}:rate={FPS}:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def strobe_mp4(source: Path, work: Path, options: dict[str, Any]) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    artifact = VideoOperator().process(
        MediaFile(source, workdir=work), {"format": "mp4", **options}
    )
    assert artifact.path is not None
    return artifact.path


def ffmpeg_mp4(source: Path, out: Path, width: int | None) -> Path:
    scale = ["-vf", f"scale={width}:-2"] if width else []
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), *scale,
         "-c:v", "libx264", "-preset", "veryfast", "-crf", str(CRF), "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(out)],
        check=True,
    )  # fmt: skip
    return out


# The other codecs and the audio formats, at Strobe's defaults (quality 70 / the default
# bitrates) and the same encoder settings on the CLI: name -> (Strobe options, ffmpeg args).
OTHER_CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "webm vp9": (
        {"format": "webm"},
        ["-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "5", "-row-mt", "1",
         "-crf", "27", "-b:v", "0", "-pix_fmt", "yuv420p", "-c:a", "libopus", "-b:a", "96k"],
    ),
    "mp4 hevc": (
        {"format": "mp4", "codec": "hevc"},
        ["-c:v", "libx265", "-preset", "veryfast", "-crf", "27", "-tag:v", "hvc1",
         "-x265-params", "log-level=error", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"],
    ),
    "av1 svt": (
        {"format": "av1"},
        ["-c:v", "libsvtav1", "-preset", "10", "-crf", "30", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"],
    ),
    "audio mp3": ({"format": "mp3"}, ["-vn", "-c:a", "libmp3lame", "-b:a", "192k"]),
    "audio ogg": ({"format": "ogg"}, ["-vn", "-c:a", "libopus", "-b:a", "128k"]),
}  # fmt: skip
OUTPUT_EXTENSIONS = {"webm": "webm", "mp4": "mp4", "av1": "mp4", "mp3": "mp3", "ogg": "ogg"}


def strobe_other(source: Path, work: Path, options: dict[str, Any]) -> int:
    from operators.audio import AudioOperator

    shutil.rmtree(work, ignore_errors=True)
    operator = AudioOperator() if options["format"] in ("mp3", "ogg") else VideoOperator()
    artifact = operator.process(MediaFile(source, workdir=work), options)
    assert artifact.path is not None
    return artifact.path.stat().st_size


def ffmpeg_other(source: Path, out: Path, args: list[str]) -> int:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), *args, str(out)], check=True)
    return out.stat().st_size


def strobe_cmaf(source: Path, work: Path) -> int:
    shutil.rmtree(work, ignore_errors=True)
    artifact = VideoOperator().process(MediaFile(source, workdir=work), {"format": "cmaf"})
    return sum(a.path.stat().st_size for a in artifact.assets if a.path and a.name != "master.m3u8")


def ffmpeg_cmaf(source: Path, out: Path) -> int:
    """One ffmpeg run per rendition and one for the audio, as a per-rendition pipeline does."""
    shutil.rmtree(out, ignore_errors=True)
    info = MediaFile(source).info
    gop = str(4 * FPS)
    for index, r in enumerate(renditions(info, VideoOptions(format="cmaf"), FPS)):
        folder = out / f"r{index}"
        folder.mkdir(parents=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-an",
             "-vf", f"scale={r.width}:{r.height}", "-c:v", "libx264", "-preset", "veryfast",
             "-b:v", str(r.bitrate), "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
             "-pix_fmt", "yuv420p", "-f", "dash", "-seg_duration", "4",
             str(folder / "manifest.mpd")],
            check=True,
        )  # fmt: skip
    (out / "audio").mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-vn", "-c:a", "aac", "-b:a", "128k",
         "-f", "dash", "-seg_duration", "4", str(out / "audio" / "manifest.mpd")],
        check=True,
    )  # fmt: skip
    return sum(p.stat().st_size for p in out.rglob("*.m4s"))


def end_to_end(sources: list[Path], root: Path) -> dict[Path, float]:
    """Seconds from POST /tasks to `ready` for an mp4 task per source, on a warm server."""
    from tests.support.http import serve_directory
    from tests.support.processes import Processes

    data_dir = root / "server"
    data_dir.mkdir()
    processes = Processes(data_dir, {"STROBE_API_KEYS": f"{KEY}:prj_bench",
                                     "STROBE_ALLOW_PRIVATE_URLS": "1"})  # fmt: skip
    results = {}
    try:
        url = processes.start_api("serve", "serve", "--data-dir", str(data_dir))
        headers = {"Authorization": f"Bearer {KEY}"}
        with (
            serve_directory(root) as base,
            httpx.Client(base_url=url, headers=headers, timeout=30) as client,
        ):
            run_task(client, f"{base}/{sources[0].name}", {"end": 0.5})  # warm the actor
            for source in sources:
                results[source] = run_task(client, f"{base}/{source.name}", {})
    finally:
        processes.close()
    return results


def run_task(client: httpx.Client, url: str, options: dict[str, Any]) -> float:
    started = time.perf_counter()
    body = {"url": url, "format": "mp4", **options}
    task_id = client.post("/tasks", json=body).json()["data"]["id"]
    while True:
        task = client.get(f"/tasks/{task_id}").json()["data"]
        if task["status"] == "ready":
            return time.perf_counter() - started
        if task["status"] == "error":
            raise RuntimeError(f"task {task_id} failed: {task['error']}")
        time.sleep(0.02)


def row(
    name: str, seconds: float, strobe_s: float, ffmpeg_s: float, sizes: tuple[int, int] | None
) -> None:
    ratio = ffmpeg_s / strobe_s  # throughput ratio = inverse time ratio
    size = f"{sizes[0] / sizes[1]:4.2f}" if sizes else "   -"
    print(
        f"{name:<28} strobe {strobe_s:6.2f} s ({seconds / strobe_s:5.2f}x)  "
        f"ffmpeg {ffmpeg_s:6.2f} s ({seconds / ffmpeg_s:5.2f}x)  "
        f"throughput ratio {ratio:4.2f}  size ratio {size}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--no-e2e", action="store_true")
    parser.add_argument(
        "--codecs", action="store_true", help="also VP9, HEVC, AV1, MP3 and Opus (first size)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strobe-bench-") as tmp:
        root = Path(tmp)
        sources = []
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            sources.append(make_clip(root / f"clip{height}.mp4", width, height, args.seconds))
        ffmpeg_times: dict[Path, float] = {}
        for source in sources:
            label = source.stem.removeprefix("clip") + "p"
            for width in (None, 640):
                options = {"width": width} if width else {}
                out = root / "strobe"
                s = timed(lambda: strobe_mp4(source, out, options))  # noqa: B023
                strobe_size = (out / "encoded" / "output.mp4").stat().st_size
                f = timed(lambda: ffmpeg_mp4(source, root / "ff.mp4", width))  # noqa: B023
                ffmpeg_size = (root / "ff.mp4").stat().st_size
                if width is None:
                    ffmpeg_times[source] = f
                name = f"mp4 {label}" + (f" -> {width}w" if width else "")
                row(name, args.seconds, s, f, (strobe_size, ffmpeg_size))
            strobe_bytes = 0

            def run_strobe() -> None:
                nonlocal strobe_bytes
                strobe_bytes = strobe_cmaf(source, root / "cmaf")  # noqa: B023

            ffmpeg_bytes = 0

            def run_ffmpeg() -> None:
                nonlocal ffmpeg_bytes
                ffmpeg_bytes = ffmpeg_cmaf(source, root / "ffcmaf")  # noqa: B023

            s, f = timed(run_strobe), timed(run_ffmpeg)
            row(f"cmaf ladder {label}", args.seconds, s, f, (strobe_bytes, ffmpeg_bytes))
        for name, (options, ffmpeg_args) in OTHER_CASES.items() if args.codecs else ():
            source = sources[0]
            out = root / f"ff.{OUTPUT_EXTENSIONS[options['format']]}"
            sizes = [0, 0]

            def run_strobe_other() -> None:
                sizes[0] = strobe_other(source, root / "other", options)  # noqa: B023

            def run_ffmpeg_other() -> None:
                sizes[1] = ffmpeg_other(source, out, ffmpeg_args)  # noqa: B023

            s, f = timed(run_strobe_other), timed(run_ffmpeg_other)
            label = source.stem.removeprefix("clip") + "p"
            row(f"{name} {label}", args.seconds, s, f, (sizes[0], sizes[1]))
        if not args.no_e2e:
            for source, seconds in end_to_end(sources, root).items():
                label = source.stem.removeprefix("clip") + "p"
                row(f"e2e mp4 {label} (API)", args.seconds, seconds, ffmpeg_times[source], None)


if __name__ == "__main__":
    main()
