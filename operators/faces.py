"""`faces`: frontal faces found with OpenCV's Haar cascade (it ships inside
opencv-python-headless, so it works with no download). MediaPipe's BlazeFace would be
better but its wheel needs protobuf<5 and numpy<2, which Ray and the rest of the
worker do not allow; see README "Models"."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from operators.base import Resources, TaskError
from operators.detection import Box, DetectionOperator, Found, sigmoid
from operators.models import require

MODEL = "haarcascade-frontalface"
# OpenCV's usual settings for this cascade: 10% scale steps, five overlapping hits
# before a face counts, and faces at least 24 px (the cascade's own window).
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 5
MIN_FACE_PX = 24
# Faces are found on a copy whose long side is at most this: big frames cost time, not
# recall (boxes are normalised, so the scale does not show in the output).
MAX_SIDE_PX = 960


class FacesOperator(DetectionOperator):
    kind = "faces"
    resources = Resources(num_cpus=0.5)  # OpenCV's cascade runs on CPU only

    def load(self) -> None:
        (path,) = require(MODEL)
        import cv2

        self.cv2 = cv2
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise TaskError("model_missing", f"could not load the face cascade {path}")

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Found]]:
        return [self._faces(frame) for frame in frames]

    def _faces(self, frame: np.ndarray) -> list[Found]:
        cv2 = self.cv2
        height, width = frame.shape[:2]
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        scale = min(1.0, MAX_SIDE_PX / max(height, width))
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
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
