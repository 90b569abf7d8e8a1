"""pipeline.media on real files made with PyAV and Pillow: probe, then decode stills."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.contract.errors import TaskError
from pipeline.media.containers import probe
from pipeline.media.file import MediaFile
from tests.integration.conftest import CLIP_FPS, CLIP_SECONDS, CLIP_SIZE, Samples
from tests.support.media import make_image, make_video
from tests.support.samples import (
    level_time,
    make_audio,
    make_png_claiming,
    steep_ramp,
    truncated_copy,
)

ROOT = Path(__file__).resolve().parents[2]
FRAME_S = 1 / CLIP_FPS
LAST_FRAME_S = CLIP_SECONDS - FRAME_S
# Neighbouring frames of a steep_ramp clip differ by 4 gray levels; H.264 keeps them within 1-2.
LEVEL_TOLERANCE = 2


def nearest_frame(at: float) -> float:
    return min(round(at * CLIP_FPS) / CLIP_FPS, LAST_FRAME_S)


def gray_level(pixels: np.ndarray) -> float:
    return float(pixels[..., :3].mean())


# --- probe -------------------------------------------------------------------------------


def test_probe_reads_a_video_without_audio(samples: Samples) -> None:
    info = probe(samples.clip)
    assert (info.width, info.height) == CLIP_SIZE
    assert info.has_video and not info.has_audio and not info.is_image
    assert info.video_codec == "h264" and info.audio_codec is None
    assert info.container == "mov"
    assert info.duration == pytest.approx(CLIP_SECONDS, abs=0.05)
    assert info.fps == pytest.approx(CLIP_FPS)
    assert info.frames == CLIP_SECONDS * CLIP_FPS
    assert not info.has_alpha


def test_probe_reads_a_video_with_audio(samples: Samples) -> None:
    info = probe(samples.clip_with_audio)
    assert info.has_video and info.has_audio and not info.is_image
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == CLIP_SIZE
    assert info.duration == pytest.approx(CLIP_SECONDS, abs=0.1)
    assert info.fps == pytest.approx(CLIP_FPS)
    # The tone adds bits: the container reports the sum of both streams.
    assert (info.bitrate or 0) > (probe(samples.clip).bitrate or 0) > 0


@pytest.mark.parametrize(
    ("fmt", "codecs"),
    [
        ("jpeg", {"mjpeg"}),
        ("png", {"png"}),
        ("webp", {"webp"}),
        ("avif", {"libdav1d", "av1"}),
    ],
)
def test_probe_reads_an_image(tmp_path: Path, fmt: str, codecs: set[str]) -> None:
    path = make_image(tmp_path / f"picture.{fmt}", width=400, height=300, fmt=fmt.upper())
    info = probe(path)
    assert info.is_image and info.has_video and not info.has_audio
    assert (info.width, info.height) == (400, 300)
    assert info.video_codec in codecs
    assert info.duration is None and info.fps is None
    assert not info.has_alpha


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_probe_sees_alpha_in_an_rgba_image(tmp_path: Path, fmt: str) -> None:
    path = make_image(tmp_path / f"rgba.{fmt}", mode="RGBA", fmt=fmt.upper())
    info = probe(path)
    assert info.is_image and info.has_alpha


def test_probe_reads_an_odd_sized_vp9_video(tmp_path: Path) -> None:
    # libx264 refuses odd sizes in yuv420p; VP9 rounds the chroma planes up instead.
    path = make_video(tmp_path / "odd.webm", width=161, height=91, seconds=1.0, codec="libvpx-vp9")
    media = MediaFile(path)
    assert (media.info.width, media.info.height) == (161, 91)
    assert media.info.video_codec == "vp9" and media.info.container == "matroska"
    assert media.still().pixels.shape == (91, 161, 3)


@pytest.mark.parametrize(
    ("name", "codec"), [("tone.m4a", "aac"), ("tone.wav", "pcm_f32le"), ("tone.mp3", "libmp3lame")]
)
def test_probe_reads_audio_only_files(tmp_path: Path, name: str, codec: str) -> None:
    info = probe(make_audio(tmp_path / name, seconds=1.0, codec=codec))
    assert info.has_audio and not info.has_video and not info.is_image
    assert info.width is None and info.height is None and info.video_codec is None
    assert info.audio_codec is not None
    assert info.duration == pytest.approx(1.0, abs=0.1)


def test_still_on_audio_only_input_is_no_video_stream(samples: Samples) -> None:
    media = MediaFile(samples.audio)
    assert not media.info.has_video
    with pytest.raises(TaskError) as caught:
        media.still()
    assert caught.value.code == "no_video_stream"
    assert not caught.value.retryable


@pytest.mark.parametrize("which", ["empty", "text", "truncated"])
def test_unreadable_inputs_fail_with_input_unreadable(
    samples: Samples, tmp_path: Path, which: str
) -> None:
    # Named as the executor and the upload route name their copies: no extension.
    path = tmp_path / "input"
    shutil.copyfile(getattr(samples, which), path)
    with pytest.raises(TaskError) as caught:
        probe(path)
    assert caught.value.code == "input_unreadable"
    assert not caught.value.retryable
    assert len(caught.value.message) > 10


def test_a_text_file_named_txt_is_not_media(samples: Samples) -> None:
    assert samples.text.suffix == ".txt"
    with pytest.raises(TaskError) as caught:
        probe(samples.text)
    assert caught.value.code == "input_unreadable"


def test_random_bytes_named_mp4_are_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(TaskError) as caught:
        MediaFile(path)
    assert caught.value.code == "input_unreadable"


def test_pixel_limit_refuses_a_picture_over_it(tmp_path: Path) -> None:
    # Small enough to decode in-process today (see the next test for why that matters).
    path = make_png_claiming(tmp_path / "big.png", 2000, 1500)
    assert path.stat().st_size < 1000
    with pytest.raises(TaskError) as caught:
        probe(path, max_pixels=1_000_000)
    assert caught.value.code == "input_too_large"
    assert "2000x1500" in caught.value.message
    assert not caught.value.retryable


def test_pixel_limit_allows_a_picture_at_the_limit(tmp_path: Path) -> None:
    path = make_image(tmp_path / "ok.png", width=400, height=300, fmt="PNG")
    assert probe(path, max_pixels=400 * 300).width == 400
    with pytest.raises(TaskError, match="limit"):
        probe(path, max_pixels=400 * 300 - 1)


# VmHWM (peak RSS) belongs to the process image, unlike ru_maxrss, which survives exec and so
# starts at the parent's peak.
_PEAK_RSS_SCRIPT = """
import json, re, sys
from pathlib import Path
from pipeline.contract.errors import TaskError
from pipeline.media.containers import probe
def peak_kib():
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
before = peak_kib()
try:
    probe(Path(sys.argv[1]), max_pixels=100_000_000)
    code = None
