"""HLS media playlists marked as video on demand once the muxer is done.

FFmpeg's DASH muxer writes the HLS playlists of a CMAF output (`hls_playlist=1`) with no
`#EXT-X-PLAYLIST-TYPE`, and has no option to add one (the `hls` muxer's
`hls_playlist_type` is not shared). Without it a player may treat a finished ladder as a
live stream that could still grow: it reloads the playlist and hides the seek bar. Each
media playlist that ends with `#EXT-X-ENDLIST` gets `#EXT-X-PLAYLIST-TYPE:VOD` after its
`#EXT-X-VERSION` line (RFC 8216 §4.3.3.5).
"""

from __future__ import annotations

from pathlib import Path

VOD_TAG = "#EXT-X-PLAYLIST-TYPE:VOD"


def mark_vod(folder: Path) -> None:
    for playlist in sorted(folder.glob("*.m3u8")):
        text = playlist.read_text(encoding="utf-8")
        if "#EXTINF" in text and "#EXT-X-ENDLIST" in text and "#EXT-X-PLAYLIST-TYPE" not in text:
            playlist.write_text(vod(text), encoding="utf-8")


def vod(text: str) -> str:
    """The playlist with the VOD tag after the version line (or the header)."""
    lines = text.splitlines(keepends=True)
    after = next((i for i, line in enumerate(lines) if line.startswith("#EXT-X-VERSION")), 0)
    lines.insert(after + 1, VOD_TAG + "\n")
    return "".join(lines)
