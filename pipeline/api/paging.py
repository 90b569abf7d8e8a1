"""List cursors: `after` / `before`, an opaque alternative to `page` that stays fast at depth.

A cursor is base64url (unpadded) of the JSON `[sort, order, value, id]` of one listed row.
It names a place in the list, nothing more: the project filter always applies, so a cursor
edited by hand can only move within the caller's own rows. Anything that does not decode to
a well-formed place in the same sort and order is a 422 naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from pipeline.api.errors import invalid
from pipeline.store import Position, TaskRecord, position_of

MAX_CURSOR = 256  # characters; a real one is under 120
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_ID = re.compile(r"[a-z]{1,8}_[A-Za-z0-9]{1,64}")


@dataclass(frozen=True)
class Cursors:
    """A list page's cursors: its first row's when rows precede it, its last row's when
    rows follow it; `keyset` when the request itself paged by cursor."""

    before: str | None
    after: str | None
    keyset: bool = False

    def meta(self) -> dict[str, str | None]:
        return {"before": self.before, "after": self.after}


def encode(sort: str, order: str, at: Position) -> str:
    raw = json.dumps([sort, order, at.value, at.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(field: str, cursor: str, sort: str, order: str) -> Position:
    """The place `cursor` names; a 422 naming `field` when it is not one for this list."""
    fields = _fields(cursor)
    if fields is None:
        raise invalid(field, "not a cursor this API gave out; use meta.cursors or links")
    made_sort, made_order, value, ident = fields
    if (made_sort, made_order) != (sort, order):
        raise invalid(
            field,
            f"this cursor is for sort={made_sort}&order={made_order}; send the same sort and "
            "order with it, or start again from page 1",
        )
    return Position(value, ident)


def cursors(
    sort: str, order: str, items: list[TaskRecord], more_before: bool, more_after: bool
) -> Cursors:
    if not items:
        return Cursors(None, None)
    first, last = (encode(sort, order, position_of(t, sort)) for t in (items[0], items[-1]))
    return Cursors(first if more_before else None, last if more_after else None)


def _fields(cursor: str) -> tuple[str, str, str | int | None, str] | None:
    if not cursor or len(cursor) > MAX_CURSOR:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields: Any = json.loads(raw.decode())
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError included
        return None
    if not isinstance(fields, list) or len(fields) != 4:
        return None
    sort, order, value, ident = fields
    if order not in ("asc", "desc") or not isinstance(ident, str) or not _ID.fullmatch(ident):
        return None
    if sort in ("created", "updated"):
        valid = isinstance(value, str) and _STAMP.fullmatch(value) is not None
    elif sort == "filesize":
        valid = value is None or (type(value) is int and 0 <= value < 2**63)
    else:
        valid = False
    return (sort, order, value, ident) if valid else None


def cursor_links(url: str, params: dict[str, Any], found: Cursors) -> dict[str, str | None]:
    """next/prev of a page read by cursor: `after` its last row, `before` its first."""
    kept = {k: v for k, v in params.items() if k not in ("page", "after", "before")}

    def at(name: str, cursor: str | None) -> str | None:
        return f"{url}?{urlencode({**kept, name: cursor})}" if cursor else None

    return {"next": at("after", found.after), "prev": at("before", found.before)}
