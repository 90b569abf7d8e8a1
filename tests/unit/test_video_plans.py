"""Pure planning for the video kinds: even sizes, trims, the CMAF ladder, codecs, encoder
settings."""

from __future__ import annotations

from fractions import Fraction

import pytest

from operators.geometry import plan_resize
from operators.options import VideoOptions
from operators.plans import even_resize, plan_trim, shrink_resize
from operators.video import ladder_sizes, sample_aspect, video_codec
from pipeline.contract.errors import TaskError
from pipeline.contract.plans import Rendition, Trim
from pipeline.media.dash import adaptation_sets
from pipeline.media.encoders import DEFAULT_QUALITY, QUALITY, video_options


@pytest.mark.parametrize(
    ("size", "rungs"),
    [
        ((1920, 1080), [(1280, 720), (854, 480), (640, 360)]),
        ((854, 480), [(640, 360), (426, 240), (256, 144)]),
        ((640, 360), [(426, 240), (256, 144)]),
        ((320, 180), [(256, 144)]),
        ((1440, 1080), [(960, 720), (640, 480), (480, 360)]),
        ((718, 404), [(640, 360), (426, 240), (256, 144)]),
        # Portrait (phone video): the short side steps down, as the height does above.
        ((1080, 1920), [(720, 1280), (480, 854), (360, 640)]),
        ((180, 320), [(144, 256)]),
    ],
)
def test_ladder_rungs_take_the_nearest_even_width(
    size: tuple[int, int], rungs: list[tuple[int, int]]
) -> None:
    width, height = size
    assert ladder_sizes(width, height) == rungs
    for w, h in rungs:
        assert w % 2 == 0 and h % 2 == 0
        assert abs(w * height / (h * width) - 1) <= 0.01


@pytest.mark.parametrize(
    ("top", "rung", "sar"),
    [
        ((854, 480), (640, 360), Fraction(1281, 1280)),
        ((854, 480), (426, 240), Fraction(427, 426)),
        ((1920, 1080), (854, 480), Fraction(1280, 1281)),
        ((320, 180), (256, 144), Fraction(1)),
    ],
)
def test_a_rungs_sample_aspect_gives_the_tops_shape_exactly(
    top: tuple[int, int], rung: tuple[int, int], sar: Fraction
) -> None:
    assert sample_aspect(top, rung) == sar
    assert Fraction(rung[0]) * sar / rung[1] == Fraction(*top)


def test_a_lower_rung_keeps_the_tops_crop_or_padding() -> None:
    cover = even_resize(plan_resize(1920, 1080, 1000, 1000, "cover"))
    rung = shrink_resize(cover, (720, 720))
    assert rung.canvas == (720, 720) and rung.scaled == (1280, 720)
    contain = even_resize(plan_resize(1920, 1080, 1000, 1000, "contain"))
    rung = shrink_resize(contain, (480, 480))
    assert rung.canvas == (480, 480) and rung.scaled == (480, 270) and rung.offset == (0, 105)


def test_dash_gets_one_set_per_rung_only_for_non_square_pixels() -> None:

    plan = plan_resize(320, 180, None, None, None)
    square = [Rendition(plan), Rendition(plan)]
    assert adaptation_sets(square, True) == "id=0,streams=v id=1,streams=a"
    mixed = [Rendition(plan), Rendition(plan, sample_aspect=Fraction(1281, 1280))]
    assert adaptation_sets(mixed, False) == "id=0,streams=0 id=1,streams=1"


@pytest.mark.parametrize(
    ("fmt", "codec", "chosen"),
    [
        ("mp4", None, "h264"),
        ("mp4", "hevc", "hevc"),
        ("webm", None, "vp9"),
        ("webm", "vp8", "vp8"),
        ("webm", "av1", "av1"),
        ("av1", None, "av1"),
        ("cmaf", "hevc", "hevc"),
    ],
)
def test_codec_defaults_per_format(fmt: str, codec: str | None, chosen: str) -> None:
    assert video_codec(VideoOptions(format=fmt, codec=codec)) == chosen


def test_a_codec_the_format_cannot_hold_is_refused() -> None:
    with pytest.raises(TaskError) as caught:
        video_codec(VideoOptions(format="mp4", codec="vp9"))
    assert "h264, hevc" in caught.value.message


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


def test_new_encoders_map_quality_onto_their_own_scales() -> None:
    # x265's CRF runs about 5 above x264's for the same look.
    assert int(video_options("libx265", quality=None, bitrate=None)["crf"]) == 22 + 5
    # VP8: the CRF is also the best quantizer, under a bitrate ceiling sized by the picture.
    vp8 = video_options("libvpx", quality=None, bitrate=None, pixel_rate=1280 * 720 * 30)
    assert vp8["qmin"] == vp8["crf"] == str(QUALITY["libvpx"].value(DEFAULT_QUALITY))
    assert 5_000_000 < int(vp8["b"]) < 20_000_000
    assert int(video_options("libvpx", quality=None, bitrate=None)["b"]) > 0
    assert "crf" not in video_options("libvpx", quality=None, bitrate=800_000)
    for encoder in ("libx265", "libvpx", "libsvtav1"):
        best = int(video_options(encoder, quality=100, bitrate=None)["crf"])
        worst = int(video_options(encoder, quality=1, bitrate=None)["crf"])
        assert best < worst
