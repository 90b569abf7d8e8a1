"""Shot boundaries from sampled frames: a content-change detector in the spirit of
PySceneDetect's `ContentDetector`, vectorised over batches with numpy.

Each sampled frame is shrunk to about `THUMB_WIDTH` pixels wide (block means), converted to
HSV, and scored against the frame before it: the mean absolute change of hue (circular),
saturation and value, averaged, on a 0-255 scale. A score at or above `THRESHOLD` is a cut
(PySceneDetect's default is 27 on the same scale). Cuts closer than `MIN_SCENE_S` to the
previous one are dropped, so a flash is not a scene.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from pipeline.contract.errors import INPUT_UNREADABLE, TaskError
from pipeline.contract.media import MediaSource, Progress, Still, no_progress

SAMPLE_FPS = 4.0  # a boundary is placed within 1/4 s of the real cut
THUMB_WIDTH = 64
THRESHOLD = 27.0
MIN_SCENE_S = 0.6
BATCH = 32


@dataclass(frozen=True)
class Cut:
    time: float  # the first sampled frame of the new shot
    score: float


def shrink(pixels: np.ndarray, width: int = THUMB_WIDTH) -> np.ndarray:
    """Block-mean downscale of an RGB(A) frame to about `width` pixels wide, float32 RGB."""
    rgb = pixels[:, :, :3] if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2)
    h, w = rgb.shape[:2]
    step = max(1, w // width)
    h2, w2 = max(step, h - h % step), w - w % step
    block = rgb[:h2, :w2].reshape(h2 // step, step, w2 // step, step, 3)
    return block.mean(axis=(1, 3), dtype=np.float32)


def hsv(rgb: np.ndarray) -> np.ndarray:
    """RGB floats 0-255 (any leading shape) -> HSV with H in 0-180 (OpenCV's scale), S and V
    in 0-255."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(axis=-1)
    c = v - rgb.min(axis=-1)
    s = np.where(v > 0, 255.0 * c / np.maximum(v, 1e-6), 0.0)
    safe = np.maximum(c, 1e-6)
    h = np.where(
        v == r, ((g - b) / safe) % 6.0, np.where(v == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    h = np.where(c > 0, h * 30.0, 0.0)  # 60 degrees per sextant, halved
    return np.stack([h, s, v], axis=-1).astype(np.float32)


def scores(frames: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Content change of each HSV frame (N x h x w x 3) against the one before it."""
    if previous is not None:
        frames = np.concatenate([previous[None], frames])
    delta = np.abs(np.diff(frames, axis=0))
    delta[..., 0] = np.minimum(delta[..., 0], 180.0 - delta[..., 0]) * (255.0 / 90.0)
    per_frame = delta.reshape(len(delta), -1, 3).mean(axis=1).mean(axis=1)
    if previous is None:
        per_frame = np.concatenate([[0.0], per_frame])
    return per_frame.astype(np.float32)


@dataclass
class SceneDetector:
    """Feed batches of (time, frame); read `cuts` at the end."""

    threshold: float = THRESHOLD
    min_scene: float = MIN_SCENE_S
    cuts: list[Cut] = field(default_factory=list)
    frames: int = 0
    _last: np.ndarray | None = None
    _last_cut: float = 0.0

    def feed(self, batch: list[Still]) -> None:
        if not batch:
            return
        shapes = {s.pixels.shape[:2] for s in batch}
        if len(shapes) > 1:  # a size change mid-stream: score each frame on its own
            for still in batch:
                self.feed([still])
            return
        small = hsv(np.stack([shrink(s.pixels) for s in batch]))
        if self._last is not None and self._last.shape != small.shape[1:]:
            self._last = None
        values = scores(small, self._last)
        for still, value in zip(batch, values, strict=True):
            first = self.frames == 0
            self.frames += 1
            if first or value < self.threshold:
                continue
            if still.timestamp - self._last_cut >= self.min_scene:
                self.cuts.append(Cut(still.timestamp, float(value)))
                self._last_cut = still.timestamp
        self._last = small[-1]


def detect_cuts(
    source: MediaSource,
    start: float = 0.0,
    end: float | None = None,
    progress: Progress = no_progress,
    fps: float = SAMPLE_FPS,
) -> SceneDetector:
    """Scan the video between `start` and `end` at `fps` sampled frames a second."""
    info = source.info
    span = max((end or info.duration or 0.0) - start, 1e-6)
    detector = SceneDetector()
    for batch in _batches(source.frames(fps, start, end)):
        detector.feed(batch)
        progress(min(1.0, (batch[-1].timestamp - start) / span))
    if not detector.frames:
        raise TaskError(INPUT_UNREADABLE, "no frames could be decoded in that range")
    return detector


def _batches(frames: Iterator[Still]) -> Iterator[list[Still]]:
    batch: list[Still] = []
    for still in frames:
        batch.append(still)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
