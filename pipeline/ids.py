"""Prefixed identifiers (`tsk_…`, `file_…`, `req_…`) and timestamps."""

from __future__ import annotations

import random
import secrets
import string
from datetime import UTC, datetime

_ALPHABET = string.ascii_lowercase + string.digits
_requests = random.Random()  # seeded from os.urandom; spawned API processes seed their own
_REQUEST_BITS = 128  # 36**16 is about 2**83: the modulo's bias is nil


def new_id(prefix: str, length: int = 16) -> str:
    # One draw from the OS's random source (not one per character: every request makes one).
    return f"{prefix}_" + _digits(secrets.randbelow(len(_ALPHABET) ** length), length)


def request_id() -> str:
    """A request's id (`req_…`): unique, not secret (it is sent back and logged), so it comes
    from a generator seeded once per process from the OS rather than a system call per
    request, which measured a tenth of a `GET /tasks/{id}`."""
    return "req_" + _digits(_requests.getrandbits(_REQUEST_BITS) % len(_ALPHABET) ** 16, 16)


def _digits(number: int, length: int) -> str:
    """`number` (below 36**length) in `length` characters of the alphabet."""
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def output_file_id(task_id: str) -> str:
    """The output file of a task has a fixed id, so a retried task overwrites it."""
    return "file_" + task_id.removeprefix("tsk_")


def now_iso() -> str:
    """UTC with microseconds: sorts as text and round-trips through every store."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
