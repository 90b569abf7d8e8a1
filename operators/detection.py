"""What the detection kinds (objects, faces, text, nsfw) share: sampling frames at `fps`,
feeding them to a model in batches, merging per-frame hits into a timeline, and the
intelligence JSON.

A detector is a function from a batch of RGB frames (H x W x 3, uint8) to one list of
`Found` per frame, boxes already normalised to 0-1. Everything model-specific lives in the
operator modules; this one imports no framework.
"""

from __future__ import annotations

import json
import math
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from operators.base import Operator
from operators.batching import Batcher
from operators.options import DetectOptions, parse
from pipeline.contract.errors import (
    INPUT_UNREADABLE,
    OPTION_OUT_OF_RANGE,
    TIMEOUT,
    TaskError,
)
from pipeline.contract.media import Artifact, MediaSource, Progress, Still, no_progress

DEFAULT_BATCH = 8
# One model call across the tasks in flight: at most this many frames and this many bytes of
# RGB pixels. The frame count binds up to 1080p (6 MiB a frame); at 4K (24 MiB) the bytes
# do, at 10 frames, so a call's input stays near 1 GiB even as torch's float32 copy.
MAX_BATCH_FRAMES = 32
MAX_BATCH_BYTES = 256 << 20
# With a partial batch the model thread waits this long for other tasks' frames (only while
# some of the tasks in flight have none waiting): small beside a model call (3-200 ms).
LINGER_S = 0.005
# How long a task waits for its frames' results, a backstop under the runtime's time budget:
# only a hung model gets near it (a call of 32 frames at the slowest measured, OCR at
# 0.2-1 s a frame, is well under a minute).
MODEL_WAIT_S = 300.0
# RGBA inputs are composited over white: dark text on a transparent PNG stays readable.
BACKGROUND = 255.0
DECIMALS_TIME, DECIMALS_BOX, DECIMALS_SCORE = 3, 4, 4


@dataclass(frozen=True)
class DetectConfig:
    """The scan a detection task asks for: its options (`DetectOptions`), with `duration`
    turned into an end."""

    fps: float
    confidence: float
    start: float = 0.0
    end: float | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DetectConfig:
        given = parse(DetectOptions, options)
        start = given.start or 0.0
        end = given.end
        if end is None and given.duration is not None:
            end = start + given.duration
        if end is not None and end <= start:
            raise TaskError(OPTION_OUT_OF_RANGE, f"end {end:g} s is not after start {start:g} s")
        return cls(float(given.fps), float(given.confidence), start, end)


