"""`image`: a still from an image or a video frame, resized and encoded as jpeg/png/webp/avif."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from PIL import Image

from operators.base import Operator
from operators.catalog import EXTENSIONS, KINDS, MIMETYPES
from operators.geometry import plan_resize
from operators.options import ImageOptions
from pipeline.contract.errors import OPTION_OUT_OF_RANGE, TaskError
from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress

# Formats whose encoders keep an alpha channel; others get transparency flattened.
ALPHA_FORMATS = frozenset({"png", "webp", "avif"})
JPEG_BACKGROUND = (255, 255, 255)
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}


class ImageOperator(Operator):
    kind = "image"

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        config: ImageOptions = KINDS["image"].parse_options(options)
        info = source.info
        if config.start and info.is_image:
            raise TaskError(OPTION_OUT_OF_RANGE, "start applies to videos; the input is an image")
        picture = Image.fromarray(source.still(config.start).pixels)
        progress(0.4)
        picture = resize(picture, config, keep_alpha=config.format in ALPHA_FORMATS)
        progress(0.6)
        return Artifact(
            extension=EXTENSIONS[config.format],
            mimetype=MIMETYPES[config.format],
            format=config.format,
            data=encode(picture, config),
        )


def resize(picture: Image.Image, config: ImageOptions, *, keep_alpha: bool) -> Image.Image:
    if picture.mode == "RGBA" and not keep_alpha:
        flat = Image.new("RGB", picture.size, JPEG_BACKGROUND)
        flat.paste(picture, mask=picture.getchannel("A"))
        picture = flat
    plan = plan_resize(picture.width, picture.height, config.width, config.height, config.fit)
    if plan.scaled != picture.size:
        picture = picture.resize(plan.scaled, Image.Resampling.LANCZOS)
    if plan.canvas == plan.scaled:
        return picture
    # cover crops (negative offset), contain pads with transparency or black.
    mode = "RGBA" if keep_alpha else "RGB"
    canvas = Image.new(mode, plan.canvas, (0, 0, 0, 0) if keep_alpha else (0, 0, 0))
    canvas.paste(picture.convert(mode), plan.offset)
    return canvas


def encode(picture: Image.Image, config: ImageOptions) -> bytes:
    out = io.BytesIO()
    if config.format == "png":
        picture.save(out, "PNG", optimize=False, compress_level=6)
    elif config.format == "jpeg":
        picture.convert("RGB").save(out, "JPEG", quality=config.quality, optimize=True)
    else:
        picture.save(out, PIL_FORMATS[config.format], quality=config.quality)
    return out.getvalue()
