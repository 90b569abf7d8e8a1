"""Mixed workload through `strobe serve` on 2 CPUs: tasks per minute against the ideal.

The mix: one task of each spec in `MIX` (every kind; `video` as mp4, webm and cmaf) on two
small generated inputs (a captioned 3-scene video of real photos with espeak-ng speech, and
a photo), repeated `--repeat` times and posted all at once to a fresh `strobe serve`
(SQLite, local storage, embedded Ray with STROBE_RAY_NUM_CPUS=2). Models: a tiny Whisper
and SSDLite320 with random weights (tests/support/models.py), RapidOCR, NudeNet, the
OpenCV face cascade: the real load and inference paths.

* measured  tasks / (first POST -> last task ended), in tasks per minute.
* ideal     the same tasks run alone in this process first, one at a time, through
            `pipeline.executor.execute` with the operator set up once beforehand (and one
            untimed warm-up task per spec), same inputs, same options:
                ideal wall = sum over tasks of t_alone / CPUS,   ideal rate = tasks / ideal wall
            where t_alone is the task's spec's mean of `--alone-runs` timed runs alone;
            ratio = measured rate / ideal rate = ideal wall / measured wall (goal >= 0.9).
            A task alone may use both cores (x264 frame threads, torch), so the CPU-time
            ideal, sum(cpu_alone) / CPUS, is printed beside it.
* the gap   actor starts (from /metrics `strobe_actor_starts` and the worker's "starting
            actor" log lines; per 100 tasks), the CPU seconds the server's process tree
            used against the tasks' own, the machine's busy share, the longest stretch
            with no task ending, and per kind the server-side task time (first seen
            `processing` -> ended, polled every 0.25 s) against the same tasks alone.

    .venv/bin/python -m benchmarks.mixed [--repeat 6 --alone-runs 2 --max-load 3 --log FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np

from benchmarks.speech import speech_track
from benchmarks.vision import make_video
from operators.registry import load_operator
from pipeline.config import Settings
from pipeline.executor import Job, execute
from pipeline.media.pcm import decode_pcm
from pipeline.storage import open_storage
from tests.support.models import write_models
from tests.support.processes import Processes
from tests.support.tasks import ENDED, fetch_all, metric, outcome, parse_time
from tests.support.vision import photo

CPUS = 2
KEY, PROJECT = "sk_bench", "prj_bench"
CLIP_S = 6.0
# (name, input, body): the body is posted as is (plus file_id), and its options (all but
# `kind`) are what the in-process run passes, so both sides run the same task.
MIX: list[tuple[str, str, dict[str, Any]]] = [
    ("image", "photo", {"kind": "image", "format": "webp", "width": 256}),
    ("video-mp4", "clip", {"kind": "video", "format": "mp4"}),
    ("video-webm", "clip", {"kind": "video", "format": "webm", "width": 320}),
    ("video-cmaf", "clip", {"kind": "video", "format": "cmaf"}),
    ("audio", "clip", {"kind": "audio", "format": "mp3"}),
    ("thumbnails", "clip", {"kind": "thumbnails", "format": "json", "count": 6, "width": 160}),
    ("objects", "clip", {"kind": "objects", "format": "json", "fps": 1}),
    ("faces", "clip", {"kind": "faces", "format": "json", "fps": 1}),
    ("text", "clip", {"kind": "text", "format": "json", "fps": 1}),
    ("nsfw", "clip", {"kind": "nsfw", "format": "json", "fps": 1}),
    ("speech", "clip", {"kind": "speech", "format": "json"}),
    ("subtitles", "clip", {"kind": "subtitles", "format": "vtt"}),
    ("chapters", "clip", {"kind": "chapters", "format": "json"}),
    ("outline", "clip", {"kind": "outline", "format": "json"}),
]
POLL_S = 0.25
RUN_BOUND_S = 900.0  # a run that has not ended by then is reported as stranded
LOAD_WAIT_S, LOAD_TRIES = 60.0, 4


def options_of(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != "kind"}


# --- inputs --------------------------------------------------------------------------------


def make_inputs(folder: Path) -> dict[str, Path]:
    """A 6 s 640x360 10 fps video (three photos, one captioned) with espeak-ng speech as
    AAC, and a 512x512 photo."""
    silent = make_video(folder / "silent.mp4", CLIP_S)
    voice = speech_track(folder / "voice.wav", CLIP_S, 0.6, folder)
    clip = mux_audio(silent, voice, folder / "clip.mp4")
    return {"clip": clip, "photo": photo("astronaut", folder / "photo.png")}


def mux_audio(video: Path, wav: Path, out: Path) -> Path:
    """`video`'s stream copied, `wav`'s samples encoded as AAC beside it."""
    samples = decode_pcm(wav, rate=48000)
    with av.open(str(video)) as source, av.open(str(out), "w") as container:
        stream = container.add_stream_from_template(source.streams.video[0])
        audio = container.add_stream("aac", rate=48000)
        assert isinstance(audio, av.AudioStream)
        audio.layout = "mono"
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                container.mux(packet)
        for start in range(0, len(samples), 1024):
            block = samples[start : start + 1024][None, :].astype(np.float32)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode())
    return out


# --- the ideal: each task alone, in process ------------------------------------------------


def run_alone(
    inputs: dict[str, Path], runs: int, work: Path
) -> tuple[dict[str, list[tuple[float, float]]], dict[str, float]]:
    """Per spec, (wall s, CPU s) of each of `runs` runs; and each spec's setup() seconds.
    STROBE_MODELS_DIR must be set."""
    settings = Settings(
        data_dir=work, database_url="sqlite:///unused", storage_url=f"file://{work / 'objects'}"
    )
    storage = open_storage(settings.storage_url)
    keys = {}
    for name, path in inputs.items():
        keys[name] = f"{PROJECT}/inputs/{path.name}"
        storage.put_file(keys[name], path, "application/octet-stream")
    operators, setup_s = {}, {}
    for name, _, body in MIX:
        began = time.perf_counter()
        operator = load_operator(body["kind"])()
        operator.setup()
        operators[name], setup_s[name] = operator, time.perf_counter() - began
    times: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for round_ in range(-1, runs):  # round -1: the untimed warm-up
        for name, source, body in MIX:
            job = Job(
                f"tsk_{name}_{round_ + 1}",
                PROJECT,
                body["kind"],
                options_of(body),
                input_key=keys[source],
            )
            wall, cpu = time.perf_counter(), time.process_time()
            result = execute(job, operators[name], storage, settings)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if not result.ok:
                raise RuntimeError(f"{name} failed alone: {result.error}")
            if round_ >= 0:
                times[name].append((wall, cpu))
    return times, setup_s


# --- the measured run: everything at once through strobe serve -----------------------------


class TreeCpu:
    """CPU seconds used by a process and all its descendants (Ray's raylet, GCS and actor
    workers included), sampled: a process killed between samples loses its last interval."""

    def __init__(self, root: int) -> None:
        self.root, self.seen = root, {}  # (pid, start time) -> CPU ticks
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        parents, ticks = {}, {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            ticks[(pid, fields[19])] = int(fields[11]) + int(fields[12])  # utime + stime
        for (pid, started), used in ticks.items():
            ancestor = pid
            while ancestor > 1 and ancestor != self.root:
                ancestor = parents.get(ancestor, 1)
            if ancestor == self.root:
                self.seen[(pid, started)] = max(used, self.seen.get((pid, started), 0))

    def seconds(self) -> float:
        return sum(self.seen.values()) / self.tick


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def run_served(inputs: dict[str, Path], repeat: int, models: Path, work: Path) -> dict[str, Any]:
    env = {
        "STROBE_API_KEYS": f"{KEY}:{PROJECT}",
        "STROBE_MODELS_DIR": str(models),
        "STROBE_RAY_NUM_CPUS": str(CPUS),
        # Ray's own override too, so the node has 2 CPUs on a bigger machine (as the tests do).
        "RAY_OVERRIDE_RESOURCES": json.dumps({"CPU": CPUS}),
    }
    processes = Processes(work, env)
    try:
        url = processes.start_api("serve", "serve", "--data-dir", str(work / "data"))
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
            file_ids = {name: upload(client, path) for name, path in inputs.items()}
            deadline = time.monotonic() + 120
            while not metric(client.get("/metrics").text, "strobe_workers"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker never reported:\n" + processes.log("serve"))
                time.sleep(0.5)
            tree = TreeCpu(processes.running["serve"].pid)
            tree.sample()
            cpu_before, busy_before = tree.seconds(), machine_busy()
            sampling = threading.Event()
            threading.Thread(target=_sample_until, args=(tree, sampling), daemon=True).start()
            posted_at = time.time()
            spec_of = {}
            for _ in range(repeat):
                for name, source, body in MIX:
                    reply = client.post("/tasks", json={"file_id": file_ids[source], **body})
                    assert reply.status_code == 201, reply.text
                    spec_of[reply.json()["data"]["id"]] = name
            posted_s = time.time() - posted_at
            tasks, seen_running = _watch(client, list(spec_of), processes)
            sampling.set()
            tree.sample()
            busy_after = machine_busy()
            metrics = client.get("/metrics").text
        log = processes.log("serve")
    finally:
        processes.close()
    ended = {task_id: parse_time(task["updated"]) for task_id, task in tasks.items()}
    busy = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
    return {
        "posted_at": posted_at,
        "posted_s": posted_s,
        "wall": max(ended.values()) - posted_at,
        "spec_of": spec_of,
        "tasks": tasks,
        "ended": ended,
        "seen_running": seen_running,
        "actor_starts": metric(metrics, "strobe_actor_starts"),
        "timed_out": metric(metrics, "strobe_tasks_timed_out"),
        "server_cpu": tree.seconds() - cpu_before,
        "machine_busy": busy,
        "log": log,
    }


def upload(client: httpx.Client, path: Path) -> str:
    reply = client.post(f"/files?filename={path.name}", content=path.read_bytes())
    assert reply.status_code == 201, reply.text
    return str(reply.json()["data"]["id"])


def _sample_until(tree: TreeCpu, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        tree.sample()


def _watch(
    client: httpx.Client, ids: list[str], processes: Processes
) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Poll until every task ended; note when each was first seen processing (its `updated`
    then: the lease, or a progress write up to a second after it)."""
    deadline = time.monotonic() + RUN_BOUND_S
    seen_running: dict[str, float] = {}
    while True:
        tasks = fetch_all(client, ids)
        for task_id, task in tasks.items():
            if task["status"] == "processing":
                seen_running.setdefault(task_id, parse_time(task["updated"]))
        if all(task["status"] in ENDED for task in tasks.values()):
            return tasks, seen_running
        if time.monotonic() > deadline:
            left = Counter(t["kind"] for t in tasks.values() if t["status"] not in ENDED)
            raise RuntimeError(
                f"tasks still open after {RUN_BOUND_S:g} s: {dict(left)}\n"
                + "\n".join(processes.log("serve").splitlines()[-60:])
            )
        time.sleep(POLL_S)