except TaskError as exc:
    code = exc.code
print(json.dumps({"code": code, "grew_mib": (peak_kib() - before) / 1024}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_pixel_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    path = make_png_claiming(tmp_path / "huge.png", 16000, 16000)
    # Peak memory is per process: measure in a fresh one.
    run = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_SCRIPT, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(run.stdout)
    assert result["code"] == "input_too_large"
    # Decoding 16000x16000 RGB needs 732 MiB; reading the header needs next to nothing.
    assert result["grew_mib"] < 100, result


# --- still -------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [None, 0.0, 0.51, 1.0, 1.03, 1.29, 1.91, 1.99])
def test_still_returns_the_frame_nearest_to_at(samples: Samples, at: float | None) -> None:
    still = MediaFile(samples.clip).still(at)
    expected = nearest_frame(at or 0.0)
    assert still.timestamp == pytest.approx(expected, abs=1e-3)
    assert still.pixels.shape == (CLIP_SIZE[1], CLIP_SIZE[0], 3)
    assert still.pixels.dtype.name == "uint8"
    # The picture itself says which frame it is, independently of the timestamp.
    assert gray_level(still.pixels) == pytest.approx(steep_ramp(expected)[0], abs=LEVEL_TOLERANCE)


def test_still_in_a_clip_with_one_keyframe_decodes_forward(tmp_path: Path) -> None:
    # The encoder's default GOP (250) is longer than the clip: every seek lands on frame 0.
    path = make_video(tmp_path / "one-gop.mp4", width=160, height=90, color_at=steep_ramp)
    still = MediaFile(path).still(1.51)
    assert still.timestamp == pytest.approx(1.52, abs=1e-3)
    assert level_time(gray_level(still.pixels)) == pytest.approx(1.52, abs=0.02)


@pytest.fixture(scope="module")
def clips_by_container(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("containers")
    codecs = {"mp4": "libx264", "mkv": "libx264", "webm": "libvpx-vp9", "ts": "libx264"}
    return {
        ext: make_video(
            root / f"clip.{ext}",
            width=160,
            height=90,
            seconds=CLIP_SECONDS,
            fps=CLIP_FPS,
            color_at=steep_ramp,
            codec=codec,
            gop=10,
        )
        for ext, codec in codecs.items()
    }


@pytest.mark.parametrize(
    "ext",
    [
        "mp4",
        "mkv",
        "webm",
        "ts",
    ],
)
def test_still_picks_the_right_frame_in_each_container(
    clips_by_container: dict[str, Path], ext: str
) -> None:
    media = MediaFile(clips_by_container[ext])
    assert media.info.duration == pytest.approx(CLIP_SECONDS, abs=0.05)
    stills = {at: media.still(at) for at in (0.0, 0.51, 1.03, 1.91)}
    # The picture first (which frame came back), then the time it is reported at.
    for at, still in stills.items():
        level = gray_level(still.pixels)
        expected_level = steep_ramp(nearest_frame(at))[0]
        assert level == pytest.approx(expected_level, abs=LEVEL_TOLERANCE), f"still({at}) .{ext}"
    for at, still in stills.items():
        expected_s = nearest_frame(at)
        assert still.timestamp == pytest.approx(expected_s, abs=1e-3), f"still({at}) in .{ext}"


@pytest.mark.parametrize("at", [CLIP_SECONDS, CLIP_SECONDS + 0.01, 60.0])
def test_still_at_or_after_the_end_is_out_of_range(samples: Samples, at: float) -> None:
    with pytest.raises(TaskError) as caught:
        MediaFile(samples.clip).still(at)
    assert caught.value.code == "option_out_of_range"
    assert "end of the input" in caught.value.message
    assert not caught.value.retryable


def test_still_of_an_image_is_its_picture(samples: Samples) -> None:
    still = MediaFile(samples.photo).still()
    assert still.pixels.shape == (300, 400, 3)
    red, blue = still.pixels[150, 50], still.pixels[150, 350]
    assert red[0] > 200 and red[2] < 60
    assert blue[2] > 200 and blue[0] < 60


def test_still_of_an_rgba_png_keeps_alpha(tmp_path: Path) -> None:
    still = MediaFile(make_image(tmp_path / "rgba.png", mode="RGBA")).still()
    assert still.pixels.shape == (300, 400, 4)
    assert still.pixels[150, 50, 3] == 255
    assert still.pixels[150, 350, 3] == 128


@pytest.mark.parametrize("ext", ["mkv", "webm"])
def test_still_past_the_data_of_a_cut_short_file_is_not_an_earlier_frame(
    clips_by_container: dict[str, Path], tmp_path: Path, ext: str
) -> None:
    # Matroska keeps its header in front, so a half file still probes as 2 s long.
    cut = truncated_copy(clips_by_container[ext], tmp_path / f"cut.{ext}")
    media = MediaFile(cut)
    assert media.info.duration == pytest.approx(CLIP_SECONDS, abs=0.05)
    try:
        still = media.still(1.91)
    except TaskError as exc:
        assert exc.code == "input_unreadable"
    else:
        assert still.timestamp == pytest.approx(1.92, abs=0.1)


def test_frames_are_sampled_at_the_requested_rate(tmp_path: Path) -> None:
    media = MediaFile(make_video(tmp_path / "s.mp4", width=160, height=90, seconds=3.0, fps=25))
    assert [round(s.timestamp, 2) for s in media.frames(fps=1)] == [0.0, 1.0, 2.0]
    window = [round(s.timestamp, 2) for s in media.frames(fps=2, start=1.0, end=2.6)]
    assert window == [1.0, 1.52, 2.0, 2.52]
    every = list(media.frames())
    assert len(every) == 75 and every[0].pixels.shape == (90, 160, 3)
