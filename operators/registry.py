"""kind -> operator class. Import paths, so a worker imports only the operators it runs."""

from __future__ import annotations

import importlib

from operators.base import Operator

OPERATORS: dict[str, str] = {
    "image": "operators.image:ImageOperator",
    "video": "operators.video:VideoOperator",
    "audio": "operators.audio:AudioOperator",
    "thumbnails": "operators.thumbnails:ThumbnailsOperator",
    "objects": "operators.objects:ObjectsOperator",
    "faces": "operators.faces:FacesOperator",
    "text": "operators.text:TextOperator",
    "nsfw": "operators.nsfw:NsfwOperator",
    "speech": "operators.speech:SpeechOperator",
    "subtitles": "operators.subtitles:SubtitlesOperator",
    "chapters": "operators.chapters:ChaptersOperator",
    "outline": "operators.outline:OutlineOperator",
}


def load_operator(kind: str) -> type[Operator]:
    return load_path(OPERATORS[kind])


def load_path(path: str) -> type[Operator]:
    """`package.module:Class` -> the class."""
    module_name, _, class_name = path.partition(":")
    cls: type[Operator] = getattr(importlib.import_module(module_name), class_name)
    return cls