@dataclass(frozen=True)
class Box:
    """Normalised to the frame: 0-1 from the top-left corner."""

    x: float
    y: float
    width: float
    height: float

    @classmethod
    def from_corners(cls, x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> Box:
        """A box from pixel corners in a w x h frame, clipped to the frame."""
        left, top = min(max(x0 / w, 0.0), 1.0), min(max(y0 / h, 0.0), 1.0)
        right, bottom = min(max(x1 / w, 0.0), 1.0), min(max(y1 / h, 0.0), 1.0)
        return cls(left, top, max(right - left, 0.0), max(bottom - top, 0.0))

    def iou(self, other: Box) -> float:
        iw = min(self.x + self.width, other.x + other.width) - max(self.x, other.x)
        ih = min(self.y + self.height, other.y + other.height) - max(self.y, other.y)
        inter = max(iw, 0.0) * max(ih, 0.0)
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0

    def as_json(self) -> dict[str, float]:
        return {k: round(v, DECIMALS_BOX) for k, v in vars(self).items()}


@dataclass(frozen=True)
class Found:
    """One hit in one frame: a label (or the text read), its score and where it is."""

    label: str
    confidence: float
    box: Box


Detector = Callable[[Sequence[np.ndarray]], list[list[Found]]]


def rgb(pixels: np.ndarray) -> np.ndarray:
    """Any decoded picture as contiguous RGB uint8: gray expanded, alpha flattened on white."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    channels = pixels.shape[2]
    if channels == 1:
        return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))
    if channels == 4:
        alpha = pixels[:, :, 3:4].astype(np.float32) / 255.0
        flat = pixels[:, :, :3].astype(np.float32) * alpha + BACKGROUND * (1.0 - alpha)
        return np.ascontiguousarray(np.clip(flat + 0.5, 0, 255).astype(np.uint8))
    return np.ascontiguousarray(pixels[:, :, :3])


@dataclass
class Scan:
    """Per sampled frame: its time and what was found there, at or above the threshold."""

    times: list[float] = field(default_factory=list)
    hits: list[list[Found]] = field(default_factory=list)
    interval: float = 0.0  # how long one sample stands for
    peaks: dict[str, float] = field(default_factory=dict)  # best score per label, any score


def scan(
    source: MediaSource,
    config: DetectConfig,
    detect: Detector,
    progress: Progress,
    batch_size: int = DEFAULT_BATCH,
) -> Scan:
    info = source.info
    duration = info.duration
    if not info.is_image and duration is not None and config.start >= duration:
        raise TaskError(
            OPTION_OUT_OF_RANGE,
            f"start {config.start:g} s is at or after the end of the input ({duration:.3f} s)",
        )
    result = Scan(interval=0.0 if info.is_image else 1.0 / config.fps)
    span = max((config.end or duration or 0.0) - config.start, 1e-6)
    for batch in _batches(source.frames(config.fps, config.start, config.end), batch_size):
        found = detect([rgb(still.pixels) for still in batch])
        for still, hits in zip(batch, found, strict=True):
            for hit in hits:
                result.peaks[hit.label] = max(result.peaks.get(hit.label, 0.0), hit.confidence)
            result.times.append(still.timestamp)
            result.hits.append([h for h in hits if h.confidence >= config.confidence])
        progress(min(1.0, (batch[-1].timestamp - config.start) / span))
    if not result.times:
        raise TaskError(INPUT_UNREADABLE, "the input has no decodable frames in that range")
    return result


def _batches(frames: Iterator[Still], size: int) -> Iterator[list[Still]]:
    batch: list[Still] = []
    for still in frames:
        batch.append(still)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class _Track:
    key: str
    label: str
    start: float
    last: int  # index of the last frame it was seen in
    last_box: Box
    best: Found
    best_time: float
    frames: int = 1


def timeline(result: Scan) -> list[_Track]:
    """Merge hits of the same label (or text) in consecutive sampled frames into one range;
    several instances in a frame continue the tracks whose boxes overlap them most."""
    done: list[_Track] = []
    open_: list[_Track] = []
    for index, (t, hits) in enumerate(zip(result.times, result.hits, strict=True)):
        still_open: list[_Track] = []
        pairs = sorted(
            (
                (track.last_box.iou(hit.box), ti, hi)
                for ti, track in enumerate(open_)
                for hi, hit in enumerate(hits)
                if track.key == _key(hit.label)
            ),
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_hits: set[int] = set()
        for _, ti, hi in pairs:
            if ti in used_tracks or hi in used_hits:
                continue
            used_tracks.add(ti)
            used_hits.add(hi)
            track, hit = open_[ti], hits[hi]
            track.last, track.last_box, track.frames = index, hit.box, track.frames + 1
            if hit.confidence > track.best.confidence:
                track.best, track.best_time = hit, t
            still_open.append(track)
        done.extend(track for ti, track in enumerate(open_) if ti not in used_tracks)
        for hi, hit in enumerate(hits):
            if hi not in used_hits:
                still_open.append(_Track(_key(hit.label), hit.label, t, index, hit.box, hit, t))
        open_ = still_open
    done.extend(open_)
    done.sort(key=lambda tr: (tr.start, tr.label))
    return done


def _key(label: str) -> str:
    return " ".join(label.split()).casefold()


def entries(
    result: Scan, tracks: list[_Track], field_name: str, end_limit: float | None
) -> list[dict[str, Any]]:
    out = []
    for track in tracks:
        end = result.times[track.last] + result.interval
        if end_limit is not None:
            end = min(end, max(end_limit, result.times[track.last]))
        out.append(
            {
                "start": round(track.start, DECIMALS_TIME),
                "end": round(end, DECIMALS_TIME),
                "frame": round(track.best_time, DECIMALS_TIME),
                field_name: track.label,
                "confidence": round(track.best.confidence, DECIMALS_SCORE),
                "box": track.best.box.as_json(),
            }
        )
    return out


def label_summary(tracks: list[_Track]) -> list[dict[str, Any]]:
    """Per label: how many ranges, in how many sampled frames, the best score."""
    by_label: dict[str, dict[str, Any]] = {}
    for track in tracks:
        row = by_label.setdefault(
            track.label, {"label": track.label, "count": 0, "frames": 0, "confidence": 0.0}
        )
        row["count"] += 1
        row["frames"] += track.frames
        row["confidence"] = max(row["confidence"], round(track.best.confidence, DECIMALS_SCORE))
    return sorted(by_label.values(), key=lambda r: (-r["frames"], r["label"]))


def report(
    source: MediaSource,
    config: DetectConfig,
    result: Scan,
    *,
    field_name: str = "label",
    detected: bool | None = None,
    extra: Mapping[str, Any] | None = None,
    summary: Mapping[str, Any] | None = None,
) -> Artifact:
    """The intelligence JSON and the small fields shown in the task's output object."""
    end_limit = config.end if config.end is not None else source.info.duration
    tracks = timeline(result)
    items = entries(result, tracks, field_name, end_limit)
    found = bool(items) if detected is None else detected
    data = {
        "detected": found,
        "confidence": config.confidence,
        "fps": None if source.info.is_image else config.fps,
        "frames": len(result.times),
        **(extra or {}),
        "timeline": items,
    }
    return Artifact(
        extension="json",
        mimetype="application/json",
        format="json",
        data=json.dumps(data, separators=(",", ":")).encode(),
        media=False,
        summary={"detected": found, "count": len(items), "frames": len(result.times)}
        | dict(summary or {}),
    )


def sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


class DetectionOperator(Operator):
    """Loads its model once (`setup`, which raises `model_missing` until the weights are
    there). Up to `concurrent_tasks` tasks run at once on one instance: each decodes and
    samples its own frames in its own thread and hands them to one `Batcher`, whose model
    thread is the only caller of `detect`, so frames from all of them share each model call
    and `detect` needs no locking of its own."""

    field_name: ClassVar[str] = "label"
    batch_size: ClassVar[int] = DEFAULT_BATCH  # frames one task hands over at a time
    # Four tasks of `batch_size` (8) fill one model call of MAX_BATCH_FRAMES (32), the most
    # benchmarks/gpu_check.py measures. More would only queue behind the same model thread
    # while each holds its decoded frames (up to 64 MiB ahead, pipeline.media) in memory.
    concurrent_tasks: ClassVar[int] = 4
    # The most frames in one model call on a GPU, and on CPU. A network that takes a real
    # batch gains nothing on CPU past a few frames and loses beyond: SSDLite320 ran 32-frame
    # calls at about half the frames per second of 4-8 (benchmarks/RESULTS.md), so such a kind
    # keeps on CPU the batch one task sends alone.
    max_batch_frames: ClassVar[int] = MAX_BATCH_FRAMES
    cpu_batch_frames: ClassVar[int] = MAX_BATCH_FRAMES

    def __init__(self) -> None:
        self.loaded = False
        self.device = "cpu"
        self._loading = threading.Lock()
        self.batcher: Batcher[list[Found]] = Batcher(
            self.detect,
            max_frames=self.max_batch_frames,
            max_bytes=MAX_BATCH_BYTES,
            linger_s=LINGER_S,
            name=f"{self.kind}-model",
        )

    def setup(self) -> None:
        with self._loading:
            if not self.loaded:
                self.load()
                cpu = self.device == "cpu"
                self.batcher.max_frames = self.cpu_batch_frames if cpu else self.max_batch_frames
                self.loaded = True

    @abstractmethod
    def load(self) -> None:
        """Find the weights (raise TaskError `model_missing`), pick the device, build the model."""

    @abstractmethod
    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Found]]:
        """One list of hits per RGB frame, boxes normalised. Called from one thread only."""

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        config = DetectConfig.from_options(options)
        if not self.loaded:  # setup() failed or was skipped: the same TaskError it raises
            self.setup()
        done = 0.0

        def progressed(fraction: float) -> None:
            nonlocal done
            done = fraction
            progress(fraction)

        def detect(frames: Sequence[np.ndarray]) -> list[list[Found]]:
            # Waiting on the model, the task still reports (the same fraction): a runtime
            # that asks it to stop gets its answer through that report, as everywhere.
            try:
                return self.batcher.run(frames, timeout=MODEL_WAIT_S, check=lambda: progress(done))
            except TimeoutError as exc:
                raise TaskError(TIMEOUT, str(exc)) from exc

        with self.batcher.joined():
            result = scan(source, config, detect, progressed, self.batch_size)
        return self.report(source, config, result)

    def report(self, source: MediaSource, config: DetectConfig, result: Scan) -> Artifact:
        return report(source, config, result, field_name=self.field_name)
