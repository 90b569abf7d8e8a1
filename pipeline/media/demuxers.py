"""The demuxers and protocols an input may be opened with (PyAV), and nothing else.

FFmpeg picks a demuxer by probing the file's bytes, and some demuxers are indirections:
`concat` lists open other files (a list naming itself opens itself until the process runs
out of file descriptors), `hls`, `dash` and `sdp` fetch what they name, `image2` expands
`%d` patterns into file sequences. An input is opened with FFmpeg's own `format_whitelist`
(checked after probing, before the demuxer reads a byte of its header) and
`protocol_whitelist` set to the local file protocol, so none of them runs.
"""

from __future__ import annotations

# The containers Strobe reads. Names are FFmpeg's demuxer names; a demuxer with several
# names (mov's "mov,mp4,m4a,3gp,3g2,mj2") passes when any of them is listed.
VIDEO_DEMUXERS = (
    "mov",  # mp4, m4a, 3gp, 3g2, mj2; also AVIF and HEIF pictures
    "matroska",  # mkv, webm
    "avi",
    "flv",
    "mpegts",
    "mpeg",  # MPEG program streams (.mpg, .vob)
    "asf",  # wmv, wma
    "ogg",  # Ogg Theora/Vorbis/Opus
    "ivf",  # VP8/VP9/AV1 elementary streams
    "h264",
    "hevc",
)
AUDIO_DEMUXERS = ("wav", "w64", "mp3", "flac", "aac", "aiff", "caf")
# Single pictures. image2 reads the one named file: its `%d` patterns are turned off below.
IMAGE_DEMUXERS = (
    "image2",
    "png_pipe",
    "jpeg_pipe",
    "webp_pipe",
    "bmp_pipe",
    "tiff_pipe",
    "gif",
)
ALLOWED_DEMUXERS = VIDEO_DEMUXERS + AUDIO_DEMUXERS + IMAGE_DEMUXERS
ALLOWED_PROTOCOLS = ("file",)
# What a refused input is told (the FFmpeg error itself only says "Invalid argument").
SUPPORTED_CONTAINERS = (
    "mp4/mov/m4a/3gp, mkv/webm, avi, flv, mpeg-ts, mpeg-ps, asf, ogg, ivf, raw h264/hevc, "
    "wav, mp3, flac, aac, aiff, caf, png, jpeg, webp, bmp, tiff, gif, avif"
)


def input_options(max_pixels: int | None = None) -> dict[str, str]:
    """Options for `av.open(path, "r", options=...)` of any input Strobe did not write."""
    options = {
        "format_whitelist": ",".join(ALLOWED_DEMUXERS),
        "protocol_whitelist": ",".join(ALLOWED_PROTOCOLS),
        "pattern_type": "none",  # image2: the file named, never a numbered sequence
    }
    if max_pixels:
        # FFmpeg decodes a first picture while probing; this stops it from allocating a
        # huge one (the size then reads as 0, which the probe reports as too large).
        options["max_pixels"] = str(max_pixels)
    return options
