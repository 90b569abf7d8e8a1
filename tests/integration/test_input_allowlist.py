"""Inputs open with the allowed demuxers and the file protocol only, and `max_pixels` holds
wherever an input is opened: the attacks of issue 13, finding 5, against pipeline.media."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipeline.contract.errors import TaskError
from pipeline.contract.plans import AudioPlan, Trim
from pipeline.media.audio_encode import encode_audio
from pipeline.media.containers import probe
from pipeline.media.file import MediaFile
from pipeline.media.pcm import decode_pcm
from tests.integration.conftest import Samples
from tests.support.media import make_image, make_video


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def refused(path: Path) -> TaskError:
    started, fds = time.monotonic(), open_fds()
    with pytest.raises(TaskError) as caught:
        MediaFile(path, max_pixels=100_000_000)
    assert time.monotonic() - started < 2, "refusing an input must be quick"
    assert open_fds() <= fds + 2, "refusing an input must not leave descriptors open"
    return caught.value


def test_a_concat_list_naming_itself_is_refused_before_it_opens_anything(tmp_path: Path) -> None:
    # As uploads and downloads are written: a file called `input` in a scratch folder.
    path = tmp_path / "input"
    path.write_text("ffconcat version 1.0\n" + "file input\n" * 4)
    error = refused(path)
    assert error.code == "input_unreadable"
    assert "container" in error.message and "mp4" in error.message
    assert str(tmp_path) not in error.message


def test_a_concat_list_naming_real_media_is_refused_too(tmp_path: Path, samples: Samples) -> None:
    path = tmp_path / "input"
    path.write_text(f"ffconcat version 1.0\nfile '{samples.clip}'\n")
    assert refused(path).code == "input_unreadable"


def test_an_hls_playlist_is_refused(tmp_path: Path, samples: Samples) -> None:
    path = tmp_path / "input"
    path.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
        f"#EXTINF:2.0,\nfile://{samples.clip}\n#EXT-X-ENDLIST\n"
    )
    assert refused(path).code == "input_unreadable"


def test_an_sdp_description_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "input"
    path.write_text(
        "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\n"
        "m=video 5004 RTP/AVP 96\na=rtpmap:96 H264/90000\n"
    )
    assert refused(path).code == "input_unreadable"


def test_a_text_file_is_refused(samples: Samples) -> None:
    assert refused(samples.text).code == "input_unreadable"


def test_an_image2_pattern_name_opens_only_the_file_named(tmp_path: Path) -> None:
    # `%03d` would make FFmpeg's image2 read a numbered sequence of other files.
    for index in range(1, 4):
        make_image(tmp_path / f"frame{index:03d}.png", width=64, height=48)
    named = make_image(tmp_path / "frame%03d.png", width=32, height=16)
    info = probe(named)
    assert info.is_image and (info.width, info.height) == (32, 16)


@pytest.mark.parametrize("name", ["clip", "clip_with_audio", "photo", "audio"])
def test_the_supported_containers_still_open(samples: Samples, name: str) -> None:
    assert probe(getattr(samples, name)).container in {"mov", "jpeg_pipe", "image2"}


def test_max_pixels_holds_for_audio_and_pcm_decodes(tmp_path: Path) -> None:
    video = make_video(tmp_path / "big.mp4", width=640, height=360, seconds=1.0, audio=True)
    limit = 320 * 180
    with pytest.raises(TaskError) as pcm:
        decode_pcm(video, max_pixels=limit)
    assert pcm.value.code == "input_too_large"
    plan = AudioPlan(container="mp3", codec="mp3", bitrate=128_000, trim=Trim())
    with pytest.raises(TaskError) as audio:
        encode_audio(video, plan, tmp_path / "out", max_pixels=limit)
    assert audio.value.code == "input_too_large"
    assert len(decode_pcm(video, max_pixels=640 * 360)) > 0  # at the limit: decoded
