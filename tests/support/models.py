"""A models directory in which every kind loads a real model: a tiny Whisper and SSDLite320
with random weights (the published ones cannot be downloaded here). Random weights find
nothing meaningful, but the whole load-and-infer path runs, with the memory and the import
time that decide how long an actor takes to start, which is what the runtime tests exercise.
"""

from __future__ import annotations

from pathlib import Path

from operators.models import MODELS
from tests.support.speech import tiny_whisper


def write_models(models_dir: Path) -> Path:
    """Fill `models_dir` (STROBE_MODELS_DIR) for `objects` and the speech kinds; returns it."""
    import torch
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    models_dir.mkdir(parents=True, exist_ok=True)
    tiny_whisper(models_dir)
    torch.manual_seed(0)
    model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    torch.save(model.state_dict(), models_dir / MODELS["ssdlite320-coco"].files[0].name)
    return models_dir
