"""Encode audio with PyAV: an audio-only output (mp3, wav, ogg), and the audio stream that
goes along with a video output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import av.error
import av.filter

from pipeline.contract.errors import NO_AUDIO_STREAM, TaskError
from pipeline.contract.media import Progress, no_progress
from pipeline.contract.plans import AudioPlan, Encoded, Trim
from pipeline.media.containers import open_container
from pipeline.media.encode_steps import Meter, decode_range, duration_seconds, mux, origin_seconds
from pipeline.media.encoders import AUDIO_ENCODERS

AUDIO_CONTAINERS = {"mp3": "mp3", "wav": "wav", "ogg": "ogg"}
# Audio sample rates: keep the input's when the encoder takes it, else this one.
FALLBACK_AUDIO_RATE = 48000


def encode_audio(
    path: Path,
    plan: AudioPlan,
    out_dir: Path,
    progress: Progress = no_progress,
    *,
    max_pixels: int | None = None,
) -> Encoded:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"output.{plan.container}"
    with open_container(path, max_pixels) as source:
        if not source.streams.audio:
            raise TaskError(NO_AUDIO_STREAM, "the input has no audio stream")
        audio = source.streams.audio[0]
        origin = origin_seconds(source)
        meter = Meter(plan.trim, duration_seconds(source), progress)
        with av.open(str(target), "w", format=AUDIO_CONTAINERS[plan.container]) as output:
            out = AudioOut(output, audio, plan.codec, plan.bitrate, plan.trim, origin)
            for _, frame in decode_range(source, None, audio, plan.trim, origin):
                out.push(frame)
                meter.at((frame.time or 0.0) - origin)
            out.push(None)
    return Encoded(path=target, files=(target,), audio_encoder=AUDIO_ENCODERS[plan.codec])


class AudioOut:
    """Trim, resample and encode one audio stream into `output`; a no-op without input."""

    def __init__(
        self,
        output: av.container.OutputContainer,
        source: av.audio.stream.AudioStream | None,
        codec: str | None,
        bitrate: int | None,
        trim: Trim,
        origin: float,
    ) -> None:
        self.output = output
        self.stream: Any = None
        if source is None or codec is None:
            return
        name = AUDIO_ENCODERS[codec]
        spec = av.codec.Codec(name, "w")
        in_rate = source.codec_context.sample_rate or FALLBACK_AUDIO_RATE
        rates = spec.audio_rates
        rate = in_rate if not rates or in_rate in rates else FALLBACK_AUDIO_RATE
        channels = min(2, source.codec_context.channels or 2)
        layout = "stereo" if channels == 2 else "mono"
        self.stream = output.add_stream(name, rate=rate, layout=layout)
        if bitrate:
            self.stream.codec_context.bit_rate = bitrate
        sample_fmt = spec.audio_formats[0].name if spec.audio_formats else "s16"
        self.stream.codec_context.format = sample_fmt
        self.graph = av.filter.Graph()
        start = origin + trim.start
        chain = [
            self.graph.add_abuffer(template=source),
            self.graph.add(
                "atrim", f"start={start}" + (f":end={origin + trim.end}" if trim.end else "")
            ),
            self.graph.add("asetpts", f"PTS-{start}/TB"),
            self.graph.add("aresample", str(rate)),
            self.graph.add(
                "aformat", f"sample_fmts={sample_fmt}:sample_rates={rate}:channel_layouts={layout}"
            ),
            self.graph.add("abuffersink"),
        ]
        for a, b in zip(chain, chain[1:], strict=False):
            a.link_to(b)
        self.graph.configure()
        frame_size = self.stream.codec_context.frame_size
        if frame_size:
            self.graph.set_audio_frame_size(frame_size)

    def push(self, frame: av.AudioFrame | None) -> None:
        if self.stream is None:
            return
        self.graph.push(frame)
        while True:
            try:
                out = self.graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            mux(self.output, self.stream.encode(out))
        if frame is None:
            mux(self.output, self.stream.encode(None))
