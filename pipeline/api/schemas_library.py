"""Wire shapes of the files, media and signatures requests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from operators.options import MAX_FILENAME
from pipeline.api.limits import Metadata
from pipeline.api.schemas import FOLDER_PATTERN, REF_PATTERN, Folder

MAX_EXPIRY_S = 7 * 24 * 3600


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # no `true` for a number


class FileLabels(_Request):
    ref: str | None = Field(None, pattern=REF_PATTERN)
    folder: Folder = Field(None, pattern=FOLDER_PATTERN)
    filename: str | None = Field(None, min_length=1, max_length=MAX_FILENAME)
    metadata: Metadata = None


class FileCreate(FileLabels):
    """POST /files with a JSON body: ingest the file at `url`."""

    url: str = Field(..., max_length=4096)
    media_id: str | None = Field(None, max_length=64)


class FileUpdate(FileLabels):
    """PATCH /files/{id}: the fields given are changed; `null` is the same as absent."""


class MediaFields(_Request):
    title: str | None = Field(None, max_length=500)
    alt: str | None = Field(None, max_length=2000)
    metadata: Metadata = None


class SignatureCreate(_Request):
    """POST /signatures: a signed, expiring URL for `folder/filename`."""

    filename: str = Field(..., min_length=1, max_length=MAX_FILENAME)
    folder: Folder = Field(None, pattern=FOLDER_PATTERN)
    expiry: int | None = Field(None, description="Unix time the URL stops working")
    method: Literal["get", "put"] = "get"
