"""Chapter merging and titling, and the scene detector's scores, as pure functions."""

from __future__ import annotations

import numpy as np

from operators.chapters import Chapter, merge, min_chapter_s, titled
from operators.keywords import keywords
from operators.scenes import THRESHOLD, SceneDetector
from operators.speech import Segment
from pipeline.contract.media import Still


def test_short_chapters_lose_their_weakest_boundary() -> None:
    from operators.scenes import Cut

    cuts = [Cut(10.0, 80.0), Cut(11.0, 30.0), Cut(40.0, 50.0), Cut(59.0, 90.0)]
    chapters = merge(cuts, 0.0, 60.0, min_len=5.0)
    # 10-11 is too short: the weaker cut (11 s) goes; 59-60 too: the cut at 59 goes.
    assert [(c.start, c.end) for c in chapters] == [(0.0, 10.0), (10.0, 40.0), (40.0, 60.0)]
    assert merge([], 0.0, 1.0, 2.0) == [Chapter(0.0, 1.0)]


def test_minimum_length_scales_with_the_input() -> None:
    assert min_chapter_s(12) == 2.0 and min_chapter_s(600) == 12.0 and min_chapter_s(7200) == 30.0


def test_titles_come_from_distinctive_words() -> None:
    segments = [
        Segment(1, 4, "Boil the pasta in salted water until the pasta is tender.", 0.9),
        Segment(5, 9, "Drain the pasta and keep some water.", 0.9),
        Segment(12, 15, "Now the tomato sauce: garlic, olive oil and tomatoes.", 0.9),
        Segment(16, 19, "Simmer the sauce with basil.", 0.9),
    ]
    chapters = titled([Chapter(0, 10), Chapter(10, 20), Chapter(20, 30)], segments)
    assert chapters[0].title.startswith("Pasta")
    assert chapters[1].title.split(", ")[0] in {"Sauce", "Tomato", "Tomatoes"}
    assert chapters[2].title == "Chapter 3"  # nothing said there
    assert keywords(["the and of", ""]) == [[], []]


def test_detector_finds_a_cut_and_ignores_noise() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 60, (90, 160, 3), dtype=np.uint8)
    frames = [Still(i / 4, np.clip(base + i, 0, 255).astype(np.uint8)) for i in range(12)]
    frames += [Still((12 + i) / 4, 255 - base) for i in range(12)]
    detector = SceneDetector()
    detector.feed(frames[:7])
    detector.feed(frames[7:])  # the state carries across batches
    assert [c.time for c in detector.cuts] == [3.0]
    assert detector.cuts[0].score >= THRESHOLD and detector.frames == 24
