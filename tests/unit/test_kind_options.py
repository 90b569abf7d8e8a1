"""Each kind's options, declared once (operators/options.py): the request schema takes its
types and ranges from there, operators read their defaults from there, and the OpenAPI
document shows each kind's options."""

from __future__ import annotations

from typing import Any

import pytest

from operators.catalog import KINDS
from operators.options import KindOptions, VideoOptions, parse
from pipeline.api.openapi import complete
from pipeline.api.schemas import TaskCreate
from pipeline.contract.errors import TaskError

REQUEST = TaskCreate.model_json_schema()["properties"]


def constraints(field: dict[str, Any]) -> dict[str, Any]:
    """A field's JSON schema without what may differ between the request and a kind: its
    default, title, and whether null is allowed."""
    options = field.get("anyOf", [field])
    typed = [o for o in options if o.get("type") != "null"]
    assert len(typed) == 1, field
    return {k: v for k, v in typed[0].items() if k not in ("default", "title")}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_request_takes_each_option_with_the_kinds_type_and_range(kind: str) -> None:
    model = KINDS[kind].options.model_json_schema()["properties"]
    for name, field in model.items():
        if name == "format":  # the request's is every kind's formats together
            continue
        assert name in REQUEST, f"{kind}: {name} is not a request field"
        assert constraints(REQUEST[name]) == constraints(field), (kind, name)


def test_parsed_options_carry_the_defaults_and_drop_the_labels() -> None:
    image = KINDS["image"].parse_options({"width": 64, "ref": "poster", "folder": "a/b"})
    assert (image.format, image.width, image.quality, image.fit) == ("jpeg", 64, 80, None)
    thumbs = KINDS["thumbnails"].parse_options({"count": 4})
    assert (thumbs.format, thumbs.width, thumbs.count) == ("json", 160, 4)
    detect = KINDS["faces"].parse_options({})
    assert (detect.fps, detect.confidence) == (1.0, 0.5)
    assert KINDS["subtitles"].parse_options({}).format == "vtt"


@pytest.mark.parametrize(
    ("options", "named"),
    [({"width": 0}, "width"), ({"quality": "high"}, "quality"), ({"colour": "red"}, "colour")],
)
def test_options_that_do_not_fit_end_the_task_naming_the_option(
    options: dict[str, Any], named: str
) -> None:
    with pytest.raises(TaskError) as caught:
        parse(VideoOptions, options)
    assert caught.value.code == "option_out_of_range"
    assert f"option {named}" in caught.value.message


def test_the_openapi_document_has_each_kinds_options() -> None:
    schemas = complete({"paths": {}})["components"]["schemas"]
    for kind, spec in KINDS.items():
        shown = schemas[f"{kind}Options"]
        assert shown["properties"]["format"]["enum"] == list(spec.formats)
        assert set(shown["properties"]) == spec.option_names
        assert shown["additionalProperties"] is False
    assert schemas["thumbnailsOptions"]["properties"]["width"]["default"] == 160


def test_every_kind_takes_format_and_filename() -> None:
    for spec in KINDS.values():
        assert issubclass(spec.options, KindOptions)
        assert {"format", "filename"} <= spec.option_names
