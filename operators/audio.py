"""`audio`: the input's audio (an audio file or a video's sound) as mp3, wav or ogg (Opus)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from operators.base import Operator
from operators.catalog import EXTENSIONS, KINDS, MIMETYPES
from operators.options import AudioOptions
from operators.plans import plan_trim
from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress
from pipeline.contract.plans import AudioPlan

# format -> (codec family, default bitrate; None for uncompressed PCM)
FORMATS: dict[str, tuple[str, int | None]] = {
    "mp3": ("mp3", 192_000),
    "wav": ("pcm", None),
    "ogg": ("opus", 128_000),
}


class AudioOperator(Operator):
    kind = "audio"

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        config: AudioOptions = KINDS["audio"].parse_options(options)
        fmt = config.format
        codec, default_bitrate = FORMATS[fmt]
        plan = AudioPlan(
            container=fmt,
            codec=codec,
            bitrate=(config.bitrate or default_bitrate) if default_bitrate else None,
            trim=plan_trim(config.start, config.end, config.duration, source.info.duration),
        )
        encoded = source.encode_audio(plan, progress)
        return Artifact(
            extension=EXTENSIONS[fmt],
            mimetype=MIMETYPES[fmt],
            format=fmt,
            path=encoded.path,
            summary={"encoder": encoded.audio_encoder},
        )
