"""The video operator's CMAF output: an HLS + DASH ladder whose every playlist, manifest
entry and segment is read back and decoded."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from operators.video import VideoOperator
from pipeline.contract.media import Artifact
from pipeline.media.file import MediaFile
from tests.support.media import make_video
from tests.support.transcode import decode_all, pixel_aspect, playlist_entries, resolutions

FRAME = 1 / 25
MPD = {"d": "urn:mpeg:dash:schema:mpd:2011"}


def run(source: Path, tmp_path: Path, **options: Any) -> Artifact:
    media = MediaFile(source, workdir=tmp_path / "work")
    return VideoOperator().process(media, {"format": "cmaf", **options})


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_cmaf_ladder_hls_and_dash(tmp_path: Path, codec: str) -> None:
    source = make_video(tmp_path / "in.mp4", width=320, height=180, seconds=3.0, audio=True)
    artifact = run(source, tmp_path, codec=codec)
    assert artifact.path is not None and artifact.path.name == "master.m3u8"
    assert not artifact.media and artifact.format == "cmaf"
    folder = artifact.path.parent
    ladder = [(r["width"], r["height"]) for r in artifact.summary["renditions"]]
    assert ladder == [(320, 180), (256, 144)]
    assert resolutions(artifact.path) == ladder
    assert {a.name for a in artifact.assets} == {p.name for p in folder.iterdir()}
    assert artifact.summary["links"] == {"hls": "master.m3u8", "dash": "manifest.mpd"}
    assert artifact.summary["codec"] == codec
    tags = re.findall(r'CODECS="(\w+)\.', artifact.path.read_text())
    assert set(tags) == {"avc1" if codec == "h264" else "hvc1"}

    # Every playlist and segment the HLS playlists name exists and decodes at its size.
    media_playlists = playlist_entries(artifact.path)
    assert sorted(media_playlists) == ["media_0.m3u8", "media_1.m3u8", "media_2.m3u8"]
    named: set[str] = set()
    for playlist in media_playlists:
        index = int(playlist.removeprefix("media_").removesuffix(".m3u8"))
        entries = playlist_entries(folder / playlist)
        named |= set(entries)
        text = (folder / playlist).read_text()  # a finished ladder, not a live stream
        assert text.count("#EXT-X-PLAYLIST-TYPE:VOD") == 1 and "#EXT-X-ENDLIST" in text
        init, segments = entries[0], entries[1:]
        assert segments and all((folder / name).is_file() for name in entries)
        joined = tmp_path / f"joined-{index}.mp4"
        joined.write_bytes(b"".join((folder / n).read_bytes() for n in [init, *segments]))
        out = decode_all(joined)
        if out.video_codec is not None:
            assert out.video_codec == codec and out.size == ladder[index]
            assert out.video_seconds == pytest.approx(3.0, abs=2 * FRAME)
        else:
            assert out.audio_codec == "aac"
            assert out.audio_seconds == pytest.approx(3.0, abs=0.05)
    assert named == {p.name for p in folder.glob("*.m4s")}

    # The DASH manifest describes the same renditions over the same segment files.
    mpd = ET.parse(folder / "manifest.mpd").getroot()
    sizes = [
        (int(r.get("width", 0)), int(r.get("height", 0)))
        for r in mpd.iterfind(".//d:Representation", MPD)
        if r.get("width")
    ]
    assert sizes == ladder
    templates = {t.get("initialization") for t in mpd.iterfind(".//d:SegmentTemplate", MPD)}
    assert templates == {"init-$RepresentationID$.m4s"}


def test_cmaf_segments_start_on_aligned_keyframes(tmp_path: Path) -> None:
    source = make_video(tmp_path / "in.mp4", width=320, height=180, seconds=9.0, fps=10)
    artifact = run(source, tmp_path, fps=10)
    assert artifact.path is not None
    folder = artifact.path.parent
    per_rendition = [playlist_entries(folder / p)[1:] for p in playlist_entries(artifact.path)]
    assert [len(s) for s in per_rendition] == [3, 3]  # 9 s in 4 s segments
    durations = [
        re.findall(r"#EXTINF:([\d.]+)", (folder / p).read_text())
        for p in playlist_entries(artifact.path)
    ]
    assert durations[0] == durations[1] == ["4.000000", "4.000000", "1.000000"]


def test_cmaf_ladder_of_an_uneven_aspect_shows_every_rung_at_one_shape(tmp_path: Path) -> None:
    # 854x480 has no smaller even size of exactly its shape: the rungs take the nearest even
    # width and a sample aspect ratio that puts the shape back.
    source = make_video(tmp_path / "in.mp4", width=854, height=480, seconds=1.0, audio=True)
    artifact = run(source, tmp_path)
    assert artifact.path is not None
    folder = artifact.path.parent
    ladder = [(r["width"], r["height"]) for r in artifact.summary["renditions"]]
    assert ladder == [(854, 480), (640, 360), (426, 240), (256, 144)]
    assert resolutions(artifact.path) == ladder
    shape = 854 / 480
    for playlist in playlist_entries(artifact.path):
        index = int(playlist.removeprefix("media_").removesuffix(".m3u8"))
        entries = playlist_entries(folder / playlist)
        assert all((folder / name).is_file() for name in entries)
        joined = tmp_path / f"joined-{index}.mp4"
        joined.write_bytes(b"".join((folder / name).read_bytes() for name in entries))
        out = decode_all(joined)
        if out.video_codec is None:
            assert out.audio_seconds == pytest.approx(1.0, abs=0.05)
            continue
        assert out.size == ladder[index]
        assert out.video_seconds == pytest.approx(1.0, abs=2 * FRAME)
        width, height = ladder[index]
        assert float(width * pixel_aspect(joined) / height) == pytest.approx(shape, rel=1e-3)

    # DASH: one video adaptation set (players switch only within one), each rung's `sar`.
    mpd = ET.parse(folder / "manifest.mpd").getroot()
    sets = [s for s in mpd.iterfind(".//d:AdaptationSet", MPD) if s.get("contentType") == "video"]
    assert len(sets) == 1 and sets[0].get("par") == "427:240"
    representations = sets[0].findall("d:Representation", MPD)
    assert [(int(r.get("width", 0)), int(r.get("height", 0))) for r in representations] == ladder
    assert [r.get("sar") for r in representations] == ["1:1", "1281:1280", "427:426", "1281:1280"]
    for representation in mpd.iterfind(".//d:Representation", MPD):
        assert (folder / f"init-{representation.get('id')}.m4s").is_file()
