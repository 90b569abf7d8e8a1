"""Encode plans with PyAV: decode the input once, filter, encode one or many outputs.

Frames stay in FFmpeg's own formats (yuv420p) end to end: a filter graph trims, converts
the frame rate, scales, turns the picture upright, crops or pads; no numpy round trip. For
CMAF every rendition is fed from the same decoded frame, and FFmpeg's DASH muxer writes
fMP4 segments with both a DASH manifest and HLS playlists over the same segments.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import av.filter
from av.video.frame import PictureType

from pipeline.contract.errors import (
    INPUT_UNREADABLE,
    NO_VIDEO_STREAM,
    OPTION_OUT_OF_RANGE,
    TaskError,
)
from pipeline.contract.media import Progress, no_progress
from pipeline.contract.plans import Encoded, Rendition, Trim, VideoPlan
from pipeline.media.audio_encode import AudioOut
from pipeline.media.containers import is_cover_art, open_container
from pipeline.media.dash import adaptation_sets, merge_video_sets
from pipeline.media.decoders import hardware_decoder, hwaccel
from pipeline.media.encode_steps import Meter, decode_range, duration_seconds, mux, origin_seconds
from pipeline.media.encoders import AUDIO_ENCODERS, CODEC_TAGS, video_encoder, video_options
from pipeline.media.hls import mark_vod

DEFAULT_FPS = Fraction(25)
MAX_FPS_DENOMINATOR = 1001
# Names the CMAF output uses for the files it writes, relative to the output folder.
CMAF_MPD, CMAF_MASTER = "manifest.mpd", "master.m3u8"
CMAF_OPTIONS = {
    "hls_playlist": "1",
    "hls_master_name": CMAF_MASTER,
    "use_template": "1",
    "use_timeline": "1",
    "init_seg_name": "init-$RepresentationID$.m4s",
    "media_seg_name": "seg-$RepresentationID$-$Number%05d$.m4s",
}
CONTAINERS = {"mp4": ("mp4", {"movflags": "+faststart"}), "webm": ("webm", {})}
# A decode may end this much before the probed duration before the input counts as truncated.
TRUNCATION_SLACK_S = 1.0


def encode_video(
    path: Path,
    plan: VideoPlan,
    out_dir: Path,
    progress: Progress = no_progress,
    *,
    max_pixels: int | None = None,
) -> Encoded:
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder = video_encoder(plan.codec)
    with open_container(path, max_pixels, hwaccel()) as source:
        video = next((s for s in source.streams.video if not is_cover_art(s)), None)
        if video is None:
            raise TaskError(NO_VIDEO_STREAM, "the input has no video stream")
        audio = source.streams.audio[0] if plan.audio and source.streams.audio else None
        video.thread_type = "AUTO"
        rate = _rate(plan.fps, video)
        origin = origin_seconds(source)
        if plan.container == "cmaf":
            target = out_dir / CMAF_MPD
            fmt, options = "dash", {**CMAF_OPTIONS, "seg_duration": f"{plan.segment_seconds:g}"}
            options["adaptation_sets"] = adaptation_sets(plan.renditions, audio is not None)
        else:
            target = out_dir / f"output.{plan.container}"
            fmt, options = CONTAINERS[plan.container]
        with av.open(str(target), "w", format=fmt, options=options) as output:
            gop = max(1, round(plan.segment_seconds * rate)) if plan.container == "cmaf" else 0
            tag = CODEC_TAGS.get(plan.codec) if plan.container in ("mp4", "cmaf") else None
            outs = [_add_video(output, encoder, r, rate, gop, tag) for r in plan.renditions]
            audio_out = AudioOut(output, audio, plan.audio, plan.audio_bitrate, plan.trim, origin)
            meter = Meter(plan.trim, duration_seconds(source), progress)
            last = None
            # Built at the first frame, which carries the display rotation. The graph owns
            # the filter contexts: keep a reference while they are used.
            graph: tuple[Any, Any, list[Any]] | None = None
            for stream, frame in decode_range(source, video, audio, plan.trim, origin):
                if stream is video:
                    graph = graph or _video_graph(video, plan, rate, origin, frame)
                    _, buffer, sinks = graph
                    buffer.push(frame)
                    for sink, out in zip(sinks, outs, strict=True):
                        _drain(sink, out, output, gop)
                    last = frame.time
                    meter.at((frame.time or 0.0) - origin)
                else:
                    audio_out.push(frame)
            if graph is not None:
                _, buffer, sinks = graph
                buffer.push(None)
                for sink, out in zip(sinks, outs, strict=True):
                    _drain(sink, out, output, gop)
            for out in outs:
                mux(output, out.encode(None))
            audio_out.push(None)
        _check_complete(video, last, origin, plan.trim)
    if plan.container == "cmaf":
        merge_video_sets(target, plan.renditions)
        mark_vod(out_dir)
        files = tuple(sorted(p for p in out_dir.iterdir() if p.is_file()))
        main = out_dir / CMAF_MASTER
    else:
        files, main = (target,), target
    return Encoded(
        path=main,
        files=files,
        video_encoder=encoder,
        video_decoder=_decoder_name(video),
        audio_encoder=AUDIO_ENCODERS[plan.audio] if audio is not None and plan.audio else None,
    )


def _decoder_name(stream: av.video.stream.VideoStream) -> str:
    """The decoder that ran, with the device when it decoded on hardware: `h264 (cuda)`."""
    context = stream.codec_context
    device = hardware_decoder() if context.is_hwaccel else None
    return f"{context.name} ({device})" if device else context.name


def _video_graph(
    stream: av.video.stream.VideoStream,
    plan: VideoPlan,
    rate: Fraction,
    origin: float,
    first: av.VideoFrame,
) -> tuple[Any, Any, list[Any]]:
    """buffer -> trim -> fps -> split -> (scale -> upright -> crop|pad -> yuv420p -> sink)
    per rendition, shaped by the first decoded frame: its display rotation, and its pixel
    format (a hardware decoder hands over e.g. nv12 where the stream says yuv420p)."""
    graph = av.filter.Graph()
    buffer = head = graph.add_buffer(
        template=stream, width=first.width, height=first.height, format=first.format
    )
    rotation = first.rotation
    start = origin + plan.trim.start
    trim = f"start={start}" + (f":end={origin + plan.trim.end}" if plan.trim.end else "")
    chain = [
        graph.add("trim", trim),
        graph.add("setpts", f"PTS-{start}/TB"),
        graph.add("fps", f"fps={rate.numerator}/{rate.denominator}"),
        graph.add("split", str(len(plan.renditions))),
    ]
    for node in chain:
        head.link_to(node)
        head = node
    sinks = []
    for index, rendition in enumerate(plan.renditions):
        filters = _resize_filters(rendition, round(rotation / 90) % 4)
        branch = [graph.add(name, args) for name, args in filters]
        sink = graph.add("buffersink")
        head.link_to(branch[0], output_idx=index)
        for a, b in zip(branch, [*branch[1:], sink], strict=True):
            a.link_to(b)
        sinks.append(sink)
    graph.configure()
    return graph, buffer, sinks


def _resize_filters(rendition: Rendition, quarter_turns: int) -> list[tuple[str, str]]:
    """Sizes in the plan are upright; the scaler sees the stored picture, turned after it
    (transposing the smaller, scaled picture is the cheapest place: +0.15 ms a 720p frame
    against +0.7 ms before the scaler and 2 ms for numpy's rot90 on the planes)."""
    plan = rendition.resize
    (sw, sh), (cw, ch), (x, y) = plan.scaled, plan.canvas, plan.offset
    stored = (sh, sw) if quarter_turns % 2 else (sw, sh)
    filters = [("scale", f"{stored[0]}:{stored[1]}:flags=bicubic"), *_UPRIGHT[quarter_turns]]
    if (sw, sh) != (cw, ch):
        if x < 0 or y < 0:  # cover: the scaled picture overhangs the box; crop the middle
            filters.append(("crop", f"{cw}:{ch}:{-x if x < 0 else 0}:{-y if y < 0 else 0}"))
        if x > 0 or y > 0:  # contain: pad with black around it
            filters.append(("pad", f"{cw}:{ch}:{max(x, 0)}:{max(y, 0)}:black"))
    sar = rendition.sample_aspect
    filters += [("setsar", f"{sar.numerator}/{sar.denominator}"), ("format", "yuv420p")]
    return filters


# Quarter turns counter-clockwise (FFmpeg's display rotation) -> filters that undo them.
_UPRIGHT: dict[int, list[tuple[str, str]]] = {
    0: [],
    1: [("transpose", "cclock")],
    2: [("hflip", ""), ("vflip", "")],
    3: [("transpose", "clock")],
}


def _add_video(
    output: av.container.OutputContainer,
    encoder: str,
    r: Rendition,
    rate: Fraction,
    gop: int,
    tag: str | None,
) -> Any:
    stream: Any = output.add_stream(encoder, rate=rate)
    stream.width, stream.height, stream.pix_fmt = r.width, r.height, "yuv420p"
    stream.codec_context.time_base = 1 / rate
    # PyAV opens encoders with slice threads only; libx264 then splits each frame across
    # threads instead of encoding several frames at once, ~15% slower at 720p. FRAME|SLICE
    # is what the ffmpeg CLI asks for (each encoder picks the kinds it supports).
    stream.codec_context.thread_type = "AUTO"
    if r.sample_aspect != 1:
        stream.codec_context.sample_aspect_ratio = r.sample_aspect
    if tag:
        stream.codec_context.codec_tag = tag
    if r.bitrate is not None:
        stream.codec_context.bit_rate = r.bitrate
    if gop:
        stream.codec_context.gop_size = gop
    stream.codec_context.options = video_options(
        encoder, quality=r.quality, bitrate=r.bitrate, pixel_rate=r.width * r.height * float(rate)
    )
    return stream


def _drain(sink: Any, stream: Any, output: av.container.OutputContainer, gop: int) -> None:
    while True:
        try:
            frame: Any = sink.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return
        # Decoded frames arrive flagged as keyframes; let the encoder choose, except at
        # segment boundaries, where every rendition must start a GOP at the same frame.
        key = gop and frame.pts is not None and frame.pts % gop == 0
        frame.pict_type = PictureType.I if key else PictureType.NONE
        mux(output, stream.encode(frame))


def _rate(fps: float | None, stream: av.video.stream.VideoStream) -> Fraction:
    if fps:
        return Fraction(fps).limit_denominator(MAX_FPS_DENOMINATOR)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0 or rate > 240:
        return DEFAULT_FPS
    return Fraction(rate).limit_denominator(MAX_FPS_DENOMINATOR)


def _check_complete(
    stream: av.video.stream.VideoStream, last: float | None, origin: float, trim: Trim
) -> None:
    """A decode that stops well before the stream's own duration read a truncated file."""
    if last is None:
        raise TaskError(
            OPTION_OUT_OF_RANGE if trim.start else INPUT_UNREADABLE,
            "no video frames in the requested range",
        )
    if not (stream.duration and stream.time_base):
        return
    expected = float(stream.duration * stream.time_base)
    if trim.end is not None:
        expected = min(expected, trim.end)
    if last - origin + TRUNCATION_SLACK_S < expected:
        raise TaskError(
            INPUT_UNREADABLE,
            f"the video ends at {last - origin:.2f} s, before its stated {expected:.2f} s: "
            "the file looks truncated",
        )