# --- the report -----------------------------------------------------------------------------

START_LINE = re.compile(r"^(\S+ \S+) INFO \S+ starting actor (\d+) for (\w+)", re.M)
RETIRE_LINE = re.compile(r"(retiring an idle|draining a) (\w+) actor", re.M)


def wait_quiet(max_load: float) -> float:
    """Wait (a minute at a time, a few times at most) for the 1-minute load average to drop
    under `max_load`; returns the load average the run starts at."""
    for _ in range(LOAD_TRIES):
        load = os.getloadavg()[0]
        if load <= max_load:
            return load
        print(f"load average {load:.2f} > {max_load:g}: waiting {LOAD_WAIT_S:g} s", flush=True)
        time.sleep(LOAD_WAIT_S)
    return os.getloadavg()[0]


def report(
    alone: dict[str, list[tuple[float, float]]], setup_s: dict[str, float], served: dict[str, Any]
) -> None:
    n = len(served["spec_of"])
    copies = Counter(served["spec_of"].values())  # tasks of each spec in the served run
    wall_alone = sum(copies[name] * statistics.mean(w for w, _ in alone[name]) for name in copies)
    cpu_alone = sum(copies[name] * statistics.mean(c for _, c in alone[name]) for name in copies)
    ideal, ideal_cpu, wall = wall_alone / CPUS, cpu_alone / CPUS, served["wall"]
    outcomes = Counter(outcome(task) for task in served["tasks"].values())
    starts = served["actor_starts"]
    logged = START_LINE.findall(served["log"])
    print(
        f"\n{n} tasks ({len(MIX)} specs x {n // len(MIX)}), outcomes {dict(outcomes)}, "
        f"timed out {served['timed_out']:g}"
    )
    print(
        f"measured: {wall:.1f} s from first POST to last end = {60 * n / wall:.1f} tasks/min "
        f"(posting took {served['posted_s']:.1f} s)"
    )
    print(
        f"ideal = sum over tasks of t_alone / {CPUS} CPUs = {wall_alone:.1f} / {CPUS} = "
        f"{ideal:.1f} s = {60 * n / ideal:.1f} tasks/min  (t_alone: a spec's mean of "
        f"{min(len(r) for r in alone.values())} runs alone)"
    )
    print(f"ratio measured/ideal = {ideal / wall:.2f}  (goal >= 0.9)")
    print(
        f"CPU-time ideal = sum(cpu_alone) / {CPUS} = {cpu_alone:.1f} / {CPUS} = "
        f"{ideal_cpu:.1f} s -> ratio {ideal_cpu / wall:.2f}"
    )
    print(
        f"actor starts: {starts:g} (/metrics), {len(logged)} logged = "
        f"{100 * (starts or len(logged)) / n:.1f} per 100 tasks; "
        f"{len(RETIRE_LINE.findall(served['log']))} retired or drained"
    )
    print(
        f"server process tree CPU: {served['server_cpu']:.1f} s "
        f"(tasks alone: {cpu_alone:.1f} s) over {CPUS} x {wall:.1f} = {CPUS * wall:.1f} "
        f"CPU-s; machine busy {100 * served['machine_busy']:.0f} % "
        "(all processes, other jobs included)"
    )
    edges = [served["posted_at"], *sorted(served["ended"].values())]
    gap, at = max((b - a, a - edges[0]) for a, b in zip(edges, edges[1:], strict=False))
    print(f"longest stretch with no task ending: {gap:.1f} s (from t={at:.1f} s)")
    print(
        "\nper spec: setup() alone s | task alone s (mean) | on the server s (mean, median, "
        "max; lease -> end, of the tasks seen processing) | first and last end (s after the "
        "first POST)"
    )
    runs: dict[str, list[float]] = defaultdict(list)
    for task_id, name in served["spec_of"].items():
        if task_id in served["seen_running"]:
            runs[name].append(served["ended"][task_id] - served["seen_running"][task_id])
    ends: dict[str, list[float]] = defaultdict(list)
    for task_id, name in served["spec_of"].items():
        ends[name].append(served["ended"][task_id] - served["posted_at"])
    for name, _, _ in MIX:
        mean_alone = statistics.mean(w for w, _ in alone[name])
        times = runs[name] or [float("nan")]
        print(
            f"  {name:11} {setup_s[name]:6.2f} | {mean_alone:6.2f} | "
            f"{statistics.mean(times):6.2f} {statistics.median(times):6.2f} "
            f"{max(times):6.2f} ({len(runs[name])} of {copies[name]}) | "
            f"{min(ends[name]):5.0f} {max(ends[name]):5.0f}"
        )
    retired = Counter(kind for how, kind in RETIRE_LINE.findall(served["log"]) if "idle" in how)
    drained = Counter(kind for how, kind in RETIRE_LINE.findall(served["log"]) if "drain" in how)
    starts_at: dict[str, list[float]] = defaultdict(list)
    for stamp, _, kind in logged:
        t = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        starts_at[kind].append(t - served["posted_at"])
    print(
        "\nper kind: actors started, retired idle, drained | when started (s after the first POST)"
    )
    for kind in dict.fromkeys(body["kind"] for _, _, body in MIX):
        when = ", ".join(f"{t:.0f}" for t in starts_at[kind])
        print(f"  {kind:10} {len(starts_at[kind]):3} {retired[kind]:3} {drained[kind]:3} | {when}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=6, help="copies of the mix posted")
    parser.add_argument(
        "--alone-runs", type=int, default=2, help="timed runs of each spec alone (its mean counts)"
    )
    parser.add_argument("--max-load", type=float, default=3.0)
    parser.add_argument("--log", type=Path, help="keep a copy of the server's log here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strobe-mixed-") as tmp:
        work = Path(tmp)
        inputs = make_inputs(work)
        models = write_models(work / "models")
        os.environ["STROBE_MODELS_DIR"] = str(models)
        print(
            f"{len(MIX)} specs x {args.repeat} = {len(MIX) * args.repeat} tasks; "
            f"{CLIP_S:g} s 640x360 clip with speech, 512x512 photo"
        )
        print(f"load average before the tasks alone: {wait_quiet(args.max_load):.2f}", flush=True)
        alone, setup_s = run_alone(inputs, args.alone_runs, work / "alone")
        print(f"load average before the served run: {wait_quiet(args.max_load):.2f}", flush=True)
        (work / "served").mkdir()
        served = run_served(inputs, args.repeat, models, work / "served")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        if args.log:
            args.log.write_text(served["log"])
        report(alone, setup_s, served)


if __name__ == "__main__":
    main()
