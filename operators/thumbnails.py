"""`thumbnails`: evenly spaced JPEG frames, a sprite sheet of them and a WebVTT track whose
cues point into the sprite (`sprite.jpg#xywh=x,y,w,h`), the way video players show
previews while seeking. The main file is a JSON index of all three."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from PIL import Image

from operators.base import Operator
from operators.catalog import KINDS
from operators.geometry import plan_resize
from operators.options import ThumbnailsOptions
from operators.plans import plan_trim
from pipeline.contract.errors import (
    INPUT_UNREADABLE,
    OPTION_OUT_OF_RANGE,
    TaskError,
)
from pipeline.contract.media import Artifact, Asset, MediaSource, Progress, no_progress

DEFAULT_COUNT = 10
MAX_COUNT = 1000
SPRITE_COLUMNS = 10
JPEG_QUALITY = 80
MAX_SPRITE_SIDE = 65_000  # JPEG's limit is 65,535 pixels a side
SPRITE, TRACK = "sprite.jpg", "thumbnails.vtt"


@dataclass(frozen=True)
class Sheet:
    """Where thumbnail `index` sits in the sprite."""

    width: int
    height: int
    columns: int

    def box(self, index: int) -> tuple[int, int, int, int]:
        row, column = divmod(index, self.columns)
        return column * self.width, row * self.height, self.width, self.height


class ThumbnailsOperator(Operator):
    kind = "thumbnails"

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        config: ThumbnailsOptions = KINDS["thumbnails"].parse_options(options)
        info = source.info
        trim = plan_trim(config.start, config.end, config.duration, info.duration)
        end = trim.end if trim.end is not None else (info.duration or trim.start)
        span = max(0.0, end - trim.start)
        count, interval = _spacing(span, config.count, config.interval)
        assert info.width and info.height  # its kind needs a sized picture (the catalog)
        size = plan_resize(info.width, info.height, config.width, None, None)
        width, height = size.canvas
        sheet = Sheet(width, height, columns=min(count, SPRITE_COLUMNS))
        if sheet.columns * width > MAX_SPRITE_SIDE or math.ceil(count / sheet.columns) * height > (
            MAX_SPRITE_SIDE
        ):
            raise TaskError(OPTION_OUT_OF_RANGE, "the sprite sheet would exceed 65,000 pixels")

        fps = 1.0 / interval if interval else None
        pictures: list[Image.Image] = []
        for still in islice(source.frames(fps=fps, start=trim.start, end=end or None), count):
            picture = Image.fromarray(still.pixels).convert("RGB")
            pictures.append(picture.resize((width, height), Image.Resampling.LANCZOS))
            progress(0.9 * len(pictures) / count)
        if not pictures:
            raise TaskError(INPUT_UNREADABLE, "no frames could be decoded in the requested range")

        names = [f"thumbnails/{i + 1:04d}.jpg" for i in range(len(pictures))]
        assets = [
            Asset(n, "image/jpeg", data=_jpeg(p)) for n, p in zip(names, pictures, strict=True)
        ]
        assets.append(Asset(SPRITE, "image/jpeg", data=_jpeg(_sprite(pictures, sheet))))
        cues = _cues(len(pictures), trim.start, interval, end)
        assets.append(Asset(TRACK, "text/vtt", data=_vtt(cues, sheet).encode()))
        index = {
            "count": len(pictures),
            "width": width,
            "height": height,
            "interval": round(interval, 6),
            "thumbnails": [{"time": c[0], "file": n} for c, n in zip(cues, names, strict=True)],
            "sprite": SPRITE,
            "vtt": TRACK,
        }
        return Artifact(
            extension="json",
            mimetype="application/json",
            format="json",
            data=json.dumps(index, indent=1).encode(),
            media=False,
            assets=tuple(assets),
            summary={
                "count": len(pictures),
                "width": width,
                "height": height,
                "interval": round(interval, 6),
                "duration": round(span, 3),
                "urls": names,
                "links": {"sprite": SPRITE, "vtt": TRACK},
            },
        )


def _spacing(span: float, count: int | None, interval: float | None) -> tuple[int, float]:
    """(count, interval): one of them given, the other follows from the span."""
    if interval:
        count = max(1, math.ceil(span / interval - 1e-9))
        if count > MAX_COUNT:
            raise TaskError(
                OPTION_OUT_OF_RANGE,
                f"interval {interval:g} s makes {count} thumbnails; at most {MAX_COUNT}",
            )
        return count, interval
    count = count or DEFAULT_COUNT
    return count, span / count


def _cues(n: int, start: float, interval: float, end: float) -> list[tuple[float, float]]:
    """Back-to-back cues from `start` to `end`, one per thumbnail."""
    times = [start + i * interval for i in range(n)] + [max(end, start + (n - 1) * interval)]
    return [(round(a, 3), round(b, 3)) for a, b in zip(times, times[1:], strict=False)]


def _sprite(pictures: list[Image.Image], sheet: Sheet) -> Image.Image:
    rows = math.ceil(len(pictures) / sheet.columns)
    canvas = Image.new("RGB", (sheet.columns * sheet.width, rows * sheet.height))
    for index, picture in enumerate(pictures):
        canvas.paste(picture, sheet.box(index)[:2])
    return canvas


def _vtt(cues: list[tuple[float, float]], sheet: Sheet) -> str:
    lines = ["WEBVTT", ""]
    for index, (start, end) in enumerate(cues):
        x, y, w, h = sheet.box(index)
        lines += [f"{_clock(start)} --> {_clock(end)}", f"{SPRITE}#xywh={x},{y},{w},{h}", ""]
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def _jpeg(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
