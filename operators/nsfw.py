"""`nsfw`: NudeNet's detector (YOLOv8n at 320 px, ONNX Runtime) on sampled frames.

NudeNet's model is AGPL-3.0, so it is the optional extra `strobe[nsfw]`; without it the
task fails with `model_missing` naming the install command. The timeline lists the
body-part classes that map to a category; `categories` gives each category's best score,
and `detected` is true when any hit of a `nudity` or `sexual` part reaches the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from operators.detection import Box, DetectConfig, DetectionOperator, Found, Scan, report
from operators.models import require
from pipeline.contract.media import Artifact, MediaSource

MODEL = "nudenet-320n"
CATEGORIES: dict[str, str] = {
    "FEMALE_GENITALIA_EXPOSED": "sexual",
    "MALE_GENITALIA_EXPOSED": "sexual",
    "ANUS_EXPOSED": "sexual",
    "FEMALE_BREAST_EXPOSED": "nudity",
    "BUTTOCKS_EXPOSED": "nudity",
    "FEMALE_GENITALIA_COVERED": "suggestive",
    "FEMALE_BREAST_COVERED": "suggestive",
    "BUTTOCKS_COVERED": "suggestive",
    "ANUS_COVERED": "suggestive",
}
UNSAFE = frozenset({"nudity", "sexual"})


class NsfwOperator(DetectionOperator):
    kind = "nsfw"

    def load(self) -> None:
        (path,) = require(MODEL)
        import onnxruntime
        from nudenet import NudeDetector

        self.detector = NudeDetector(model_path=str(path))
        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            self.device = "cuda"
            self.detector.onnx_session = onnxruntime.InferenceSession(
                str(path), providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
            )

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Found]]:
        bgr = [np.ascontiguousarray(frame[:, :, ::-1]) for frame in frames]  # as cv2.imread
        results = self.detector.detect_batch(bgr, batch_size=len(bgr))
        found = []
        for frame, hits in zip(frames, results, strict=True):
            height, width = frame.shape[:2]
            found.append(
                [
                    Found(
                        hit["class"].lower(),
                        float(hit["score"]),
                        Box.from_corners(x, y, x + w, y + h, width, height),
                    )
                    for hit in hits
                    if hit["class"] in CATEGORIES
                    for x, y, w, h in [hit["box"]]
                ]
            )
        return found

    def report(self, source: MediaSource, config: DetectConfig, result: Scan) -> Artifact:
        # Each category's best score in any frame, even under the threshold; `detected`
        # only from hits at or above it.
        scores = dict.fromkeys(["nudity", "sexual", "suggestive"], 0.0)
        for label, score in result.peaks.items():
            category = CATEGORIES[label.upper()]
            scores[category] = max(scores[category], round(score, 4))
        detected = any(CATEGORIES[h.label.upper()] in UNSAFE for hits in result.hits for h in hits)
        extra: dict[str, Any] = {"categories": scores}
        return report(
            source, config, result, detected=detected, extra=extra, summary={"categories": scores}
        )
