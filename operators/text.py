"""`text`: words read from sampled frames with RapidOCR (PP-OCRv4 detection + recognition on
ONNX Runtime; the CUDA provider when onnxruntime-gpu offers it). One timeline entry per line
of text, merged across consecutive frames while the same text stays on screen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from operators.detection import Box, DetectionOperator, Found
from operators.models import require

MODEL = "rapidocr-ppocrv4"
# Measured exact on clean rendered text and 5-10x faster than RapidOCR's defaults
# (../shared/FACTS.md): detect on the long side capped at 960 px, no angle classifier.
ENGINE_SETTINGS: dict[str, Any] = {
    "det_limit_type": "max",
    "det_limit_side_len": 960,
    "use_cls": False,
    "text_score": 0.0,  # every line comes back; the task's `confidence` filters
    "print_verbose": False,
}


class TextOperator(DetectionOperator):
    kind = "text"
    field_name = "text"
    batch_size: ClassVar[int] = 1  # RapidOCR takes one picture at a time

    def load(self) -> None:
        require(MODEL)
        import onnxruntime
        from rapidocr_onnxruntime import RapidOCR

        cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        self.device = "cuda" if cuda else "cpu"
        self.engine = RapidOCR(
            **ENGINE_SETTINGS, det_use_cuda=cuda, rec_use_cuda=cuda, cls_use_cuda=cuda
        )

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Found]]:
        return [self._read(frame) for frame in frames]

    def _read(self, frame: np.ndarray) -> list[Found]:
        height, width = frame.shape[:2]
        lines, _ = self.engine(np.ascontiguousarray(frame[:, :, ::-1]))  # RapidOCR wants BGR
        found = []
        for points, text, score in lines or ():
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            if text.strip():
                box = Box.from_corners(min(xs), min(ys), max(xs), max(ys), width, height)
                found.append(Found(text.strip(), float(score), box))
        return found
