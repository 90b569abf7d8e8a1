from __future__ import annotations

from pathlib import Path

from pipeline.media.hls import VOD_TAG, mark_vod

MEDIA = (
    "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg-1.m4s\n#EXT-X-ENDLIST\n"
)
MASTER = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-STREAM-INF:BANDWIDTH=1\nmedia_0.m3u8\n"


def test_media_playlists_are_marked_vod_once_and_the_master_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "media_0.m3u8").write_text(MEDIA)
    (tmp_path / "master.m3u8").write_text(MASTER)
    mark_vod(tmp_path)
    mark_vod(tmp_path)
    lines = (tmp_path / "media_0.m3u8").read_text().splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:6", VOD_TAG]
    assert lines.count(VOD_TAG) == 1
    assert (tmp_path / "master.m3u8").read_text() == MASTER


def test_a_playlist_without_an_end_is_not_called_vod(tmp_path: Path) -> None:
    live = MEDIA.replace("#EXT-X-ENDLIST\n", "")
    (tmp_path / "media_0.m3u8").write_text(live)
    mark_vod(tmp_path)
    assert (tmp_path / "media_0.m3u8").read_text() == live
