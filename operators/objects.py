"""`objects`: COCO objects found with torchvision's SSDLite320 MobileNetV3-Large, weights
from the models directory (`strobe models fetch ssdlite320-coco`), batched on CUDA when
there is one. The JSON adds a per-label summary (`labels`)."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from operators.detection import (
    DEFAULT_BATCH,
    Box,
    DetectConfig,
    DetectionOperator,
    Found,
    Scan,
    label_summary,
    report,
    timeline,
)
from operators.models import require
from pipeline.contract.errors import MODEL_MISSING, TaskError
from pipeline.contract.media import Artifact, MediaSource

MODEL = "ssdlite320-coco"
# torchvision keeps its own low score floor (0.001) so recall is measured fully; the task's
# `confidence` filters afterwards. 300 boxes per image is torchvision's default cap.
MIN_SCORE = 0.05
MAX_BOXES = 300


class ObjectsOperator(DetectionOperator):
    kind = "objects"
    cpu_batch_frames = DEFAULT_BATCH  # 32-frame calls run at half the speed on CPU

    def load(self) -> None:
        (path,) = require(MODEL)
        import torch
        from torchvision.models.detection import (
            SSDLite320_MobileNet_V3_Large_Weights,
            ssdlite320_mobilenet_v3_large,
        )

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.labels: list[str] = SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["categories"]
        model = ssdlite320_mobilenet_v3_large(
            weights=None,
            weights_backbone=None,
            num_classes=len(self.labels),
            score_thresh=MIN_SCORE,
            detections_per_img=MAX_BOXES,
        )
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except (RuntimeError, OSError, KeyError, EOFError, pickle.UnpicklingError) as exc:
            raise TaskError(
                MODEL_MISSING,
                f"the weights in {path} do not load ({exc}); "
                f"run `strobe models verify {MODEL}` and `strobe models fetch {MODEL}`",
            ) from exc
        self.model = model.eval().to(self.device)

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Found]]:
        torch = self.torch
        # The model resizes and normalises inside; it takes 0-1 float CHW tensors.
        batch = [
            torch.from_numpy(frame).to(self.device).permute(2, 0, 1).float().div_(255.0)
            for frame in frames
        ]
        with torch.inference_mode():
            outputs = self.model(batch)
        found = []
        for frame, out in zip(frames, outputs, strict=True):
            height, width = frame.shape[:2]
            boxes = out["boxes"].cpu().numpy()
            scores = out["scores"].cpu().numpy()
            labels = out["labels"].cpu().numpy()
            found.append(
                [
                    Found(self._name(int(label)), float(score), _box(b, width, height))
                    for b, score, label in zip(boxes, scores, labels, strict=True)
                ]
            )
        return found

    def _name(self, index: int) -> str:
        name = self.labels[index] if 0 <= index < len(self.labels) else "N/A"
        return name if name != "N/A" else f"class_{index}"

    def report(self, source: MediaSource, config: DetectConfig, result: Scan) -> Artifact:
        labels = label_summary(timeline(result))
        extra: dict[str, Any] = {"labels": labels}
        names = [row["label"] for row in labels]
        return report(source, config, result, extra=extra, summary={"labels": names})


def _box(corners: np.ndarray, width: int, height: int) -> Box:
    x0, y0, x1, y1 = (float(v) for v in corners)
    return Box.from_corners(x0, y0, x1, y1, width, height)
