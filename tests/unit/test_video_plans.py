"""Pure planning for the video kinds: even sizes, trims, the CMAF ladder, encoder settings."""

from __future__ import annotations

import pytest

from operators.base import TaskError
from operators.geometry import plan_resize
from operators.plans import Trim, even_resize, plan_trim
from operators.video import ladder_heights
from pipeline.encoders import DEFAULT_QUALITY, QUALITY, video_options


@pytest.mark.parametrize(
    ("size", "heights"),
    [
        ((1920, 1080), [720, 468, 360]),
        ((640, 360), [234, 144]),
        ((320, 180), [144]),
        ((1440, 1080), [720, 480, 360]),
        ((718, 404), []),  # no smaller even size has exactly this aspect ratio
    ],
)
def test_ladder_rungs_keep_the_exact_aspect_ratio(
    size: tuple[int, int], heights: list[int]
) -> None:
    width, height = size
    assert ladder_heights(width, height) == heights
    for h in heights:
        assert (width * h) % height == 0 and (width * h // height) % 2 == 0


def test_sizes_round_to_even_and_stay_centred() -> None:
    assert even_resize(plan_resize(719, 405, None, None, None)).canvas == (718, 404)
    contain = even_resize(plan_resize(320, 180, 200, 200, "contain"))
    assert contain.canvas == (200, 200) and contain.scaled == (200, 112)
    assert contain.offset == (0, 44)
    cover = even_resize(plan_resize(320, 180, 201, 201, "cover"))
    assert cover.canvas == (200, 200) and cover.scaled[1] >= 200


def test_trim_from_start_end_and_duration() -> None:
    assert plan_trim(None, None, None, 10.0) == Trim(0.0, None)
    assert plan_trim(2.0, None, 3.0, 10.0) == Trim(2.0, 5.0)
    assert plan_trim(1.0, 20.0, None, 10.0) == Trim(1.0, None)  # past the end: to the end
    with pytest.raises(TaskError) as caught:
        plan_trim(10.0, None, None, 10.0)
    assert caught.value.code == "option_out_of_range"


def test_quality_maps_to_crf_and_bitrate_replaces_it() -> None:
    assert video_options("libx264", quality=None, bitrate=None)["crf"] == "22"
    assert QUALITY["libx264"].value(DEFAULT_QUALITY) == 22
    assert video_options("libx264", quality=100, bitrate=None)["crf"] == "12"
    assert video_options("libx264", quality=1, bitrate=None)["crf"] == "45"
    vp9 = video_options("libvpx-vp9", quality=None, bitrate=None)
    assert vp9["b"] == "0" and "crf" in vp9
    assert "crf" not in video_options("libx264", quality=50, bitrate=500_000)
