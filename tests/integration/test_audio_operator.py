"""The audio operator on real files: outputs decoded back with PyAV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from operators.audio import AudioOperator
from pipeline.contract.errors import TaskError
from pipeline.contract.media import Artifact
from pipeline.media.file import MediaFile
from tests.integration.conftest import Samples
from tests.support.transcode import decode_all

CODECS = {"mp3": ("mp3", "mp3"), "wav": ("wav", "pcm_s16le"), "ogg": ("ogg", "opus")}


def run(source: Path, tmp_path: Path, **options: Any) -> Artifact:
    return AudioOperator().process(MediaFile(source, workdir=tmp_path / "work"), options)


@pytest.mark.parametrize("fmt", ["mp3", "wav", "ogg"])
def test_a_videos_sound_in_each_format(samples: Samples, tmp_path: Path, fmt: str) -> None:
    artifact = run(samples.clip_with_audio, tmp_path, format=fmt)
    assert artifact.path is not None and artifact.extension == fmt
    out = decode_all(artifact.path)
    assert (out.container, out.audio_codec) == CODECS[fmt]
    assert out.video_codec is None
    assert out.audio_seconds == pytest.approx(2.0, abs=0.06)
    assert artifact.summary["encoder"]


def test_audio_file_trimmed(samples: Samples, tmp_path: Path) -> None:
    artifact = run(samples.audio, tmp_path, format="wav", start=0.25, end=0.75)
    assert artifact.path is not None
    assert decode_all(artifact.path).audio_seconds == pytest.approx(0.5, abs=0.01)


def test_bitrate_sets_the_size(samples: Samples, tmp_path: Path) -> None:
    low = run(samples.clip_with_audio, tmp_path / "low", format="mp3", bitrate=64_000)
    high = run(samples.clip_with_audio, tmp_path / "high", format="mp3", bitrate=256_000)
    assert low.path is not None and high.path is not None
    # 2 s at 64 kbit/s = 16 kB, at 256 kbit/s = 64 kB
    assert low.path.stat().st_size == pytest.approx(16_000, rel=0.25)
    assert high.path.stat().st_size == pytest.approx(64_000, rel=0.25)


def test_video_without_audio_fails_with_no_audio_stream(samples: Samples, tmp_path: Path) -> None:
    with pytest.raises(TaskError) as caught:
        run(samples.clip, tmp_path, format="mp3")
    assert caught.value.code == "no_audio_stream"


def test_start_after_the_end_is_out_of_range(samples: Samples, tmp_path: Path) -> None:
    with pytest.raises(TaskError) as caught:
        run(samples.audio, tmp_path, format="ogg", start=3)
    assert caught.value.code == "option_out_of_range"
