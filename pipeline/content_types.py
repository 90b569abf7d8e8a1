"""Which content type a stored file has, and which types the API may show inline.

A file's type comes from what probing found in its bytes, not from what the client said:
a client's header (or the file name's extension) only picks among the types of the
container that was found (`video/quicktime` for a QuickTime file, not `text/html`).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from urllib.parse import quote

from pipeline.contract.media import MediaInfo

GENERIC = "application/octet-stream"


@dataclass(frozen=True)
class _Family:
    video: str | None  # the type of a file with a video stream (None: never has one)
    audio: str | None  # the type of an audio-only file
    also: tuple[str, ...] = ()  # other names clients use for the same container


_CONTAINERS = {
    "mov": _Family(
        "video/mp4",
        "audio/mp4",
        ("video/quicktime", "video/3gpp", "video/3gpp2", "video/x-m4v", "audio/x-m4a", "audio/m4a"),
    ),
    "matroska": _Family("video/x-matroska", "audio/x-matroska", ("video/webm", "audio/webm")),
    "avi": _Family("video/x-msvideo", None, ("video/avi", "video/msvideo")),
    "flv": _Family("video/x-flv", None),
    "mpegts": _Family("video/mp2t", "audio/mp2t"),
    "mpeg": _Family("video/mpeg", "audio/mpeg"),
    "asf": _Family("video/x-ms-asf", "audio/x-ms-wma", ("video/x-ms-wmv",)),
    "ogg": _Family("video/ogg", "audio/ogg", ("audio/opus", "application/ogg")),
    "ivf": _Family("video/x-ivf", None),
    "h264": _Family("video/h264", None),
    "hevc": _Family("video/h265", None),
    "wav": _Family(None, "audio/wav", ("audio/x-wav", "audio/wave", "audio/vnd.wave")),
    "w64": _Family(None, "audio/x-w64"),
    "mp3": _Family(None, "audio/mpeg", ("audio/mp3",)),
    "flac": _Family(None, "audio/flac", ("audio/x-flac",)),
    "aac": _Family(None, "audio/aac", ("audio/x-aac", "audio/aacp")),
    "aiff": _Family(None, "audio/aiff", ("audio/x-aiff",)),
    "caf": _Family(None, "audio/x-caf"),
    "gif": _Family("image/gif", None),
}
# Pictures, by the codec of their one frame (containers: image2, *_pipe, mov for AVIF/HEIF).
_PICTURES = {
    "mjpeg": ("image/jpeg", ("image/jpg", "image/pjpeg")),
    "png": ("image/png", ("image/apng",)),
    "webp": ("image/webp", ()),
    "bmp": ("image/bmp", ("image/x-bmp", "image/x-ms-bmp")),
    "tiff": ("image/tiff", ()),
    "gif": ("image/gif", ()),
    "av1": ("image/avif", ()),
    "hevc": ("image/heic", ("image/heif",)),
}
_WEBM_CODECS = {"vp8", "vp9", "av1", "opus", "vorbis", None}

# Shown inline by the API: media, JSON, WebVTT and the HLS/DASH manifests. Anything else
# (HTML, SVG, text, unknown bytes) is sent as an attachment, so nothing a client uploaded
# can run as a page on the API's origin.
_INLINE = {
    "application/json",
    "text/vtt",
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "audio/mpegurl",
    "audio/x-mpegurl",
    "application/dash+xml",
    "application/mp4",  # fMP4 segments
}
_NEVER_INLINE = {"image/svg+xml"}  # an image type that runs scripts


def probed_mimetype(info: MediaInfo | None, filename: str, declared: str | None) -> str:
    """The type to record for an upload: from the probe when it found media, the declared
    type or the name's only when they fit what was found; from the name for other files."""
    guessed = mimetypes.guess_type(filename)[0]
    if info is None:
        return guessed or GENERIC
    default, accepted = _media_types(info)
    for candidate in (_bare(declared), guessed):
        if candidate and candidate in accepted:
            return candidate
    return default


def shown_inline(mimetype: str) -> bool:
    """Whether the API may answer with `Content-Disposition: inline` for this type."""
    bare = _bare(mimetype) or ""
    if bare in _NEVER_INLINE:
        return False
    return bare in _INLINE or bare.split("/")[0] in {"video", "audio", "image"}


def _media_types(info: MediaInfo) -> tuple[str, set[str]]:
    """The default type of what was probed, and every type that names it too."""
    if info.is_image and info.video_codec in _PICTURES:
        default, also = _PICTURES[info.video_codec]
        return default, {default, *also}
    family = _CONTAINERS.get(info.container)
    if family is None:
        return GENERIC, {GENERIC}
    # A video stream in an audio container (cover art) keeps the audio type, and back.
    first, second = (family.video, family.audio) if info.has_video else (family.audio, family.video)
    default = first or second or GENERIC
    if info.container == "matroska" and {info.video_codec, info.audio_codec} <= _WEBM_CODECS:
        default = "video/webm" if info.has_video else "audio/webm"
    names = {t for t in (family.video, family.audio, *family.also) if t}
    top = default.split("/")[0]
    return default, {t for t in names | {default} if t.split("/")[0] == top}


def _bare(mimetype: str | None) -> str | None:
    """`Video/MP4; codecs=avc1` -> `video/mp4`; None when empty."""
    bare = (mimetype or "").split(";")[0].strip().lower()
    return bare or None


def content_disposition(filename: str, mimetype: str) -> str:
    """`inline` or `attachment` (see `shown_inline`) with the name as RFC 6266 asks: an
    ASCII `filename` for old clients and the exact name, UTF-8 and percent-encoded (RFC 5987),
    in `filename*`; quotes, backslashes and control characters never reach the header."""
    kind = "inline" if shown_inline(mimetype) else "attachment"
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    encoded = quote(filename, safe="!#$&+-.^_`|~", errors="replace")
    return f"{kind}; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{encoded}"
