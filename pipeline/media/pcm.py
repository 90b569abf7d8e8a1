"""Audio for models: the first audio stream decoded with PyAV and resampled to mono float32.

Speech models (Whisper, Silero VAD) want 16 kHz mono samples in -1..1. FFmpeg's resampler
(`av.AudioResampler`) downmixes and converts the rate in one step; nothing here shells out.
PyAV objects stay inside this module.
"""

from __future__ import annotations

from pathlib import Path

import av
import av.error
import numpy as np

from pipeline.contract.errors import INPUT_UNREADABLE, NO_AUDIO_STREAM, TaskError
from pipeline.media.containers import open_container

SPEECH_RATE = 16_000


def decode_pcm(
    path: Path,
    *,
    rate: int = SPEECH_RATE,
    start: float = 0.0,
    end: float | None = None,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Samples of the first audio stream from `start` to `end` seconds (None: to the end), as a
    1-D float32 array at `rate` Hz, mono. Raises TaskError `no_audio_stream` when there is
    none, `input_unreadable` when decoding fails; `max_pixels` bounds a video stream's picture
    as everywhere else an input is opened."""
    if end is not None and end <= start:
        return np.zeros(0, np.float32)
    with open_container(path, max_pixels) as container:
        if not container.streams.audio:
            raise TaskError(NO_AUDIO_STREAM, "the input has no audio stream")
        stream = container.streams.audio[0]
        origin = container.start_time / av.time_base if container.start_time else 0.0
        if start > 0 and stream.time_base is not None:
            container.seek(int((origin + start) / stream.time_base), stream=stream, backward=True)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        first_sample = int(round(start * rate))
        last_sample = None if end is None else int(round(end * rate))
        chunks: list[np.ndarray] = []
        position: int | None = None  # sample index (at `rate`) of the next resampled sample
        try:
            for frame in container.decode(stream):
                if position is None:
                    t = max(0.0, float(frame.time or 0.0) - origin)
                    position = int(round(t * rate))
                for out in resampler.resample(frame):
                    position = _keep(out.to_ndarray()[0], position, first_sample, chunks)
                if last_sample is not None and position >= last_sample:
                    break
            else:
                for out in resampler.resample(None):
                    position = _keep(out.to_ndarray()[0], position or 0, first_sample, chunks)
        except av.error.FFmpegError as exc:
            raise TaskError(INPUT_UNREADABLE, f"could not decode the audio: {exc}") from exc
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if last_sample is not None:
        samples = samples[: max(0, last_sample - first_sample)]
    return np.ascontiguousarray(samples, dtype=np.float32)


def _keep(block: np.ndarray, position: int, first_sample: int, chunks: list[np.ndarray]) -> int:
    """Append the part of `block` (starting at sample `position`) at or after `first_sample`."""
    skip = max(0, first_sample - position)
    if skip < len(block):
        chunks.append(block[skip:])
    return position + len(block)
