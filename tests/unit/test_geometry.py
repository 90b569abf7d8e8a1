"""`plan_resize`: the output box for width/height/fit, and where the picture lands in it."""

from __future__ import annotations

import pytest

from operators.geometry import plan_resize
from pipeline.contract.plans import ResizePlan


def plain(width: int, height: int) -> ResizePlan:
    return ResizePlan(scaled=(width, height), canvas=(width, height), offset=(0, 0))


@pytest.mark.parametrize(
    ("src", "width", "height", "expected"),
    [
        ((400, 300), 200, None, (200, 150)),
        ((400, 300), None, 150, (200, 150)),
        ((1920, 1080), 1280, None, (1280, 720)),
        ((1080, 1920), None, 640, (360, 640)),
        ((333, 333), 100, None, (100, 100)),
        ((1000, 10), 10, None, (10, 1)),  # never rounds down to zero
        ((10, 1000), None, 10, (1, 10)),
    ],
)
def test_one_dimension_keeps_the_aspect_ratio(
    src: tuple[int, int], width: int | None, height: int | None, expected: tuple[int, int]
) -> None:
    assert plan_resize(*src, width, height, None) == plain(*expected)


@pytest.mark.parametrize("fit", [None, "cover", "contain", "fill"])
def test_fit_does_not_matter_with_one_dimension(fit: str | None) -> None:
    assert plan_resize(400, 300, 200, None, fit) == plain(200, 150)


def test_no_size_keeps_the_source_size() -> None:
    assert plan_resize(640, 480, None, None, "cover") == plain(640, 480)


def test_fill_stretches_to_the_exact_box() -> None:
    assert plan_resize(400, 300, 200, 200, "fill") == plain(200, 200)


def test_cover_scales_up_to_fill_the_box_then_crops_the_middle() -> None:
    plan = plan_resize(400, 300, 200, 200, "cover")
    assert plan == ResizePlan(scaled=(267, 200), canvas=(200, 200), offset=(-34, 0))


def test_cover_is_the_default_fit() -> None:
    assert plan_resize(400, 300, 200, 200, None) == plan_resize(400, 300, 200, 200, "cover")


def test_contain_scales_down_to_fit_then_pads_the_middle() -> None:
    plan = plan_resize(400, 300, 200, 200, "contain")
    assert plan == ResizePlan(scaled=(200, 150), canvas=(200, 200), offset=(0, 25))


SHAPES = [
    (400, 300, 200, 200),
    (300, 400, 200, 200),
    (1920, 1080, 100, 100),
    (1920, 1080, 1000, 200),
    (1080, 1920, 300, 301),
    (7, 3, 640, 480),  # upscaling
    (641, 479, 33, 17),
    (1, 1, 5, 9),
]


@pytest.mark.parametrize(("src_w", "src_h", "width", "height"), SHAPES)
@pytest.mark.parametrize("fit", ["cover", "contain"])
def test_cover_and_contain_keep_the_aspect_and_centre_the_picture(
    src_w: int, src_h: int, width: int, height: int, fit: str
) -> None:
    plan = plan_resize(src_w, src_h, width, height, fit)
    assert plan.canvas == (width, height)
    scaled_w, scaled_h = plan.scaled
    if fit == "cover":
        assert scaled_w >= width and scaled_h >= height
    else:
        assert scaled_w <= width and scaled_h <= height
    assert scaled_w == width or scaled_h == height  # one side fits exactly
    # aspect ratio kept to within a pixel of rounding
    assert abs(scaled_w * src_h - scaled_h * src_w) <= max(src_w, src_h)
    for room, at in ((width - scaled_w, plan.offset[0]), (height - scaled_h, plan.offset[1])):
        # the margin (or crop) on the far side differs from this side's by at most one pixel
        assert abs((room - at) - at) <= 1
