"""pipeline.media.decoders: the hardware-decode probe, run for real through PyAV.

This machine has no GPU, so the CUDA probe must fail and say why, and decoding must go on
on the CPU. On a GPU node `benchmarks/gpu_check.py` reports the probe's answer instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
import pytest

from operators.geometry import plan_resize
from operators.plans import even_resize
from pipeline.contract.plans import Rendition, VideoPlan
from pipeline.media import decoders, transcode
from pipeline.media.file import MediaFile

NO_GPU = not any(Path("/dev").glob("nvidia[0-9]*"))


@pytest.fixture(autouse=True)
def fresh_probe() -> Iterator[None]:
    decoders.hardware_decoder.cache_clear()
    yield
    decoders.hardware_decoder.cache_clear()


def test_probe_clip_is_the_h264_it_claims(tmp_path: Path) -> None:
    clip = decoders._probe_clip(tmp_path / "probe.mp4")
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.name == "h264"
    assert len(frames) == decoders._PROBE_FRAMES
    assert {(f.width, f.height) for f in frames} == {decoders._PROBE_SIZE}


@pytest.mark.skipif(not NO_GPU, reason="a GPU node: the CUDA probe may pass here")
def test_without_a_gpu_the_cuda_probe_fails_with_a_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = decoders._probe_clip(tmp_path / "probe.mp4")
    assert decoders._decode_problem(clip, "cuda")  # a message, not None
    with caplog.at_level(logging.INFO, logger="pipeline.media.decoders"):
        assert decoders.hardware_decoder() is None
        assert decoders.hwaccel() is None
    assert "decoding on the CPU" in caplog.text


def test_an_unknown_device_type_is_skipped_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(decoders, "DEVICE_TYPES", ("no-such-device",))
    with caplog.at_level(logging.INFO, logger="pipeline.media.decoders"):
        assert decoders.hardware_decoder() is None
    assert "no-such-device not in this FFmpeg build" in caplog.text


def test_the_switch_turns_hardware_decode_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(decoders.DISABLE_ENV, "0")
    with caplog.at_level(logging.INFO, logger="pipeline.media.decoders"):
        assert decoders.hardware_decoder() is None
    assert "off" in caplog.text


def test_frames_decode_on_the_cpu_when_the_probe_fails(tmp_path: Path) -> None:
    clip = decoders._probe_clip(tmp_path / "probe.mp4")
    stills = list(MediaFile(clip).frames())
    assert len(stills) == decoders._PROBE_FRAMES
    assert stills[0].pixels.shape == (144, 256, 3)


def test_nv12_frames_as_nvdec_hands_them_over_go_through_the_transcode_graph(
    tmp_path: Path,
) -> None:
    """NVDEC's frames reach system memory as nv12, where the stream says yuv420p: the
    graph is shaped by the first frame, and the picture comes out the same."""
    clip = decoders._probe_clip(tmp_path / "probe.mp4")
    plan = VideoPlan(
        container="mp4",
        codec="h264",
        renditions=(Rendition(even_resize(plan_resize(256, 144, 128, None, None))),),
        audio=None,
        audio_bitrate=0,
    )

    def through_graph(pixel_format: str) -> list[np.ndarray]:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            frames = [f.reformat(format=pixel_format) for f in container.decode(stream)]
            _graph, buffer, (sink,) = transcode._video_graph(
                stream, plan, Fraction(25), 0.0, frames[0]
            )
            out = []
            for frame in [*frames, None]:
                buffer.push(frame)
                with contextlib.suppress(av.error.BlockingIOError, av.error.EOFError):
                    while True:
                        out.append(sink.pull())
        assert all((f.format.name, f.width, f.height) == ("yuv420p", 128, 72) for f in out)
        return [f.to_ndarray(format="gray") for f in out]

    from_nv12, from_yuv420p = through_graph("nv12"), through_graph("yuv420p")
    assert len(from_nv12) == len(from_yuv420p) == decoders._PROBE_FRAMES
    for a, b in zip(from_nv12, from_yuv420p, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2
