"""`speech`: a transcript with OpenAI Whisper, timed against the input.

Audio comes from the source as 16 kHz mono float32 (PyAV; never the ffmpeg CLI), `WINDOW_S`
at a time so hours of media fit in memory. In each window a voice-activity detector
(`operators.vad`) finds the speech; Whisper hears only that, spliced back to back into calls
of up to two minutes of sound, and its times are mapped back, so silence costs almost
nothing. Times in the output are seconds of the input. The other speech-based kinds
(subtitles, chapters, outline) call `SpeechOperator.transcribe`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from operators.base import Operator
from operators.models import WHISPER_CHECKPOINTS, require
from operators.options import TranscriptOptions, parse
from operators.plans import plan_trim
from operators.vad import RATE, Spliced, Vad, groups
from pipeline.contract.errors import MODEL_MISSING, OPTION_OUT_OF_RANGE, TaskError
from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress

MODEL_ENV = "STROBE_WHISPER_MODEL"
CPU_MODEL, GPU_MODEL = "small", "turbo"
WINDOW_S = 600.0  # audio decoded at a time: 38 MB of samples
PARAGRAPH_GAP_S = 2.0  # a pause this long starts a new entry of `text`
DECIMALS = 3


@dataclass(frozen=True)
class SpeechConfig:
    language: str | None  # Whisper's code, or None to detect
    start: float = 0.0
    end: float | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any], duration: float | None) -> SpeechConfig:
        given = parse(TranscriptOptions, options)
        trim = plan_trim(given.start, given.end, given.duration, duration)
        return cls(whisper_language(given.language), trim.start, trim.end)


def whisper_language(code: str | None) -> str | None:
    """`en`, `en-US` -> `en`; a language Whisper does not know is `option_out_of_range`."""
    if not code:
        return None
    from whisper.tokenizer import LANGUAGES

    primary = code.split("-")[0].lower()
    if primary not in LANGUAGES:
        raise TaskError(
            OPTION_OUT_OF_RANGE,
            f"language {code!r} is not one Whisper knows; use one of: {', '.join(LANGUAGES)}",
        )
    return primary


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    confidence: float


@dataclass(frozen=True)
class Transcript:
    language: str
    segments: tuple[Segment, ...]

    def paragraphs(self) -> list[str]:
        out: list[list[str]] = []
        previous_end = None
        for seg in self.segments:
            if previous_end is None or seg.start - previous_end >= PARAGRAPH_GAP_S:
                out.append([])
            out[-1].append(seg.text)
            previous_end = seg.end
        return [" ".join(words) for words in out]

    def as_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "text": self.paragraphs(),
            "timeline": [
                {
                    "index": i,
                    "start": round(s.start, DECIMALS),
                    "end": round(s.end, DECIMALS),
                    "text": s.text,
                    "confidence": round(s.confidence, 4),
                }
                for i, s in enumerate(self.segments)
            ],
        }


def model_size(env: Mapping[str, str] | None = None, *, cuda: bool = False) -> str:
    env = os.environ if env is None else env
    size = env.get(MODEL_ENV) or (GPU_MODEL if cuda else CPU_MODEL)
    if size not in WHISPER_CHECKPOINTS:
        raise TaskError(
            MODEL_MISSING,
            f"{MODEL_ENV}={size!r} is not a Whisper size Strobe knows: "
            f"{', '.join(WHISPER_CHECKPOINTS)}",
        )
    return size


class SpeechOperator(Operator):
    """Whisper loaded once per actor (`setup`). Missing weights raise `model_missing`; the
    runtime fails the task with it and calls `setup` again before the next one."""

    kind = "speech"

    def __init__(self) -> None:
        self.model: Any = None
        self.vad: Vad | None = None
        self.device = "cpu"
        self.size = ""

    def setup(self) -> None:
        self.load()

    def load(self) -> None:
        if self.model is not None:
            return
        import torch

        cuda = torch.cuda.is_available()
        size = model_size(cuda=cuda)
        (path,) = require(f"whisper-{size}")
        import whisper

        self.device = "cuda" if cuda else "cpu"
        self.model = whisper.load_model(str(path), device=self.device)
        self.vad = Vad.load()
        self.size = size

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        transcript = self.transcribe(source, options, progress)
        data = transcript.as_json()
        return Artifact(
            extension="json",
            mimetype="application/json",
            format="json",
            data=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
            media=False,
            summary={
                "language": transcript.language,
                "count": len(transcript.segments),
                "model": f"whisper-{self.size}",
            },
        )

    def transcribe(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Transcript:
        info = source.info
        config = SpeechConfig.from_options(options, info.duration)
        self.load()
        stop = config.end if config.end is not None else info.duration
        total = max((stop or 0.0) - config.start, 1e-6)
        language = config.language
        segments: list[Segment] = []
        at = config.start
        while stop is None or at < stop:
            window_end = at + WINDOW_S if stop is None else min(stop, at + WINDOW_S)
            samples = source.audio(at, window_end)
            length = len(samples) / RATE
            if length == 0:
                break
            ceiling = at + length  # no segment may end after the audio it was heard in
            assert self.vad is not None
            calls = groups(self.vad.spans(samples))
            last_window = length < window_end - at - 1.0 or window_end == stop
            if calls and not last_window and calls[-1][-1][1] >= length - 0.05:
                # Speech runs past the window: hear that stretch whole with the next window.
                carried = calls[-1].pop()
                calls = [c for c in calls if c]
                length = carried[0] if carried[0] > 0 else length
            for spans in calls:
                splice = Spliced(tuple(spans))
                raw, language = self._recognise(splice.samples(samples), language)
                floor = segments[-1].end if segments else 0.0
                segments += _clean(raw, splice, at, floor, ceiling)
                progress(min(1.0, (at + spans[-1][1] - config.start) / total))
            at += length
            progress(min(1.0, (at - config.start) / total))
            if last_window:
                break
        return Transcript(language or config.language or "", tuple(segments))

    def _recognise(
        self, samples: np.ndarray, language: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Whisper on one chunk; the language found in the first chunk is kept for the rest."""
        settings: dict[str, Any] = {
            "language": language,
            "task": "transcribe",
            "fp16": self.device == "cuda",
            "verbose": None,
            "condition_on_previous_text": False,
        }
        try:
            result = self.model.transcribe(samples, **settings)
        except ValueError:
            # Whisper's temperature fallback samples from the logits; when its timestamp rules
            # mask every token they are all -inf and sampling fails. Greedy decoding cannot.
            result = self.model.transcribe(samples, temperature=0.0, **settings)
        return list(result.get("segments", [])), language or result.get("language")


def _clean(
    raw: list[dict[str, Any]], splice: Spliced, offset: float, floor: float, ceiling: float
) -> list[Segment]:
    """Whisper's segments in input time (through the splice, plus the window's `offset`):
    text trimmed, empty ones dropped, times kept in order without overlaps and within the
    window's audio (Whisper's timestamps can run past the end of what it heard)."""
    out: list[Segment] = []
    for seg in raw:
        text = " ".join(str(seg.get("text", "")).split())
        if not text:
            continue
        start = min(max(offset + splice.to_source(float(seg["start"])), floor), ceiling)
        end = min(max(offset + splice.to_source(float(seg["end"])), start), ceiling)
        confidence = min(1.0, max(0.0, math.exp(float(seg.get("avg_logprob", -math.inf)))))
        out.append(Segment(start, end, text, confidence))
        floor = end
    return out


class TranscriptOperator(Operator):
    """A kind built on a transcript (subtitles, chapters, outline): it runs `speech` inside,
    with the same Whisper model loaded once per actor and the same resources."""

    resources = SpeechOperator.resources

    def __init__(self) -> None:
        self.speech = SpeechOperator()

    def setup(self) -> None:
        self.speech.setup()
