"""DASH adaptation sets for a CMAF ladder whose rungs have non-square pixels.

A ladder's lower rungs may be stored a little narrower or wider than the top's aspect
ratio, with a sample aspect ratio that makes them show at exactly its shape. FFmpeg's DASH
muxer checks each adaptation set's shape with the stream's sample aspect ratio, which PyAV
cannot set (only the encoder's), so it refuses such rungs in one set. They are written one
set per rung instead, and merged into one set here once the muxer is done, each
representation with its real `sar`: players switch only within a set.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from pipeline.contract.plans import Rendition

MPD_NAMESPACE = "urn:mpeg:dash:schema:mpd:2011"
# Prefixes the manifest declares, kept when it is written back.
_PREFIXES = {
    "": MPD_NAMESPACE,
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xlink": "http://www.w3.org/1999/xlink",
}
_NS = {"d": MPD_NAMESPACE}


def square(renditions: Sequence[Rendition]) -> bool:
    return all(r.sample_aspect == 1 for r in renditions)


def adaptation_sets(renditions: Sequence[Rendition], audio: bool) -> str:
    """The muxer's `adaptation_sets` option; video streams come first, then the audio one."""
    if square(renditions):
        sets = ["id=0,streams=v"]
    else:
        sets = [f"id={index},streams={index}" for index in range(len(renditions))]
    if audio:
        sets.append(f"id={len(sets)},streams=a")
    return " ".join(sets)


def merge_video_sets(mpd: Path, renditions: Sequence[Rendition]) -> None:
    """Move every video representation into the first video adaptation set, with its own
    `sar` and the set's `par` the top rung's shape. A no-op for square-pixelled ladders."""
    if square(renditions):
        return
    for prefix, uri in _PREFIXES.items():
        ET.register_namespace(prefix, uri)
    tree = ET.parse(mpd)
    for period in tree.getroot().iterfind("d:Period", _NS):
        video = [
            s for s in period.iterfind("d:AdaptationSet", _NS) if s.get("contentType") == "video"
        ]
        if not video:
            continue
        merged = video[0]
        for other in video[1:]:
            for representation in other.iterfind("d:Representation", _NS):
                merged.append(representation)
            period.remove(other)
        for representation in merged.iterfind("d:Representation", _NS):
            sar = renditions[int(representation.get("id", "0"))].sample_aspect
            representation.set("sar", _ratio(sar))
        top = renditions[0]
        merged.set("par", _ratio(Fraction(top.width, top.height)))
        merged.set("maxWidth", str(max(r.width for r in renditions)))
        merged.set("maxHeight", str(max(r.height for r in renditions)))
    ET.indent(tree, space="\t")
    tree.write(mpd, encoding="utf-8", xml_declaration=True)


def _ratio(value: Fraction) -> str:
    return f"{value.numerator}:{value.denominator}"
