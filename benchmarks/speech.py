"""Speech and structure on CPU, ratios in one run.

speech    real-time factor (audio seconds per wall second) of Strobe's `speech` operator
          (`SpeechOperator.process(MediaFile(wav))`: PyAV decode + resample, VAD, Whisper
          per chunk, JSON) against bare `whisper.transcribe(model, samples)` on the same
          model and the same samples (decoded beforehand: the bare side pays no decode).
          Two inputs of espeak-ng speech: `dense` (pauses under a second) and `sparse`
          (speech a quarter of the time). Without real weights in STROBE_MODELS_DIR the
          model is Whisper's architecture at tiny dims with random weights: the same code
          path, but decoding time depends on the gibberish it emits, so the ratio is about
          Strobe's overhead and VAD savings, not about accuracy.
chapters  video frames covered per wall second by `detect_cuts` (decode, sample at 4 fps,
          64 px HSV thumbnails, batched numpy scores) against a naive per-frame loop in the
          spirit of PySceneDetect's ContentDetector (every frame, RGB, ~256 px, HSV, mean
          absolute difference, one frame at a time).

    .venv/bin/python -m benchmarks.speech [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from operators.scenes import THRESHOLD, detect_cuts, hsv
from pipeline.media.file import MediaFile
from pipeline.media.pcm import decode_pcm
from tests.support.media import write_video
from tests.support.speech import espeak, tiny_whisper

SENTENCES = (
    "Media processing turns uploads into something people can watch.",
    "A transcript makes every minute of video searchable.",
    "Subtitles must be short enough to read before they disappear.",
    "Chapters let viewers jump straight to the part they came for.",
)


def speech_track(path: Path, seconds: float, gap: float, work: Path) -> Path:
    """Sentences from espeak-ng separated by `gap` seconds of silence, as a 16 kHz WAV."""
    parts = []
    for i, text in enumerate(SENTENCES):
        wav = espeak(work / f"s{i}.wav", text)
        parts.append(decode_pcm(wav))
    out, at, i = [], 0, 0
    while at < seconds * 16000:
        piece = parts[i % len(parts)]
        out += [piece, np.zeros(int(gap * 16000), np.float32)]
        at += len(piece) + int(gap * 16000)
        i += 1
    samples = np.concatenate(out)[: int(seconds * 16000)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            (samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


def bench_speech(seconds: float, work: Path) -> None:
    from operators.speech import SpeechOperator

    models = Path(os.environ.get("STROBE_MODELS_DIR", work / "models"))
    size = os.environ.get("STROBE_WHISPER_MODEL", "small")
    random_weights = not (models / f"whisper-{size}.pt").is_file()
    if random_weights:
        models = work / "models"
        tiny_whisper(models, size)
    os.environ["STROBE_MODELS_DIR"] = str(models)
    operator = SpeechOperator()
    operator.setup()
    print(f"model whisper-{size} ({'random tiny weights' if random_weights else 'real'})")
    print("| input | audio s | strobe s | bare s | strobe RTF | bare RTF | ratio | segments s/b |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, gap in (("dense", 0.6), ("sparse", 12.0)):
        path = speech_track(work / f"{name}.wav", seconds, gap, work)
        samples = decode_pcm(path)
        began = time.perf_counter()
        artifact = operator.process(MediaFile(path), {})
        strobe = time.perf_counter() - began
        began = time.perf_counter()
        result = operator.model.transcribe(samples, fp16=False, verbose=None)
        bare = time.perf_counter() - began
        import json

        ours = len(json.loads(artifact.data or b"")["timeline"])
        print(
            f"| {name} | {seconds:.0f} | {strobe:.1f} | {bare:.1f} | {seconds / strobe:.2f} | "
            f"{seconds / bare:.2f} | {bare / strobe:.2f} | {ours}/{len(result['segments'])} |"
        )


def scene_video(path: Path, seconds: float, fps: int = 25) -> Path:
    rng = np.random.default_rng(1)
    looks = [rng.integers(0, 255, (360 // 90, 640 // 80, 3), dtype=np.uint8) for _ in range(6)]

    def pictures() -> Iterator[np.ndarray]:
        for index in range(int(seconds * fps)):
            look = looks[int(index / fps // 10) % len(looks)]
            pixels = np.kron(look, np.ones((90, 80, 1), np.uint8))  # big blocks: shapes
            yield np.roll(pixels, 2 * (index % 250), axis=1)  # panning within a shot

    return write_video(path, pictures(), width=640, height=360, fps=fps)


def naive_cuts(path: Path) -> list[float]:
    """One frame at a time, every frame, ~256 px wide: PySceneDetect's ContentDetector shape."""
    cuts, previous = [], None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            pixels = frame.to_ndarray(format="rgb24")
            step = max(1, pixels.shape[1] // 256)
            small = hsv(pixels[::step, ::step].astype(np.float32))
            if previous is not None:
                delta = np.abs(small - previous).reshape(-1, 3).mean(axis=0).mean()
                if delta >= THRESHOLD:
                    cuts.append(float(frame.time or 0.0))
            previous = small
    return cuts


def bench_chapters(seconds: float, work: Path) -> None:
    path = scene_video(work / "scenes.mp4", seconds)
    frames = int(seconds * 25)
    began = time.perf_counter()
    found = detect_cuts(MediaFile(path))
    strobe = time.perf_counter() - began
    began = time.perf_counter()
    baseline = naive_cuts(path)
    bare = time.perf_counter() - began
    print("| detector | video fps covered | cuts |")
    print("| --- | ---: | ---: |")
    print(f"| strobe detect_cuts (4 fps, batched) | {frames / strobe:.0f} | {len(found.cuts)} |")
    print(f"| naive per-frame loop | {frames / bare:.0f} | {len(baseline)} |")
    print(f"ratio {bare / strobe:.2f}x; decode alone: {decode_only(path, frames):.0f} fps")


def decode_only(path: Path, frames: int) -> float:
    began = time.perf_counter()
    for _ in MediaFile(path).frames(4.0):
        pass
    return frames / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--skip-speech", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_speech:
            bench_speech(args.seconds, work)
        bench_chapters(args.seconds, work)


if __name__ == "__main__":
    main()
