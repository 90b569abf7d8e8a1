"""`chapters`: scene boundaries merged into chapters, titled from what is said in them.

Shots come from `operators.scenes` (sampled frames, content-change detector). Chapters shorter
than a minimum (`min_chapter_s`: a fiftieth of the input, between 2 and 30 s) are merged
away by dropping their weakest boundary first. When the input has sound and the Whisper
model is installed, each chapter is titled with the words that set its speech apart
(TF-IDF against the other chapters); otherwise "Chapter N". JSON by default; `format: vtt`
writes a WebVTT chapters track (one cue per chapter, its title as the text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from operators.catalog import KINDS
from operators.keywords import keywords, title
from operators.options import WholeInputTranscriptOptions, parse
from operators.scenes import Cut, detect_cuts
from operators.speech import Segment, TranscriptOperator
from operators.subtitles import Cue, to_vtt
from pipeline.contract.errors import MODEL_MISSING, TaskError
from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress

MIN_CHAPTER_FRACTION = 1 / 50
MIN_CHAPTER_S, MAX_MIN_CHAPTER_S = 2.0, 30.0
SCAN_SHARE = 0.5  # of the progress, when speech runs too
DECIMALS = 3


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float
    title: str = ""


def min_chapter_s(duration: float) -> float:
    return min(MAX_MIN_CHAPTER_S, max(MIN_CHAPTER_S, duration * MIN_CHAPTER_FRACTION))


def merge(cuts: Sequence[Cut], start: float, end: float, min_len: float) -> list[Chapter]:
    """Chapters between the cuts, none shorter than `min_len` (unless the input is): while one
    is, the weaker of its two boundaries goes."""
    kept = [c for c in cuts if start < c.time < end]
    while kept:
        edges = [start, *(c.time for c in kept), end]
        short = [i for i in range(len(edges) - 1) if edges[i + 1] - edges[i] < min_len]
        if not short:
            break
        # Boundary candidates: cut i-1 starts chapter i, cut i ends it.
        candidates = {j for i in short for j in (i - 1, i) if 0 <= j < len(kept)}
        weakest = min(candidates, key=lambda j: (kept[j].score, j))
        del kept[weakest]
    edges = [start, *(c.time for c in kept), end]
    return [Chapter(a, b) for a, b in zip(edges, edges[1:], strict=False)]


def titled(chapters: Sequence[Chapter], segments: Sequence[Segment]) -> list[Chapter]:
    """Titles from the words spoken in each chapter (by segment midpoint); "Chapter N" where
    nothing distinctive was said."""
    texts = []
    for chapter in chapters:
        inside = [s.text for s in segments if chapter.start <= (s.start + s.end) / 2 < chapter.end]
        texts.append(" ".join(inside))
    words = keywords(texts) if segments else [[] for _ in chapters]
    return [
        Chapter(c.start, c.end, title(w) if w else f"Chapter {i + 1}")
        for i, (c, w) in enumerate(zip(chapters, words, strict=True))
    ]


class ChaptersOperator(TranscriptOperator):
    kind = "chapters"

    def setup(self) -> None:
        """Whisper is optional here: without it chapters are numbered, not titled, and each
        task looks for the model again (`_speech`)."""
        try:
            super().setup()
        except TaskError as exc:
            if exc.code != MODEL_MISSING:
                raise

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        info = source.info
        share = SCAN_SHARE if info.has_audio else 1.0
        found = detect_cuts(source, progress=lambda done: progress(share * done))
        end = info.duration or 0.0
        chapters = merge(found.cuts, 0.0, end, min_chapter_s(end))
        segments, titles_from = self._speech(source, options, progress, share)
        chapters = titled(chapters, segments)
        data = {
            "titles": titles_from,
            "chapters": [
                {
                    "index": i,
                    "start": round(c.start, DECIMALS),
                    "end": round(c.end, DECIMALS),
                    "title": c.title,
                }
                for i, c in enumerate(chapters)
            ],
        }
        fmt = KINDS["chapters"].parse_options(options).format
        if fmt == "vtt":
            body = to_vtt([Cue(c.start, c.end, (c.title,)) for c in chapters]).encode()
        else:
            body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        return Artifact(
            extension=fmt,
            mimetype="text/vtt" if fmt == "vtt" else "application/json",
            format=fmt,
            data=body,
            media=False,
            summary={"count": len(chapters), "titles": titles_from},
        )

    def _speech(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress, share: float
    ) -> tuple[tuple[Segment, ...], str]:
        """The transcript's segments when the input has sound and Whisper is installed."""
        if not source.info.has_audio:
            return (), "numbered"
        speech_options = {"language": parse(WholeInputTranscriptOptions, options).language}
        try:
            transcript = self.speech.transcribe(
                source, speech_options, lambda done: progress(share + (1 - share) * done)
            )
        except TaskError as exc:
            if exc.code != MODEL_MISSING:
                raise
            return (), "numbered"
        return transcript.segments, "transcript"
