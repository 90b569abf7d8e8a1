"""The cue builder on a long synthetic timeline, and the VTT/SRT it writes read back by
independent parsers (webvtt-py, srt)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import srt
import webvtt

from operators.speech import Segment
from operators.subtitles import MAX_CUE_S, MAX_LINE, MAX_LINES, build_cues, to_srt, to_vtt

_TEXT = (
    "the quick brown fox jumps over a lazy dog while markets rally and rivers rise; "
    "photosynthesis converts light into chemical energy & <tags> stay text"
)
WORDS = _TEXT.split()


def synthetic_timeline(seed: int = 7, count: int = 400) -> list[Segment]:
    """Segments of 1-60 words over 0.3-30 s with gaps, a few with one enormous word, some
    sentence ends inside: what Whisper gives on hours of talk, in the worst shapes."""
    rng = random.Random(seed)
    segments, at = [], 0.0
    for index in range(count):
        n = rng.randint(1, 60)
        words = [rng.choice(WORDS) for _ in range(n)]
        for i in range(n):
            if rng.random() < 0.08:
                words[i] += rng.choice(".?!")
        if index % 97 == 0:
            words.append("x" * 130)  # longer than two lines
        length = rng.uniform(0.3, 30.0)
        segments.append(Segment(at, at + length, " ".join(words), 0.9))
        at += length + rng.choice((0.0, 0.0, 0.2, 2.5))
    return segments


def seconds(clock: str) -> float:
    hours, minutes, rest = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def test_cue_rules_hold_on_a_long_timeline() -> None:
    segments = synthetic_timeline()
    cues = build_cues(segments)
    assert len(cues) > len(segments)
    previous_end = 0.0
    for cue in cues:
        assert 1 <= len(cue.lines) <= MAX_LINES
        assert all(0 < len(line) <= MAX_LINE for line in cue.lines)
        assert previous_end <= cue.start <= cue.end <= cue.start + MAX_CUE_S + 1e-9
        previous_end = cue.end
    # Every word is kept, in order.
    spoken = " ".join(s.text for s in segments).split()
    shown = " ".join(" ".join(c.lines) for c in cues).split()
    assert "".join(shown) == "".join(spoken)
    # Cues stay inside the speech they caption.
    assert cues[0].start == segments[0].start and cues[-1].end <= segments[-1].end + 1e-9


def test_sentence_ends_close_cues() -> None:
    segment = Segment(0.0, 6.0, "This is the first sentence here. And this is the second one.", 1.0)
    cues = build_cues([segment])
    assert [" ".join(c.lines) for c in cues] == [
        "This is the first sentence here.",
        "And this is the second one.",
    ]
    assert cues[0].end == pytest.approx(cues[1].start)


def test_two_lines_are_balanced() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve"
    (cue,) = build_cues([Segment(0.0, 4.0, text, 1.0)])
    assert len(cue.lines) == 2 and abs(len(cue.lines[0]) - len(cue.lines[1])) <= 6


def test_vtt_and_srt_parse_back() -> None:
    cues = build_cues(synthetic_timeline(seed=3, count=60))
    parsed_vtt = webvtt.from_string(to_vtt(cues))
    assert len(parsed_vtt) == len(cues)
    for caption, cue in zip(parsed_vtt, cues, strict=True):
        assert seconds(caption.start) == pytest.approx(cue.start, abs=1e-3)
        assert seconds(caption.end) == pytest.approx(cue.end, abs=1e-3)
        unescaped = [
            x.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for x in caption.lines
        ]
        assert unescaped == list(cue.lines)
    assert "<tags>" not in to_vtt(cues)  # markup characters are escaped in VTT
    parsed_srt = list(srt.parse(to_srt(cues)))
    assert [s.index for s in parsed_srt] == list(range(1, len(cues) + 1))
    for subtitle, cue in zip(parsed_srt, cues, strict=True):
        assert subtitle.start == timedelta(milliseconds=round(cue.start * 1000))
        assert subtitle.end == timedelta(milliseconds=round(cue.end * 1000))
        assert subtitle.content.split("\n") == list(cue.lines)


def test_an_empty_transcript_is_a_valid_empty_track() -> None:
    assert to_vtt([]).startswith("WEBVTT")
    assert len(webvtt.from_string(to_vtt([]))) == 0
    assert list(srt.parse(to_srt([]))) == []
