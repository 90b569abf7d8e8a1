"""Capacity model: the cluster that processes 40,000 hours of media a day, and its first limit.

A calculation, not a run. Every input is in `INPUTS` with where it comes from: `measured`
(benchmarks/RESULTS.md, on a 2-core machine) or `assumed` (a published figure for hardware
not available here, named; or a plain estimate, said so).

The mix: every hour of media (720p30 H.264 with sound) gets an `mp4` transcode at the same
size (H.264 + AAC), `thumbnails` (10, 160 px) and `speech` (Whisper `small` on CPU nodes,
`turbo` on GPU nodes, Strobe's defaults). Node types: 16-vCPU CPU nodes; L4-class nodes
(1 L4: 2 NVENC, 4 NVDEC, + 16 vCPU); H100-class nodes (1 H100: no NVENC, 7 NVDEC, + 26
vCPU; transcodes decode on NVDEC and encode with x264 on the CPU).

1. Sizing: resource-seconds per media second for each kind on each node type, the resource
   that binds, media hours per node-hour, nodes needed at `--utilisation`.
2. Limits, for inputs of `--lengths` seconds (the task rate depends on how long inputs
   are, the running-task count does not): tasks/s, running tasks, the dispatcher's serial
   work, PostgreSQL write transactions and connections, object-store requests and bytes,
   Ray node and actor counts, each as a share of its ceiling; the largest share is the first
   limit, hit at 40,000 h/day divided by that share.

    .venv/bin/python -m benchmarks.capacity [--hours-per-day 40000 --utilisation 0.75]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Input:
    value: float
    unit: str
    source: str


MEASURED_TRANSCODE = (
    "measured: RESULTS.md, Transcode, after the encoder-threads fix, row 'e2e mp4 720p (API)'"
)
MEASURED_SCALE = "measured: RESULTS.md, Scaling (dispatcher per-task work, medians of 1,000)"
INPUTS: dict[str, Input] = {
    # --- CPU work, measured on this machine (2 cores) ---------------------------------------
    "transcode_x_rt_2core": Input(
        4.83, "x realtime, 720p30 -> 720p mp4, 2 cores", MEASURED_TRANSCODE
    ),
    "decode_fps_2core": Input(
        551,
        "fps, 720p H.264 decode, 2 cores",
        "measured: RESULTS.md, Frame decoding (245 fps at 1080p, every frame to RGB), "
        "scaled by the pixel count (x2.25)",
    ),
    # --- GPU and model rates: not measured here (no GPU, no real Whisper weights) ----------
    "whisper_small_cpu": Input(
        6.5,
        "core-s per audio s, Whisper small on CPU",
        "assumed: faster-whisper README benchmark, openai/whisper small fp32 beam 5, 13 min "
        "of audio in 10m31s with 8 threads (Xeon Gold 6226R); Strobe decodes greedily, so "
        "likely an upper bound",
    ),
    "whisper_turbo_l4": Input(
        20,
        "x realtime per GPU, Whisper turbo fp16 on an L4",
        "assumed: faster-whisper benchmark table (large-v3 on GPU), openai/whisper turbo fp16 "
        "beam 5, 13 min in 39 s on an RTX 2080 Ti, taken as equal to an L4",
    ),
    "whisper_turbo_h100": Input(
        60,
        "x realtime per GPU, Whisper turbo fp16 on an H100",
        "assumed: 3x the L4 figure for Strobe's one-call-at-a-time openai-whisper path; "
        "batched Transformers inference measures 404x at batch 32 on one H100 SXM "
        "(inferencebench.io), what cross-task batching could approach",
    ),
    "nvenc_fps": Input(
        560,
        "fps per NVENC engine, H.264 720p, medium preset",
        "assumed: ~250 fps at 1080p per Ada engine, scaled by pixel count; the order of the "
        "per-engine table in NVIDIA's NVENC Application Note (Video Codec SDK 12); check it "
        "for the preset used",
    ),
    "nvdec_fps": Input(
        1000,
        "fps per NVDEC engine, H.264 720p",
        "assumed: the order of NVIDIA's NVDEC Application Note table; not measured here",
    ),
    "gpu_frame_cpu_ms": Input(
        0.5, "core-ms per 720p frame copied from the GPU", "assumed: a 1.4 MB nv12 frame at ~3 GB/s"
    ),
    "nvenc_path_cpu_ms": Input(
        2.0,
        "core-ms per frame left on the CPU when NVDEC and NVENC do the codec work",
        "assumed: copies both ways, the filter graph, AAC, muxing",
    ),
    "speech_gpu_node_cpu": Input(
        0.05,
        "core-s per audio s beside a GPU Whisper",
        "assumed: audio decode (~1.3 s per hour, measured: RESULTS.md, Speech) + Silero VAD on CPU",
    ),
    # --- the runtime and the store, measured ------------------------------------------------
    "dispatch_ms": Input(
        2.86, "ms of dispatcher work per task (lease, get_file, complete, Ray call)", MEASURED_SCALE
    ),
    "actor_call_ms": Input(
        0.74, "ms per Ray actor call (the once-a-second status poll per busy actor)", MEASURED_SCALE
    ),
    "write_ms": Input(
        0.78, "ms per single-row write from the dispatcher (as `complete`)", MEASURED_SCALE
    ),
    "pg_tx_2core": Input(
        2000,
        "write transactions/s, PostgreSQL 15 durable, 2 cores",
        "measured: RESULTS.md, Queue throughput (strobe-postgres 1,878-2,016 tasks/s, "
        "~1.1 commits per task)",
    ),
    "pg_tx": Input(
        10000,
        "write transactions/s, dedicated 16-core PostgreSQL",
        "assumed: 5x the 2-core measurement, the low end of RESULTS.md's Scaling estimate",
    ),
    "pg_max_connections": Input(
        97,
        "connections (PostgreSQL default 100 less 3 reserved)",
        "PostgreSQL defaults (max_connections, superuser_reserved_connections)",
    ),
    "pool_per_process": Input(
        8, "connections per strobe worker or API process", "README.md, Runtime"
    ),
    "api_processes": Input(2, "strobe api processes", "assumed: two replicas"),
    "s3_put": Input(
        3500, "PUT/s per prefix", "AWS S3 performance guidelines (per partitioned prefix)"
    ),
    "s3_get": Input(
        5500, "GET/s per prefix", "AWS S3 performance guidelines (per partitioned prefix)"
    ),
    "ray_nodes": Input(
        250, "nodes", "Ray scalability envelope (ray release/benchmarks/README.md: 250+)"
    ),
    "ray_actors": Input(
        10000, "actors", "Ray scalability envelope (10k+ actors, 10k+ running tasks)"
    ),
    # --- the media ----------------------------------------------------------------------------
    "input_mbit": Input(5.0, "Mbit/s, 720p30 H.264 input", "assumed"),
    "output_mbit": Input(3.0, "Mbit/s, mp4 output (CRF 22)", "assumed"),
}
FPS = 30
PART_MIB = 16  # pipeline/storage/s3.py: multipart threshold and part size
THUMBNAIL_OBJECTS = 13  # 10 JPEGs, the sprite, the VTT, the JSON index
PROGRESS_STEPS = 99  # the dispatcher writes progress when the percent grows, at most 99 times
HEARTBEAT_S = 20.0  # lease_s / 3 with the default 60 s lease
DISPATCHER_BUSY = 0.75  # a dispatcher loop kept at most this busy (it also polls and waits)


def v(name: str) -> float:
    return INPUTS[name].value


@dataclass(frozen=True)
class Kind:
    """One kind on one node type: resource-seconds per media second, and actor-seconds per
    media second (how long one task holds its actor, per second of input)."""

    demand: dict[str, float]
    actor_s: float
    gets_per_task: int = 1  # each task downloads the whole input


@dataclass(frozen=True)
class NodeType:
    name: str
    capacity: dict[str, float]  # resource -> units a node has
    kinds: dict[str, Kind] = field(default_factory=dict)


def node_types() -> list[NodeType]:
    transcode_ms = 2000 / (v("transcode_x_rt_2core") * FPS)  # core-ms per frame, all on CPU
    decode_ms = 2000 / v("decode_fps_2core")
    encode_ms = transcode_ms - decode_ms  # what stays on the CPU when NVDEC decodes
    copy_ms = v("gpu_frame_cpu_ms")
    per_frame = FPS / 1000  # core-ms per frame -> core-s per media second
    cpu = NodeType(
        "CPU (16 vCPU)",
        {"cpu": 16},
        {
            "mp4": Kind({"cpu": transcode_ms * per_frame}, transcode_ms * per_frame),
            "thumbnails": Kind({"cpu": decode_ms * per_frame}, decode_ms * per_frame / 0.5),
            "speech": Kind({"cpu": v("whisper_small_cpu")}, v("whisper_small_cpu")),
        },
    )
    nvenc = FPS / v("nvenc_fps")
    nvdec = FPS / v("nvdec_fps")
    l4_cpu = v("nvenc_path_cpu_ms") * per_frame
    l4 = NodeType(
        "L4 (2 NVENC, 4 NVDEC, 16 vCPU)",
        {"cpu": 16, "gpu": 1, "nvenc": 2, "nvdec": 4},
        {
            "mp4": Kind({"cpu": l4_cpu, "nvenc": nvenc, "nvdec": nvdec}, max(l4_cpu, nvenc)),
            "thumbnails": Kind({"cpu": copy_ms * per_frame, "nvdec": nvdec}, nvdec),
            "speech": Kind(
                {"gpu": 1 / v("whisper_turbo_l4"), "cpu": v("speech_gpu_node_cpu")},
                2 / v("whisper_turbo_l4"),  # two speech actors share a GPU (0.5 each)
            ),
        },
    )
    h100_cpu = (encode_ms + copy_ms) * per_frame
    h100 = NodeType(
        "H100 (no NVENC, 7 NVDEC, 26 vCPU)",
        {"cpu": 26, "gpu": 1, "nvdec": 7},
        {
            "mp4": Kind({"cpu": h100_cpu, "nvdec": nvdec}, h100_cpu),
            "thumbnails": Kind({"cpu": copy_ms * per_frame, "nvdec": nvdec}, nvdec),
            "speech": Kind(
                {"gpu": 1 / v("whisper_turbo_h100"), "cpu": v("speech_gpu_node_cpu")},
                2 / v("whisper_turbo_h100"),
            ),
        },
    )
    return [cpu, l4, h100]


@dataclass(frozen=True)
class Sizing:
    node: NodeType
    media_per_node: float  # media seconds per node-second
    busy: dict[str, float]  # each resource's use when the busiest one is full (1.0)
    nodes: int


def size(node: NodeType, media_rate: float, utilisation: float) -> Sizing:
    totals: dict[str, float] = {}
    for kind in node.kinds.values():
        for resource, amount in kind.demand.items():
            totals[resource] = totals.get(resource, 0.0) + amount
    shares = {r: amount / node.capacity[r] for r, amount in totals.items()}
    per_node = 1 / max(shares.values())
    busy = {r: share * per_node for r, share in sorted(shares.items(), key=lambda i: -i[1])}
    return Sizing(node, per_node, busy, math.ceil(media_rate / (per_node * utilisation)))


@dataclass(frozen=True)
class Load:
    """What the queue side carries for one node type and input length."""

    tasks: float  # tasks/s
    running: float  # tasks running at once (Little's law: media rate x actor-s per media-s)
    dispatch: float  # dispatcher work, worker-seconds per second
    progress: float  # progress writes/s
    heartbeats: float  # lease renewals/s
    writes: float  # PostgreSQL write transactions/s
    puts: float
    gets: float
    read_gb: float  # input bytes read from the object store, GB/s


def load(node: NodeType, media_rate: float, length_s: float) -> Load:
    kinds = node.kinds
    inputs = media_rate / length_s
    tasks = inputs * len(kinds)
    running = media_rate * sum(k.actor_s for k in kinds.values())
    progress = inputs * sum(min(PROGRESS_STEPS, length_s * k.actor_s) for k in kinds.values())
    heartbeats = running / HEARTBEAT_S
    dispatch = (
        tasks * v("dispatch_ms")
        + running * v("actor_call_ms")
        + (progress + heartbeats) * v("write_ms")
    ) / 1000
    in_bytes = length_s * v("input_mbit") * 1e6 / 8
    out_bytes = length_s * v("output_mbit") * 1e6 / 8
    return Load(
        tasks=tasks,
        running=running,
        dispatch=dispatch,
        progress=progress,
        heartbeats=heartbeats,
        writes=3 * tasks + progress + heartbeats,  # create, lease, complete + the watch
        puts=inputs * (_parts(out_bytes, upload=True) + THUMBNAIL_OBJECTS + 1),
        gets=tasks * _parts(in_bytes),  # every task downloads the whole input
        read_gb=tasks * in_bytes / 1e9,
    )


def shares(sizing: Sizing, q: Load) -> dict[str, float]:
    """Each limit's share of its ceiling at the full rate (> 1: past it)."""
    api = v("api_processes")
    max_workers = math.floor(v("pg_max_connections") / v("pool_per_process")) - api
    return {
        "dispatcher": q.dispatch / DISPATCHER_BUSY,  # one worker
        "PG connections": q.dispatch / (max_workers * DISPATCHER_BUSY),  # workers they allow
        "PG writes": q.writes / v("pg_tx"),
        "object store": max(q.puts / v("s3_put"), q.gets / v("s3_get")),
        "Ray": max(sizing.nodes / v("ray_nodes"), q.running / v("ray_actors")),
    }


