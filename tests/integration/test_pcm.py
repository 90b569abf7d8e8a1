"""Audio for models: PyAV decode + resample to 16 kHz mono float32, trimmed by time."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.contract.errors import TaskError
from pipeline.media.file import MediaFile
from tests.support.media import make_video
from tests.support.samples import make_audio


def stereo_wav(path: Path, seconds: float = 2.0, rate: int = 44_100) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_f32le", rate=rate)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    return path


def test_stereo_44k_becomes_16k_mono_float32(tmp_path: Path) -> None:
    samples = MediaFile(stereo_wav(tmp_path / "stereo.wav")).audio()
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) == pytest.approx(32_000, abs=40)
    assert 0.3 < float(np.abs(samples).max()) <= 1.0
    # Still a 440 Hz tone after resampling: the spectrum peaks there.
    spectrum = np.abs(np.fft.rfft(samples[:16_000]))
    assert np.argmax(spectrum) == pytest.approx(440, abs=2)


def test_start_and_end_cut_at_the_sample(tmp_path: Path) -> None:
    media = MediaFile(stereo_wav(tmp_path / "stereo.wav"))
    whole = media.audio()
    part = media.audio(0.5, 1.25)
    assert len(part) == 12_000
    # The same samples, once the resampler restarted after the seek has warmed up (2 ms).
    assert np.abs(part[32:] - whole[8_032:20_000]).max() < 0.01
    assert len(media.audio(1.9, 5.0)) == pytest.approx(1_600, abs=40)  # past the end: to the end
    assert len(media.audio(1.0, 1.0)) == 0


def test_a_videos_sound_and_an_audio_file(tmp_path: Path) -> None:
    with_sound = make_video(tmp_path / "v.mp4", seconds=1.0, audio=True)
    assert len(MediaFile(with_sound).audio()) == pytest.approx(16_000, abs=1_200)
    assert len(MediaFile(make_audio(tmp_path / "a.m4a", seconds=1.0)).audio()) > 15_000


def test_no_audio_stream(tmp_path: Path) -> None:
    with pytest.raises(TaskError) as caught:
        MediaFile(make_video(tmp_path / "mute.mp4", seconds=0.5)).audio()
    assert caught.value.code == "no_audio_stream"
