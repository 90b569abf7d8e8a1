"""The video operator on real files: every output is decoded back with PyAV and checked.
CMAF ladders: test_video_cmaf.py."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import av
import pytest

from operators.video import VideoOperator
from pipeline.contract.errors import TaskError
from pipeline.contract.media import Artifact
from pipeline.media import decoders, encoders
from pipeline.media.containers import describe, probe
from pipeline.media.file import MediaFile
from tests.integration.conftest import Samples
from tests.support.media import make_video
from tests.support.samples import make_png_claiming, truncated_copy
from tests.support.transcode import (
    decode_all,
    first_picture,
    make_noise_video,
    make_panning_video,
    make_turned_video,
    make_vfr_video,
    marked_corner,
)

FRAME = 1 / 25
CODECS = {"mp4": ("h264", "aac"), "webm": ("vp9", "opus"), "av1": ("av1", "aac")}


def run(source: Path, tmp_path: Path, progress: Any = None, **options: Any) -> Artifact:
    media = MediaFile(source, workdir=tmp_path / "work", max_pixels=100_000_000)
    if progress is None:
        return VideoOperator().process(media, options)
    return VideoOperator().process(media, options, progress)


def refused(source: Path, tmp_path: Path, **options: Any) -> TaskError:
    with pytest.raises(TaskError) as caught:
        run(source, tmp_path, **options)
    return caught.value


@pytest.mark.parametrize("fmt", ["mp4", "webm", "av1"])
def test_each_format_keeps_size_duration_and_audio(
    samples: Samples, tmp_path: Path, fmt: str
) -> None:
    artifact = run(samples.clip_with_audio, tmp_path, format=fmt)
    assert artifact.path is not None and artifact.media
    out = decode_all(artifact.path)
    assert (out.video_codec, out.audio_codec) == CODECS[fmt]
    assert out.size == (160, 90)
    assert out.video_seconds == pytest.approx(2.0, abs=2 * FRAME)
    assert out.audio_seconds == pytest.approx(2.0, abs=0.05)
    assert artifact.summary["encoder"] in encoders.VIDEO_ENCODERS[CODECS[fmt][0]]
    # The input's decoder, with its device where it decoded on one (no GPU here).
    assert artifact.summary["decoder"] in ("h264", f"h264 ({decoders.hardware_decoder()})")
    assert artifact.extension == ("webm" if fmt == "webm" else "mp4")


@pytest.mark.parametrize(
    ("fmt", "codec", "audio"),
    [("mp4", "hevc", "aac"), ("webm", "vp8", "opus"), ("webm", "av1", "opus")],
)
def test_the_codec_option_picks_another_codec_in_the_same_format(
    samples: Samples, tmp_path: Path, fmt: str, codec: str, audio: str
) -> None:
    artifact = run(samples.clip_with_audio, tmp_path, format=fmt, codec=codec)
    assert artifact.path is not None and artifact.extension == fmt
    out = decode_all(artifact.path)
    assert (out.video_codec, out.audio_codec) == (codec, audio)
    assert out.size == (160, 90)
    assert out.video_seconds == pytest.approx(2.0, abs=2 * FRAME)
    assert describe(probe(artifact.path))["codec"] == codec  # what the output object says
    assert artifact.summary["encoder"] in encoders.VIDEO_ENCODERS[codec]
    if codec == "hevc":  # the tag Apple players need to open HEVC in MP4
        with av.open(str(artifact.path)) as container:
            assert container.streams.video[0].codec_context.codec_tag == "hvc1"


@pytest.mark.parametrize("codec", ["hevc", "vp8"])
def test_quality_and_bitrate_steer_the_new_encoders(tmp_path: Path, codec: str) -> None:
    fmt = "mp4" if codec == "hevc" else "webm"
    sizes = {}
    pan = make_panning_video(tmp_path / "pan.mkv")
    noise = make_noise_video(tmp_path / "noise.mp4")
    for name, source, options in [
        ("q20", pan, {"quality": 20}),
        ("q90", pan, {"quality": 90}),
        ("low", noise, {"bitrate": 100_000}),
        ("high", noise, {"bitrate": 1_000_000}),
    ]:
        artifact = run(source, tmp_path / name, format=fmt, codec=codec, **options)
        assert artifact.path is not None
        sizes[name] = artifact.path.stat().st_size
    assert sizes["q20"] * 2 < sizes["q90"]
    assert sizes["low"] * 3 < sizes["high"]


@pytest.mark.parametrize(
    ("rotation", "corner"),
    [(90, "bottom-left"), (180, "bottom-right"), (-90, "top-right")],
)
def test_a_turned_phone_video_comes_out_upright(tmp_path: Path, rotation: int, corner: str) -> None:
    # Stored 320x180 with the patch top-left; FFmpeg's players turn it counter-clockwise.
    source = make_turned_video(tmp_path / "phone.mp4", rotation=rotation)
    shown = (320, 180) if rotation == 180 else (180, 320)
    assert (probe(source).width, probe(source).height) == shown  # operators size by this
    stored = probe(source, rotated=False)  # the cheaper probe for Strobe's own outputs
    assert (stored.width, stored.height) == (320, 180)
    artifact = run(source, tmp_path, format="mp4")
    assert artifact.path is not None
    assert decode_all(artifact.path).size == shown
    pixels, left_over = first_picture(artifact.path)
    assert marked_corner(pixels) == corner
    assert left_over == 0  # upright in the pixels, so players must not turn it again
    # A requested width is a width of the picture as shown.
    scaled = run(source, tmp_path / "scaled", width=90)
    assert scaled.path is not None
    assert decode_all(scaled.path).size == ((90, 50) if rotation == 180 else (90, 160))
    assert marked_corner(first_picture(scaled.path)[0]) == corner


def test_mp4_has_the_moov_atom_before_the_media_data(samples: Samples, tmp_path: Path) -> None:
    artifact = run(samples.clip_with_audio, tmp_path, format="mp4")
    assert artifact.path is not None
    data = artifact.path.read_bytes()
    assert 0 < data.index(b"moov") < data.index(b"mdat")


def test_input_without_audio_gives_output_without_audio(samples: Samples, tmp_path: Path) -> None:
    artifact = run(samples.clip, tmp_path, format="webm")
    assert artifact.path is not None
    out = decode_all(artifact.path)
    assert out.audio_codec is None and out.video_codec == "vp9"
    assert artifact.summary["audio_encoder"] is None


@pytest.mark.parametrize("fit", ["cover", "contain", "fill"])
def test_fit_modes_give_the_exact_box(samples: Samples, tmp_path: Path, fit: str) -> None:
    artifact = run(samples.clip, tmp_path, width=120, height=120, fit=fit, end=0.2)
    assert artifact.path is not None
    out = decode_all(artifact.path)
    assert out.size == (120, 120)
    with av.open(str(artifact.path)) as container:
        # Square pixels: a player shows the box as it is, not stretched back.
        assert container.streams.video[0].sample_aspect_ratio in (None, 0, 1)


def test_contain_pads_and_cover_fills(tmp_path: Path) -> None:
    bright = make_video(
        tmp_path / "bright.mp4",
        width=320,
        height=180,
        seconds=0.2,
        color_at=lambda t: (200, 200, 200),
    )
    for fit, top_row_dark in (("contain", True), ("cover", False)):
        artifact = run(bright, tmp_path / fit, width=200, height=200, fit=fit)
        assert artifact.path is not None
        with av.open(str(artifact.path)) as container:
            luma = next(container.decode(video=0)).to_ndarray(format="gray")
        assert luma.shape == (200, 200)
        assert bool(luma[2].mean() < 30) is top_row_dark, fit
        assert luma[100].mean() > 150


def test_one_side_keeps_aspect_and_odd_sizes_round_to_even(tmp_path: Path) -> None:
    odd = make_video(tmp_path / "odd.mkv", width=719, height=405, seconds=0.4, codec="ffv1")
    artifact = run(odd, tmp_path, format="mp4")
    assert artifact.path is not None
    out = decode_all(artifact.path)
    assert out.size == (718, 404) and out.video_codec == "h264"
    scaled = run(odd, tmp_path / "scaled", width=301)
    assert scaled.path is not None
    assert decode_all(scaled.path).size == (300, 170)  # 405 * 301 / 719 = 169.6 -> 170


def test_start_and_end_trim(samples: Samples, tmp_path: Path) -> None:
    artifact = run(samples.clip_with_audio, tmp_path, start=0.5, end=1.5)
    assert artifact.path is not None
    out = decode_all(artifact.path)
    assert out.video_seconds == pytest.approx(1.0, abs=2 * FRAME)
    assert out.audio_seconds == pytest.approx(1.0, abs=0.05)
    # steep_ramp: gray level 100 * t, so the first frame shows t = 0.5 and the last t = 1.46
    assert out.first_level == pytest.approx(50, abs=6)
    assert out.last_level == pytest.approx(146, abs=6)


def test_duration_counts_from_start(samples: Samples, tmp_path: Path) -> None:
    artifact = run(samples.clip, tmp_path, start=1.0, duration=0.4)
    assert artifact.path is not None
    out = decode_all(artifact.path)
    assert out.video_seconds == pytest.approx(0.4, abs=2 * FRAME)
    assert out.first_level == pytest.approx(100, abs=6)


def test_fps_resamples_the_frame_rate(samples: Samples, tmp_path: Path) -> None:
    artifact = run(samples.clip, tmp_path, fps=10)
    assert artifact.path is not None
    out = decode_all(artifact.path)
    assert out.fps == pytest.approx(10)
    assert out.frames == 20
    assert describe(probe(artifact.path))["fps"] == pytest.approx(10)


def test_bitrate_and_quality_change_the_size(tmp_path: Path) -> None:
    noise = make_noise_video(tmp_path / "noise.mp4")
    sizes = {}
    for name, options in {
        "low": {"bitrate": 100_000},
        "high": {"bitrate": 1_000_000},
        "q20": {"quality": 20},
        "q90": {"quality": 90},
    }.items():
        artifact = run(noise, tmp_path / name, **options)
        assert artifact.path is not None
        sizes[name] = artifact.path.stat().st_size
    assert sizes["low"] * 3 < sizes["high"]
    assert sizes["q20"] * 2 < sizes["q90"]
    # ~1 s at 100 kbit/s is ~12.5 kB; allow the encoder's first-second overshoot.
    assert sizes["low"] < 40_000


def test_variable_frame_rate_input_becomes_constant(tmp_path: Path) -> None:
    vfr = make_vfr_video(tmp_path / "vfr.mp4")
    artifact = run(vfr, tmp_path, fps=25)
    assert artifact.path is not None
    out = decode_all(artifact.path)
    assert out.fps == pytest.approx(25)
    assert out.video_seconds == pytest.approx(2.0, abs=3 * FRAME)


def test_a_one_frame_video(tmp_path: Path) -> None:
    single = make_video(tmp_path / "one.mp4", width=160, height=90, seconds=0.04)
    artifact = run(single, tmp_path, format="mp4")
    assert artifact.path is not None
    out = decode_all(artifact.path)
    assert out.frames == 1 and out.size == (160, 90)


def test_progress_rises_to_the_end(samples: Samples, tmp_path: Path) -> None:
    seen: list[float] = []
    run(samples.clip, tmp_path, progress=seen.append)
    assert seen == sorted(seen) and len(seen) > 5
    assert seen[-1] > 0.9


def test_start_after_the_end_is_out_of_range(samples: Samples, tmp_path: Path) -> None:
    error = refused(samples.clip, tmp_path, start=5)
    assert error.code == "option_out_of_range" and "start" in error.message


def test_truncated_inputs_are_unreadable(samples: Samples, tmp_path: Path) -> None:
    assert refused(samples.truncated, tmp_path).code == "input_unreadable"  # moov at the end
    # moov at the front (faststart): the header promises 2 s, the data stops early.
    faststart = run(samples.clip, tmp_path / "fs", format="mp4").path
    assert faststart is not None
    cut = truncated_copy(faststart, tmp_path / "cut.mp4", fraction=0.4)
    error = refused(cut, tmp_path / "cut")
    assert error.code == "input_unreadable" and "truncated" in error.message


def test_corrupt_input_is_unreadable(samples: Samples, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    data = bytearray(samples.clip.read_bytes())
    data[:256] = bytes(range(256))
    corrupt.write_bytes(bytes(data))
    assert refused(corrupt, tmp_path).code == "input_unreadable"


def test_huge_pictures_are_refused_before_decoding(tmp_path: Path) -> None:
    huge = make_png_claiming(tmp_path / "huge.png", 16000, 16000)
    assert refused(huge, tmp_path).code == "input_too_large"


def test_encoders_probe_by_opening_and_log_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    encoders.video_encoder.cache_clear()
    with caplog.at_level(logging.INFO, logger="pipeline.media.encoders"):
        chosen = encoders.video_encoder("h264")
    assert chosen == ("h264_nvenc" if encoders.usable("h264_nvenc") else "libx264")
    assert chosen in caplog.text
    if chosen == "libx264":
        assert "h264_nvenc unavailable" in caplog.text
    assert set(encoders.hardware_report()) == {"h264_nvenc", "hevc_nvenc", "av1_nvenc"}
    assert not encoders.usable("no_such_encoder")