def _parts(size_bytes: float, *, upload: bool = False) -> int:
    """Requests to move one object: one below the multipart threshold, else one per part
    (uploads add the create and complete calls)."""
    parts = math.ceil(size_bytes / (PART_MIB * 2**20))
    return 1 if parts <= 1 else parts + (2 if upload else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours-per-day", type=float, default=40_000)
    parser.add_argument("--utilisation", type=float, default=0.75, help="nodes kept this busy")
    parser.add_argument("--lengths", default="600,60,15", help="mean input lengths (s)")
    args = parser.parse_args()
    hours = args.hours_per_day
    media_rate = hours * 3600 / 86400  # media seconds per second
    print(
        f"{hours:,.0f} h of media a day = {media_rate:,.0f} media-s per second; "
        "each input gets mp4 (720p) + thumbnails + speech\n"
    )
    print(
        "| node type | mp4 | thumbnails | speech | busy when the first is full "
        "| media h per node-hour | nodes |"
    )
    print("| --- | --- | --- | --- | --- | ---: | ---: |")
    sizings = [size(node, media_rate, args.utilisation) for node in node_types()]
    for sizing in sizings:
        kinds = sizing.node.kinds
        cells = " | ".join(_demand(kinds[k].demand) for k in ("mp4", "thumbnails", "speech"))
        print(
            f"| {sizing.node.name} | {cells} | "
            f"{', '.join(f'{r} {b:.0%}' for r, b in sizing.busy.items())} | "
            f"{sizing.media_per_node:.1f} | {sizing.nodes:,} |"
        )
    print(f"\n(resource-seconds per media second; nodes kept {args.utilisation:.0%} busy)\n")
    print(
        "| node type | input | tasks/s | running | dispatcher (1 worker) | PG writes/s "
        "| store PUT/s, GET/s | Ray nodes, actors | limits, h/day at which each is hit |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for sizing in sizings:
        for length in (float(x) for x in args.lengths.split(",")):
            q = load(sizing.node, media_rate, length)
            found = shares(sizing, q)
            order = " > ".join(
                f"{name} {hours / share:,.0f}"
                for name, share in sorted(found.items(), key=lambda item: -item[1])
            )
            print(
                f"| {sizing.node.name} | {length:g} s | {q.tasks:,.0f} | {q.running:,.0f} | "
                f"{q.dispatch:.2f} s/s | {q.writes:,.0f} | {q.puts:,.0f}, {q.gets:,.0f} | "
                f"{sizing.nodes:,}, {q.running:,.0f} | {order} |"
            )
    print(
        f"\ndispatcher: worker-seconds of serial loop work per second (> {DISPATCHER_BUSY:g}: "
        "one worker cannot keep up); PG connections: the workers the dispatch work needs, "
        "8 connections each plus the API's, against max_connections; object store: the "
        "busier of PUT and GET against one S3 prefix; Ray: nodes and busy actors against "
        f"its published tested envelope. Object-store reads: every task downloads the whole "
        "input.\n"
    )
    print("inputs:")
    for name, item in INPUTS.items():
        print(f"  {name} = {item.value:g} {item.unit}  [{item.source}]")


def _demand(demand: dict[str, float]) -> str:
    return ", ".join(f"{r} {amount:.3f}" for r, amount in demand.items())


if __name__ == "__main__":
    main()
