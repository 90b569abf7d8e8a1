"""`faces`: faces found with OpenCV, by one of two models (both run on CPU).

* `yunet-2023mar`: OpenCV Zoo's YuNet, a small CNN run by `cv2.FaceDetectorYN`. It finds
  faces turned, tilted, small or half in shadow; fetched with `strobe models fetch
  yunet-2023mar` (MIT, 230 kB).
* `haarcascade-frontalface`: OpenCV's Haar cascade. It ships inside opencv-python-headless,
  so it works with no download, but sees upright frontal faces only.

STROBE_FACES_MODEL picks one: `auto` (the default: YuNet when its file is in the models
directory, else the cascade), `yunet` (a missing file ends the task `model_missing`, never
a cascade result passed off as YuNet's) or `haar`. The choice is made when the actor loads
the model, logged, and named in the JSON and the task's output (`model`).

MediaPipe's BlazeFace was tried and left out: its wheel needs protobuf<5 and numpy<2, which
Ray and the rest of the worker do not allow; see README "Models".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from operators.detection import Box, DetectConfig, DetectionOperator, Found, Scan, report, sigmoid
from operators.models import MODELS, require, status
from pipeline.contract.errors import MODEL_MISSING, TaskError
from pipeline.contract.media import Artifact, MediaSource

log = logging.getLogger(__name__)

MODEL_ENV = "STROBE_FACES_MODEL"
YUNET, HAAR = "yunet-2023mar", "haarcascade-frontalface"
CHOICES = {"yunet": YUNET, "haar": HAAR}

# OpenCV's usual settings for the cascade: 10% scale steps, five overlapping hits before a
# face counts, and faces at least 24 px (the cascade's own window).
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 5
MIN_FACE_PX = 24
# YuNet keeps candidates from this score up, as `objects` does (the task's `confidence`
# filters afterwards, so the same task gives the same faces at any threshold); boxes that
# overlap more than NMS_IOU are one face, and NMS looks at the TOP_K best (OpenCV Zoo's
# settings for both).
MIN_SCORE = 0.05
NMS_IOU = 0.3
TOP_K = 5000
# Faces are found on a copy whose long side is at most this: big frames cost time, not
# recall (boxes are normalised, so the scale does not show in the output).
MAX_SIDE_PX = 960


def choose_model(env: Mapping[str, str] | None = None, directory: Path | None = None) -> str:
    """The registry name STROBE_FACES_MODEL asks for; `auto` takes YuNet when it is fetched."""
    env = os.environ if env is None else env
    choice = (env.get(MODEL_ENV) or "auto").strip().lower()
    if choice == "auto":
        return YUNET if status(MODELS[YUNET], directory) == "ok" else HAAR
    if choice not in CHOICES:
        raise TaskError(
            MODEL_MISSING,
            f"{MODEL_ENV}={choice!r} is not a face model Strobe knows: auto, {', '.join(CHOICES)}",
        )
    return CHOICES[choice]


class FacesOperator(DetectionOperator):
    kind = "faces"

    def __init__(self) -> None:
        super().__init__()
        self.model_name = ""
        self.yunet: Any = None
        self.yunet_size = (0, 0)

    def load(self) -> None:
        name = choose_model()
        (path,) = require(name)
        import cv2

        self.cv2 = cv2
        if name == YUNET:
            try:  # the input size is set per frame (`_yunet`): any will do here
                self.yunet = cv2.FaceDetectorYN.create(
                    str(path), "", (320, 320), MIN_SCORE, NMS_IOU, TOP_K
                )
                self.yunet_size = (320, 320)
            except cv2.error as exc:
                raise TaskError(
                    MODEL_MISSING,
                    f"the face model in {path} does not load ({exc}); "
                    f"run `strobe models verify {YUNET}` and `strobe models fetch {YUNET}`",
                ) from exc
        else:
            self.cascade = cv2.CascadeClassifier(str(path))
            if self.cascade.empty():
                raise TaskError(MODEL_MISSING, f"could not load the face cascade {path}")
        self.model_name = name
        log.info("faces: %s (%s; %s=%s)", name, path, MODEL_ENV, os.environ.get(MODEL_ENV, "auto"))

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Found]]:
        faces = self._yunet if self.model_name == YUNET else self._haar
        return [faces(frame) for frame in frames]

    def report(self, source: MediaSource, config: DetectConfig, result: Scan) -> Artifact:
        named = {"model": self.model_name}
        return report(source, config, result, extra=named, summary=named)

    def _shrunk(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        scale = min(1.0, MAX_SIDE_PX / max(height, width))
        if scale == 1.0:
            return image
        return self.cv2.resize(image, None, fx=scale, fy=scale, interpolation=self.cv2.INTER_AREA)

    def _yunet(self, frame: np.ndarray) -> list[Found]:
        bgr = self.cv2.cvtColor(self._shrunk(frame), self.cv2.COLOR_RGB2BGR)
        h, w = bgr.shape[:2]
        if (w, h) != self.yunet_size:  # reshapes the network: only when the size changes
            self.yunet.setInputSize((w, h))
            self.yunet_size = (w, h)
        _, rows = self.yunet.detect(bgr)
        found = []
        # Each row: x, y, width, height in pixels, five landmarks (x, y), then the score.
        for row in [] if rows is None else rows:
            x, y, bw, bh = (float(v) for v in row[:4])
            found.append(
                Found("face", float(row[14]), Box.from_corners(x, y, x + bw, y + bh, w, h))
            )
        return found

    def _haar(self, frame: np.ndarray) -> list[Found]:
        cv2 = self.cv2
        gray = cv2.equalizeHist(self._shrunk(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)))
        boxes, _, weights = self.cascade.detectMultiScale3(
            gray,
            scaleFactor=SCALE_FACTOR,
            minNeighbors=MIN_NEIGHBORS,
            minSize=(MIN_FACE_PX, MIN_FACE_PX),
            outputRejectLevels=True,
        )
        h, w = gray.shape[:2]
        # The cascade gives a final-stage weight, not a probability: squash it into 0-1
        # (monotonic, so a higher `confidence` keeps fewer, surer faces).
        return [
            Found("face", sigmoid(float(weight)), Box.from_corners(x, y, x + bw, y + bh, w, h))
            for (x, y, bw, bh), weight in zip(boxes, np.ravel(weights), strict=True)
        ]
