"""The image operator on real files: every output is decoded back with PyAV and looked at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from operators.image import ImageOperator
from pipeline.contract.errors import TaskError
from pipeline.contract.media import Artifact
from pipeline.media.file import MediaFile
from tests.integration.conftest import Samples
from tests.support.media import decode_picture, make_image
from tests.support.samples import STRIPES, codec_of, decode_rgba, make_stripes, steep_ramp

CODECS = {"jpeg": {"mjpeg"}, "png": {"png"}, "webp": {"webp"}, "avif": {"libdav1d", "av1"}}
RED, BLUE = (255, 0, 0), (0, 0, 255)


def run(source: Path, tmp_path: Path, **options: Any) -> tuple[Artifact, Path]:
    """Process `source` and write the artifact where PyAV can read it back."""
    artifact = ImageOperator().process(MediaFile(source), options)
    out = tmp_path / f"out.{artifact.extension}"
    out.write_bytes(artifact.data)
    return artifact, out


def close(pixel: np.ndarray, color: tuple[int, ...], tolerance: int = 12) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(color)) <= tolerance))


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif"])
def test_each_format_decodes_with_its_codec_at_the_requested_size(
    samples: Samples, tmp_path: Path, fmt: str
) -> None:
    artifact, out = run(samples.photo, tmp_path, format=fmt, width=200, height=150)
    assert artifact.format == fmt
    assert artifact.mimetype == f"image/{fmt}"
    assert artifact.extension == ("jpg" if fmt == "jpeg" else fmt)
    assert codec_of(out) in CODECS[fmt]
    pixels = decode_picture(out)
    assert pixels.shape == (150, 200, 3)
    assert close(pixels[75, 40], RED, 40) and close(pixels[75, 160], BLUE, 40)


def test_without_options_the_output_is_a_jpeg_of_the_input_size(
    samples: Samples, tmp_path: Path
) -> None:
    artifact, out = run(samples.photo, tmp_path)
    assert artifact.format == "jpeg" and codec_of(out) == "mjpeg"
    assert decode_picture(out).shape == (300, 400, 3)


@pytest.mark.parametrize(
    ("options", "size"),
    [
        ({"width": 200}, (200, 150)),
        ({"height": 100}, (133, 100)),  # 400 * 100 / 300 = 133.3
        ({"width": 401}, (401, 301)),  # upscales, rounding 300.75 up
    ],
)
def test_one_side_keeps_the_aspect_ratio(
    samples: Samples, tmp_path: Path, options: dict[str, int], size: tuple[int, int]
) -> None:
    _, out = run(samples.photo, tmp_path, format="png", **options)
    pixels = decode_picture(out)
    assert (pixels.shape[1], pixels.shape[0]) == size
    assert close(pixels[size[1] // 2, 5], RED) and close(pixels[size[1] // 2, -5], BLUE)


# Stripes (400x300) into a 200x300 box: columns show what happened.
#   fill    squeezes all four stripes to 50 px each;
#   cover   keeps the scale (1.0) and crops the middle 200 px: green and blue only;
#   contain halves the scale (200x150) and pads 75 px above and below.
@pytest.fixture(scope="module")
def stripes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_stripes(tmp_path_factory.mktemp("stripes") / "stripes.png")


def columns(pixels: np.ndarray, row: int, xs: tuple[int, ...]) -> list[np.ndarray]:
    return [pixels[row, x] for x in xs]


def test_fit_fill_stretches(stripes: Path, tmp_path: Path) -> None:
    _, out = run(stripes, tmp_path, format="png", width=200, height=300, fit="fill")
    pixels = decode_picture(out)
    assert pixels.shape == (300, 200, 3)
    for pixel, color in zip(columns(pixels, 150, (25, 75, 125, 175)), STRIPES, strict=True):
        assert close(pixel, color), (pixel, color)


@pytest.mark.parametrize("fit", ["cover", None])  # cover is the default
def test_fit_cover_crops_the_center(stripes: Path, tmp_path: Path, fit: str | None) -> None:
    _, out = run(stripes, tmp_path, format="png", width=200, height=300, fit=fit)
    pixels = decode_picture(out)
    assert pixels.shape == (300, 200, 3)
    green, blue = STRIPES[1], STRIPES[2]
    for row in (2, 150, 297):
        assert close(pixels[row, 2], green) and close(pixels[row, 95], green)
        assert close(pixels[row, 105], blue) and close(pixels[row, 197], blue)


def test_fit_contain_pads_with_transparency_in_png(stripes: Path, tmp_path: Path) -> None:
    _, out = run(stripes, tmp_path, format="png", width=200, height=300, fit="contain")
    pixels = decode_rgba(out)
    assert pixels.shape == (300, 200, 4)
    assert (pixels[:74, :, 3] == 0).all() and (pixels[226:, :, 3] == 0).all()
    for pixel, color in zip(columns(pixels, 150, (25, 75, 125, 175)), STRIPES, strict=True):
        assert close(pixel, (*color, 255)), (pixel, color)


def test_fit_contain_pads_with_black_in_jpeg(stripes: Path, tmp_path: Path) -> None:
    # 400x300 into 400x100: scale 1/3 -> 133x100, centered, black bars left and right.
    _, out = run(stripes, tmp_path, format="jpeg", width=400, height=100, fit="contain")
    pixels = decode_picture(out)
    assert pixels.shape == (100, 400, 3)
    assert close(pixels[50, 60], (0, 0, 0)) and close(pixels[50, 340], (0, 0, 0))
    assert close(pixels[50, 150], STRIPES[0], 40) and close(pixels[50, 250], STRIPES[3], 40)


def test_rgba_to_webp_keeps_alpha(tmp_path: Path) -> None:
    source = make_image(tmp_path / "rgba.png", mode="RGBA")
    _, out = run(source, tmp_path, format="webp", width=200)
    pixels = decode_rgba(out)
    assert pixels.shape == (150, 200, 4)
    assert abs(int(pixels[75, 20, 3]) - 255) <= 2
    assert abs(int(pixels[75, 180, 3]) - 128) <= 2
    assert close(pixels[75, 180, :3], BLUE, 20)


def test_rgba_to_png_keeps_alpha_exactly(tmp_path: Path) -> None:
    source = make_image(tmp_path / "rgba.png", mode="RGBA")
    _, out = run(source, tmp_path, format="png")
    pixels = decode_rgba(out)
    assert pixels[150, 50].tolist() == [255, 0, 0, 255]
    assert pixels[150, 350].tolist() == [0, 0, 255, 128]


def test_rgba_to_avif_keeps_alpha(tmp_path: Path) -> None:
    source = make_image(tmp_path / "rgba.png", mode="RGBA")
    _, out = run(source, tmp_path, format="avif", width=200)
    assert codec_of(out) in CODECS["avif"]
    # FFmpeg does not read AVIF's separate alpha item; Pillow does.
    with Image.open(out) as picture:
        assert picture.mode == "RGBA" and picture.size == (200, 150)
        pixels = np.asarray(picture)
    assert abs(int(pixels[75, 20, 3]) - 255) <= 4
    assert abs(int(pixels[75, 180, 3]) - 128) <= 4


def test_rgba_to_jpeg_flattens_onto_white(tmp_path: Path) -> None:
    source = make_image(tmp_path / "rgba.png", mode="RGBA")
    _, out = run(source, tmp_path, format="jpeg")
    pixels = decode_picture(out)
    assert pixels.shape == (300, 400, 3)
    assert close(pixels[150, 50], RED)
    # Blue at alpha 128 over white: 255 * (1 - 128/255) = 127 in red and green.
    assert close(pixels[150, 350], (127, 127, 255))


@pytest.mark.parametrize(("start", "frame_s"), [(None, 0.0), (0.51, 0.52), (1.03, 1.04)])
def test_start_on_a_video_picks_that_frame(
    samples: Samples, tmp_path: Path, start: float | None, frame_s: float
) -> None:
    _, out = run(samples.clip, tmp_path, format="png", start=start, width=80)
    pixels = decode_picture(out)
    assert pixels.shape == (45, 80, 3)
    assert float(pixels.mean()) == pytest.approx(steep_ramp(frame_s)[0], abs=2)


def test_start_on_an_image_is_out_of_range(samples: Samples) -> None:
    with pytest.raises(TaskError) as caught:
        ImageOperator().process(MediaFile(samples.photo), {"start": 1.0})
    assert caught.value.code == "option_out_of_range"
    assert "image" in caught.value.message


def test_start_after_the_end_of_a_video_is_out_of_range(samples: Samples) -> None:
    with pytest.raises(TaskError) as caught:
        ImageOperator().process(MediaFile(samples.clip), {"start": 5.0})
    assert caught.value.code == "option_out_of_range"


def test_audio_only_input_has_no_video_stream(samples: Samples) -> None:
    with pytest.raises(TaskError) as caught:
        ImageOperator().process(MediaFile(samples.audio), {"format": "jpeg"})
    assert caught.value.code == "no_video_stream"


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Detail for the encoder to spend bits on; flat colors compress alike at any quality.
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (180, 240, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("noisy") / "noisy.png"
    Image.fromarray(pixels, "RGB").save(path)
    return path


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_lower_quality_makes_a_smaller_file(noisy: Path, tmp_path: Path, fmt: str) -> None:
    low, _ = run(noisy, tmp_path, format=fmt, quality=20)
    high, _ = run(noisy, tmp_path, format=fmt, quality=90)
    default, out = run(noisy, tmp_path, format=fmt)
    assert len(low.data) < len(default.data) < len(high.data)
    assert decode_picture(out).shape == (180, 240, 3)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # Stored 400x200, red left / blue right, tagged "rotate 90 degrees clockwise to display".
    stored = Image.new("RGB", (400, 200), RED)
    stored.paste(BLUE, (200, 0, 400, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    source = tmp_path / "phone.jpg"
    stored.save(source, exif=exif)
    _, out = run(source, tmp_path, format="png")
    pixels = decode_picture(out)
    assert pixels.shape == (400, 200, 3)  # displayed portrait
    assert close(pixels[20, 100], RED, 40) and close(pixels[380, 100], BLUE, 40)
