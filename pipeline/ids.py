"""Prefixed identifiers (`tsk_…`, `file_…`, `req_…`) and timestamps."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime

_ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str, length: int = 16) -> str:
    # One draw from the OS's random source (not one per character: every request makes one).
    number = secrets.randbelow(len(_ALPHABET) ** length)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return f"{prefix}_" + "".join(chars)


def output_file_id(task_id: str) -> str:
    """The output file of a task has a fixed id, so a retried task overwrites it."""
    return "file_" + task_id.removeprefix("tsk_")


def now_iso() -> str:
    """UTC with microseconds: sorts as text and round-trips through every store."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
