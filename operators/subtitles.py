"""`subtitles`: a WebVTT (default) or SRT track from the speech transcript.

Whisper's segments are often too long to read at once, so they are re-cut into cues that
follow common captioning guidance: at most two lines of `MAX_LINE` characters, at most
`MAX_CUE_S` on screen, never overlapping, and broken after sentence ends where possible.
Whisper gives times per segment, not per word, so a segment's time is shared among its
words by their length.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from operators.catalog import KINDS
from operators.speech import Segment, TranscriptOperator
from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress

MAX_LINE = 42
MAX_LINES = 2
MAX_CUE_S = 7.0
MIN_SENTENCE_CHARS = 20  # a sentence end closes the cue once it holds this much text
SENTENCE_END = re.compile(r"[.!?…。？！]$")
FORMATS = {"vtt": "text/vtt", "srt": "application/x-subrip"}


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


@dataclass(frozen=True)
class _Word:
    start: float
    end: float
    text: str


def words_of(segment: Segment) -> list[_Word]:
    """The segment's words, its time shared out by their length (plus one for the space)."""
    tokens = segment.text.split()
    pieces = [p for t in tokens for p in _split_long(t)]
    if not pieces:
        return []
    weights = [len(p) + 1 for p in pieces]
    per_char = (segment.end - segment.start) / sum(weights)
    out, at = [], segment.start
    for piece, weight in zip(pieces, weights, strict=True):
        out.append(_Word(at, at + weight * per_char, piece))
        at += weight * per_char
    return out


def _split_long(token: str) -> list[str]:
    return [token[i : i + MAX_LINE] for i in range(0, len(token), MAX_LINE)] or [token]


def wrap(text: str, width: int = MAX_LINE) -> list[str]:
    """Greedy word wrap (words are never longer than `width`, see `_split_long`)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def balance(text: str, width: int = MAX_LINE) -> tuple[str, ...]:
    """One line if it fits, else the two-line split with the shortest longer line."""
    if len(text) <= width:
        return (text,)
    words = text.split()
    best: tuple[str, ...] = tuple(wrap(text, width))
    best_len = max(len(line) for line in best) if len(best) <= MAX_LINES else width + 1
    for cut in range(1, len(words)):
        top, bottom = " ".join(words[:cut]), " ".join(words[cut:])
        longest = max(len(top), len(bottom))
        if longest <= width and longest < best_len:
            best, best_len = (top, bottom), longest
    return best


def build_cues(segments: Sequence[Segment]) -> list[Cue]:
    """Readable cues from timed segments: <= 2 lines of ~42 characters, <= 7 s, in order,
    no overlaps."""
    cues: list[Cue] = []
    current: list[_Word] = []

    def close() -> None:
        if current:
            text = " ".join(w.text for w in current)
            start = max(current[0].start, cues[-1].end if cues else 0.0)
            end = max(start, min(current[-1].end, start + MAX_CUE_S))
            cues.append(Cue(start, end, balance(text)))
            current.clear()

    for segment in segments:
        for word in words_of(segment):
            if current:
                text = " ".join([*(w.text for w in current), word.text])
                too_long = len(wrap(text)) > MAX_LINES or word.end - current[0].start > MAX_CUE_S
                gap = word.start - current[-1].end > 1.0
                if too_long or gap:
                    close()
            current.append(word)
            if SENTENCE_END.search(word.text) and sum(len(w.text) for w in current) >= (
                MIN_SENTENCE_CHARS
            ):
                close()
        close()  # a segment's end is a pause in speech: no cue spans two segments
    return cues


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}{separator}{millis % 1000:03d}"


def _vtt_text(line: str) -> str:
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(cues: Sequence[Cue]) -> str:
    out = ["WEBVTT", ""]
    for cue in cues:
        out.append(f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}")
        out += [_vtt_text(line) for line in cue.lines]
        out.append("")
    return "\n".join(out)


def to_srt(cues: Sequence[Cue]) -> str:
    out = []
    for number, cue in enumerate(cues, start=1):
        out += [str(number), f"{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}"]
        out += [*cue.lines, ""]
    return "\n".join(out)


class SubtitlesOperator(TranscriptOperator):
    """Runs `speech` (the same Whisper model, loaded once) and re-cuts its timeline."""

    kind = "subtitles"

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        fmt = KINDS["subtitles"].parse_options(options).format
        transcript = self.speech.transcribe(source, options, progress)
        cues = build_cues(transcript.segments)
        text = to_srt(cues) if fmt == "srt" else to_vtt(cues)
        return Artifact(
            extension=fmt,
            mimetype=FORMATS[fmt],
            format=fmt,
            data=text.encode(),
            media=False,
            summary={"language": transcript.language, "count": len(cues)},
        )
