"""Output sizes for `width`, `height` and `fit`, shared by every operator that resizes."""

from __future__ import annotations

from pipeline.contract.plans import ResizePlan

FITS = ("cover", "contain", "fill")
DEFAULT_FIT = "cover"


def plan_resize(
    src_w: int, src_h: int, width: int | None, height: int | None, fit: str | None
) -> ResizePlan:
    if width and not height:
        height = max(1, round(src_h * width / src_w))
        return _plain(width, height)
    if height and not width:
        width = max(1, round(src_w * height / src_h))
        return _plain(width, height)
    if not width or not height:
        return _plain(src_w, src_h)
    fit = fit or DEFAULT_FIT
    if fit == "fill":
        return _plain(width, height)
    pick = max if fit == "cover" else min
    scale = pick(width / src_w, height / src_h)
    scaled = (max(1, round(src_w * scale)), max(1, round(src_h * scale)))
    offset = ((width - scaled[0]) // 2, (height - scaled[1]) // 2)
    return ResizePlan(scaled=scaled, canvas=(width, height), offset=offset)


def _plain(width: int, height: int) -> ResizePlan:
    return ResizePlan(scaled=(width, height), canvas=(width, height), offset=(0, 0))
