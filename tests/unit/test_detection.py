"""Timeline merging, options and pixel handling shared by the detection kinds."""

from __future__ import annotations

import numpy as np
import pytest

from operators.detection import (
    Box,
    DetectConfig,
    Found,
    Scan,
    entries,
    label_summary,
    rgb,
    timeline,
)
from pipeline.contract.errors import TaskError

LEFT, RIGHT = Box(0.0, 0.0, 0.4, 0.4), Box(0.6, 0.6, 0.4, 0.4)


def scan_of(*frames: list[Found], interval: float = 1.0) -> Scan:
    return Scan(times=[float(i) for i in range(len(frames))], hits=list(frames), interval=interval)


def test_consecutive_hits_of_one_label_merge_into_one_range() -> None:
    cat = Found("cat", 0.6, LEFT)
    result = scan_of([cat], [Found("cat", 0.9, RIGHT)], [cat], [], [cat])
    items = entries(result, timeline(result), "label", end_limit=10.0)
    assert [(e["start"], e["end"]) for e in items] == [(0.0, 3.0), (4.0, 5.0)]
    # The best frame's score, time and box stand for the range.
    assert items[0]["confidence"] == 0.9 and items[0]["frame"] == 1.0
    assert items[0]["box"] == {"x": 0.6, "y": 0.6, "width": 0.4, "height": 0.4}


def test_two_instances_keep_their_own_tracks_by_overlap() -> None:
    a, b = Found("person", 0.8, LEFT), Found("person", 0.7, RIGHT)
    result = scan_of([a, b], [b], [a, b])
    tracks = timeline(result)
    ranges = sorted((t.start, t.last, t.best.box.x) for t in tracks)
    # The right one is seen in all three frames; the left one is gone in the middle.
    assert ranges == [(0.0, 0, 0.0), (0.0, 2, 0.6), (2.0, 2, 0.0)]
    summary = label_summary(tracks)
    assert summary == [{"label": "person", "count": 3, "frames": 5, "confidence": 0.8}]


def test_text_matches_case_and_spacing_insensitively() -> None:
    result = scan_of([Found("Hello  World", 0.9, LEFT)], [Found("hello world", 0.8, LEFT)])
    assert len(timeline(result)) == 1


def test_end_is_clipped_to_the_input() -> None:
    result = scan_of([Found("x", 0.9, LEFT)], [Found("x", 0.9, LEFT)])
    assert entries(result, timeline(result), "label", end_limit=1.5)[0]["end"] == 1.5


def test_box_from_pixel_corners_is_clipped_and_normalised() -> None:
    box = Box.from_corners(-10, 50, 110, 150, 100, 200)
    assert (box.x, box.y, box.width, box.height) == (0.0, 0.25, 1.0, 0.5)
    assert Box(0, 0, 1, 1).iou(Box(0, 0, 0.5, 1)) == pytest.approx(0.5)


@pytest.mark.parametrize("confidence", [-0.1, 1.5])
def test_confidence_outside_0_to_1_is_out_of_range(confidence: float) -> None:
    with pytest.raises(TaskError) as caught:
        DetectConfig.from_options({"confidence": confidence})
    assert caught.value.code == "option_out_of_range" and "confidence" in caught.value.message


def test_options_default_and_duration_sets_the_end() -> None:
    assert DetectConfig.from_options({}) == DetectConfig(1.0, 0.5, 0.0, None)
    config = DetectConfig.from_options({"fps": 2, "confidence": 0, "start": 1, "duration": 3})
    assert config == DetectConfig(2.0, 0.0, 1.0, 4.0)


def test_gray_and_rgba_pixels_become_rgb() -> None:
    gray = np.full((2, 3), 7, np.uint8)
    assert rgb(gray).shape == (2, 3, 3) and int(rgb(gray)[0, 0, 2]) == 7
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 1] = (0, 0, 0, 255)  # opaque black next to fully transparent
    assert rgb(rgba).tolist() == [[[255, 255, 255], [0, 0, 0]]]
