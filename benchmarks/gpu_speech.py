"""Whisper real-time factor by model size on CUDA: Strobe's `speech` operator against bare
`whisper.transcribe` on the same audio and model, in one run (under 8 minutes).

For each size, the official checkpoint in STROBE_MODELS_DIR is used when present
(`strobe models fetch whisper-<size>`); otherwise a checkpoint of that size's real
architecture with random weights is built, so the encoder and decoder cost the same per
token but the output is gibberish (decode lengths then differ from real speech: read those
rows as an upper bound of the cost, not as accuracy). Audio: `--audio FILE`, else 60 s of
a synthetic speech-like signal (amplitude-modulated harmonics with pauses).

    python -m benchmarks.gpu_speech [--audio speech.wav] [--sizes tiny,base,small,turbo]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import av
import numpy as np

from operators.models import WHISPER_CHECKPOINTS, models_dir
from operators.speech import SpeechOperator
from pipeline.media.file import MediaFile
from pipeline.media.pcm import decode_pcm

BUDGET_S = 7 * 60
RATE = 16000
# The published architectures (whisper/__init__.py checkpoints' "dims").
DIMS = {
    "tiny": (80, 384, 6, 4, 51865, 4),
    "base": (80, 512, 8, 6, 51865, 6),
    "small": (80, 768, 12, 12, 51865, 12),
    "medium": (80, 1024, 16, 24, 51865, 24),
    "large-v3": (128, 1280, 20, 32, 51866, 32),
    "turbo": (128, 1280, 20, 32, 51866, 4),
}


def synthetic_speech(path: Path, seconds: float) -> Path:
    t = np.arange(int(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 560), 1))
    syllables = 0.5 * (1 + np.sin(2 * np.pi * 4 * t))  # ~4 syllables a second
    phrases = (np.floor(t / 3) % 3 != 2).astype(np.float32)  # 6 s on, 3 s pause
    samples = (0.2 * voice * syllables * phrases).astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=RATE)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            (samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def checkpoint(size: str, work: Path) -> tuple[Path, str]:
    """The official file if fetched, else the same architecture with random weights."""
    official = models_dir() / f"whisper-{size}.pt"
    if official.exists():
        return official.parent, "official"
    import torch
    from whisper.model import ModelDimensions, Whisper

    n_mels, state, heads, audio_layers, vocab, text_layers = DIMS[size]
    dims = ModelDimensions(
        n_mels=n_mels,
        n_audio_ctx=1500,
        n_audio_state=state,
        n_audio_head=heads,
        n_audio_layer=audio_layers,
        n_vocab=vocab,
        n_text_ctx=448,
        n_text_state=state,
        n_text_head=heads,
        n_text_layer=text_layers,
    )
    torch.manual_seed(0)
    folder = work / size
    folder.mkdir(parents=True, exist_ok=True)
    state_dict = Whisper(dims).half().state_dict()
    torch.save(
        {"dims": asdict(dims), "model_state_dict": state_dict}, folder / f"whisper-{size}.pt"
    )
    return folder, "random weights"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path)
    parser.add_argument("--sizes", default="tiny,base,small,medium,turbo")
    args = parser.parse_args()
    import torch
    import whisper

    if not torch.cuda.is_available():
        print("no CUDA device: this script measures Whisper on GPU", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="strobe-gpu-speech-") as tmp:
        work = Path(tmp)
        audio = args.audio or synthetic_speech(work / "speech.wav", 60.0)
        samples = decode_pcm(audio)
        seconds = len(samples) / RATE
        print(f"{torch.cuda.get_device_name()}; audio {seconds:.0f} s ({audio.name})")
        print(
            f"{'size':9s} {'weights':15s} {'strobe RTF':>10s} {'bare RTF':>9s} "
            f"{'ratio':>6s} {'GPU MiB':>8s}"
        )
        for size in args.sizes.split(","):
            if time.monotonic() - started > BUDGET_S:
                print(f"{size:9s} skipped: the {BUDGET_S // 60}-minute budget is spent")
                continue
            if size not in WHISPER_CHECKPOINTS:
                print(f"{size:9s} unknown size")
                continue
            folder, source = checkpoint(size, work)
            os.environ.update(STROBE_MODELS_DIR=str(folder), STROBE_WHISPER_MODEL=size)
            torch.cuda.reset_peak_memory_stats()
            operator = SpeechOperator()
            operator.load()
            operator.process(MediaFile(audio), {"language": "en"})  # warm-up
            began = time.perf_counter()
            operator.process(MediaFile(audio), {"language": "en"})
            strobe_s = time.perf_counter() - began
            model = operator.model
            began = time.perf_counter()
            whisper.transcribe(
                model, samples, language="en", fp16=True, condition_on_previous_text=False
            )
            bare_s = time.perf_counter() - began
            memory = torch.cuda.max_memory_allocated() / 2**20
            print(
                f"{size:9s} {source:15s} {seconds / strobe_s:10.1f} {seconds / bare_s:9.1f} "
                f"{bare_s / strobe_s:6.2f} {memory:8.0f}"
            )
            del operator, model
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
