"""`request_error`: pydantic's error list (as FastAPI reports it) -> one ApiError."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.api.schemas import TaskCreate
from pipeline.api.validation import request_error


def body_errors(payload: Any) -> list[dict[str, Any]]:
    """The errors FastAPI would report for this JSON body (its locations start with "body")."""
    with pytest.raises(ValidationError) as info:
        if isinstance(payload, str):
            TaskCreate.model_validate_json(payload)
        else:
            TaskCreate.model_validate(payload)
    return [{**e, "loc": ("body", *e["loc"])} for e in info.value.errors()]


def test_a_range_error_names_the_field_and_echoes_the_input() -> None:
    error = request_error(body_errors({"width": -5}))
    assert (error.status, error.code, error.field) == (422, "invalid_request", "width")
    assert error.message == "width: Input should be greater than or equal to 1 (got -5)"


def test_a_type_error_echoes_the_bad_string() -> None:
    error = request_error(body_errors({"width": "abc"}))
    assert error.field == "width"
    assert error.message.startswith("width: Input should be a valid integer")
    assert error.message.endswith("(got 'abc')")


def test_a_too_large_value_names_the_limit() -> None:
    error = request_error(body_errors({"width": 100_000}))
    assert error.field == "width"
    assert "less than or equal to 8192" in error.message


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("kind", "bogus", ["'video'", "'image'", "'thumbnails'"]),
        ("fit", "zoom", ["'contain'", "'cover'", "'fill'"]),
        ("format", "gif", ["'mp4'", "'jpeg'", "'jpg'", "'srt'"]),
        ("codec", "x264", ["'h264'", "'hevc'", "'vp9'", "'vp8'", "'av1'"]),
    ],
)
def test_a_choice_error_lists_the_allowed_values(
    field: str, value: str, allowed: list[str]
) -> None:
    error = request_error(body_errors({field: value}))
    assert (error.status, error.field) == (422, field)
    for choice in allowed:
        assert choice in error.message
    assert error.message.endswith(f"(got {value!r})")


def test_an_unknown_field_is_called_that() -> None:
    error = request_error(body_errors({"url": "https://e.com/a", "colour": "red"}))
    assert (error.status, error.field, error.message) == (422, "colour", "unknown field 'colour'")


def test_a_structured_input_is_not_echoed() -> None:
    error = request_error(body_errors({"width": {"nested": [1, 2]}}))
    assert error.field == "width"
    assert "(got" not in error.message


@pytest.mark.parametrize("payload", [[1, 2], 42, None, '"a string"', "[1, 2]"])
def test_a_body_that_is_not_an_object_is_a_400(payload: Any) -> None:
    error = request_error(body_errors(payload))
    assert (error.status, error.field) == (400, None)
    assert error.message == "the body must be a JSON object"


def test_malformed_json_is_a_400_with_the_parser_detail() -> None:
    errors = body_errors("{bad")
    assert errors[0]["type"] == "json_invalid"
    error = request_error(errors)
    assert (error.status, error.code, error.field) == (400, "invalid_request", None)
    assert error.message.startswith("malformed JSON body: ")
    assert "line 1 column 2" in error.message


def test_only_the_first_error_is_reported() -> None:
    errors = body_errors({"width": -5, "quality": 500})
    assert len(errors) == 2
    assert request_error(errors).field == "width"


def test_an_empty_error_list_still_makes_an_error() -> None:
    error = request_error([])
    assert error.status == 422
    assert "invalid request" in error.message
