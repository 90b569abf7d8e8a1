"""Speech test inputs: a Whisper checkpoint of the real architecture with random weights,
spoken sentences from espeak-ng, long silence written cheaply with PyAV."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import av
import numpy as np


def tiny_whisper(models_dir: Path, size: str = "small", seed: int = 0) -> Path:
    """Save a 2-layer Whisper with random weights under the registry's file name for `size`,
    in the checkpoint format the official files use (`{"dims", "model_state_dict"}`).
    The multilingual vocabulary and 30 s audio context are kept, so the real tokenizer,
    mel front end and decoding loop all run."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(seed)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=64,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51865,
        n_text_ctx=448,
        n_text_state=64,
        n_text_head=2,
        n_text_layer=1,
    )
    model = Whisper(dims)
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / f"whisper-{size}.pt"
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


def espeak(path: Path, text: str, *, words_per_minute: int = 160, ssml: bool = False) -> Path:
    """Synthetic speech (a WAV at 22.05 kHz) from the espeak-ng command; with `ssml`, markup
    such as `<break time="4s"/>` is read."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is missing: run .ci/system-deps (Debian package espeak-ng)")
    flags = ["-m"] if ssml else []
    subprocess.run(
        ["espeak-ng", *flags, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path


def silence(path: Path, seconds: float, *, rate: int = 8000) -> Path:
    """Digital silence as low-rate mono AAC (an hour is ~230 kB and ~1 s to write)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        assert isinstance(stream, av.AudioStream)
        stream.layout = "mono"
        stream.bit_rate = 8000
        block = np.zeros((1, 1024), np.float32)
        for start in range(0, int(seconds * rate), 1024):
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
