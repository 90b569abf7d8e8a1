"""API errors: one exception type, mapped to the error envelope in one handler."""

from __future__ import annotations

from pipeline.contract.errors import INVALID_REQUEST, NOT_FOUND


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, INVALID_REQUEST, f"{field}: {message}", field)


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"no {what} with id {ident!r}")
