"""Where the speech is: so Whisper only hears audio that may hold words.

Two stages. A vectorised energy gate (RMS per 32 ms frame against a floor near digital
silence) drops silent stretches almost for free, so an hour of silence costs one pass of
numpy. What is left goes through Silero VAD (`silero-vad`, MIT, weights inside the package)
when it is installed; without it the loud spans are used as they are. Spans are then grouped
into chunks of at most `MAX_CHUNK_S` for the recogniser.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

RATE = 16_000
FRAME = 512  # 32 ms at 16 kHz: Silero's window
ENERGY_FLOOR = 10 ** (-55 / 20)  # RMS of a frame below -55 dBFS counts as silence
PAD_S = 0.3  # kept around each span, so word edges are not clipped
MERGE_GAP_S = 1.5  # loud stretches closer than this are one span
JOIN_GAP_S = 3.0  # speech spans closer than this go to the recogniser together
MAX_CHUNK_S = 120.0  # one recogniser call; long speech is split at Silero's pauses or evenly
SILERO_MAX_SPEECH_S = 60.0

Span = tuple[float, float]  # seconds from the start of the samples


def loud_spans(samples: np.ndarray, rate: int = RATE, floor: float = ENERGY_FLOOR) -> list[Span]:
    """Stretches whose 32 ms frames rise above `floor` RMS, padded and merged."""
    if samples.size == 0:
        return []
    frames = len(samples) // FRAME
    rms = np.zeros(frames + 1, np.float32)
    if frames:
        block = samples[: frames * FRAME].reshape(frames, FRAME)
        rms[:frames] = np.sqrt(np.mean(np.square(block, dtype=np.float32), axis=1))
    tail = samples[frames * FRAME :]
    rms[frames] = float(np.sqrt(np.mean(np.square(tail)))) if tail.size else 0.0
    active = np.flatnonzero(rms > floor)
    if active.size == 0:
        return []
    # Runs of active frames: a new run starts where the index jumps.
    breaks = np.flatnonzero(np.diff(active) > 1)
    starts = np.concatenate(([active[0]], active[breaks + 1]))
    ends = np.concatenate((active[breaks], [active[-1]])) + 1
    spans = [
        (float(s * FRAME / rate), float(e * FRAME / rate))
        for s, e in zip(starts, ends, strict=True)
    ]
    return merge(spans, len(samples) / rate)


def merge(
    spans: list[Span], length: float, pad: float = PAD_S, gap: float = MERGE_GAP_S
) -> list[Span]:
    """Pad each span, clip to 0..length, join spans less than `gap` apart."""
    out: list[Span] = []
    for start, end in sorted(spans):
        start, end = max(0.0, start - pad), min(length, end + pad)
        if out and start - out[-1][1] < gap:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        elif end > start:
            out.append((start, end))
    return out


def chunks(
    spans: list[Span], max_len: float = MAX_CHUNK_S, join_gap: float = JOIN_GAP_S
) -> list[Span]:
    """Group spans less than `join_gap` apart into stretches of at most `max_len` seconds; a
    longer span is cut into equal pieces."""
    out: list[Span] = []
    for start, end in spans:
        if out and start - out[-1][1] < join_gap and end - out[-1][0] <= max_len:
            out[-1] = (out[-1][0], end)
            continue
        out.extend(_pieces(start, end, max_len))
    return out


def groups(spans: list[Span], max_len: float = MAX_CHUNK_S) -> list[list[Span]]:
    """Stretches of speech (from `chunks`) packed into recogniser calls holding at most
    `max_len` seconds of sound in all: the silence between them is left out (see `Spliced`)."""
    out: list[list[Span]] = []
    held = 0.0
    for start, end in chunks(spans, max_len):
        if out and held + (end - start) <= max_len:
            out[-1].append((start, end))
            held += end - start
        else:
            out.append([(start, end)])
            held = end - start
    return out


def _pieces(start: float, end: float, max_len: float) -> list[Span]:
    pieces = max(1, int(np.ceil((end - start) / max_len - 1e-9)))
    step = (end - start) / pieces
    return [(start + i * step, start + (i + 1) * step) for i in range(pieces)]


@dataclass(frozen=True)
class Spliced:
    """Spans of a recording played back to back: maps times in the splice to the recording."""

    spans: tuple[Span, ...]

    def samples(self, recording: np.ndarray, rate: int = RATE) -> np.ndarray:
        return np.concatenate([recording[int(a * rate) : int(b * rate)] for a, b in self.spans])

    def to_source(self, t: float) -> float:
        """Splice time -> recording time (a time past a span's end stays at that end)."""
        at = 0.0
        for start, end in self.spans:
            if t <= at + (end - start):
                return start + max(0.0, t - at)
            at += end - start
        return self.spans[-1][1]


@dataclass
class Vad:
    """The two-stage detector. `silero` is Silero's model, or None for the energy gate alone."""

    silero: object | None = None

    @classmethod
    def load(cls) -> Vad:
        """Silero when the package is there. Importing it sets torch to one thread for the
        whole process; the previous setting is put back."""
        try:
            import torch
        except ImportError:
            return cls(None)
        threads = torch.get_num_threads()
        try:
            from silero_vad import load_silero_vad
        except ImportError:
            return cls(None)
        finally:
            torch.set_num_threads(threads)
        # The ONNX build runs ~50x faster than the TorchScript one on CPU (~190x real time).
        onnx = importlib.util.find_spec("onnxruntime") is not None
        model = load_silero_vad(onnx=onnx)
        torch.set_num_threads(threads)
        return cls(model)

    def spans(self, samples: np.ndarray, rate: int = RATE) -> list[Span]:
        """Speech spans in `samples` (16 kHz mono float32), padded and merged."""
        loud = loud_spans(samples, rate)
        if self.silero is None or not loud:
            return loud
        import torch
        from silero_vad import get_speech_timestamps

        found: list[Span] = []
        for start, end in loud:
            a, b = int(start * rate), int(end * rate)
            with torch.inference_mode():
                stamps = get_speech_timestamps(
                    torch.from_numpy(np.ascontiguousarray(samples[a:b])),
                    self.silero,
                    sampling_rate=rate,
                    max_speech_duration_s=SILERO_MAX_SPEECH_S,
                )
            found += [
                (float(start + s["start"] / rate), float(start + s["end"] / rate)) for s in stamps
            ]
        return merge(found, len(samples) / rate, gap=0.0)
