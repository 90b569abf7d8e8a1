"""Pydantic's validation errors -> one clear `invalid_request` naming the field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.api.errors import ApiError
from pipeline.contract.errors import INVALID_REQUEST


def request_error(errors: Sequence[Any]) -> ApiError:
    first: dict[str, Any] = dict(errors[0]) if errors else {"msg": "invalid request"}
    kind, loc = first.get("type", ""), tuple(first.get("loc", ()))
    if kind == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        return ApiError(400, INVALID_REQUEST, f"malformed JSON body: {detail}".rstrip(": "))
    if loc == ("body",):
        return ApiError(400, INVALID_REQUEST, "the body must be a JSON object")
    field = ".".join(str(part) for part in loc[1:]) or str(loc[0] if loc else "request")
    if kind == "extra_forbidden":
        message = f"unknown field {field!r}"
    else:
        message = f"{field}: {first.get('msg', 'invalid value')}"
        if "input" in first and not isinstance(first["input"], dict | list):
            message += f" (got {first['input']!r})"
    return ApiError(422, INVALID_REQUEST, message, field)
