"""The README's kinds and budgets tables say what the catalog declares (operators/catalog.py).

A kind is declared once, in the catalog; the registry, the request schema and OpenAPI are
built from it, and these tests hold the README to it: every kind has a row, every format and
option a kind takes is named in its row, and its time budget is the one in the table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from operators.catalog import (
    FORMAT_ALIASES,
    FORMAT_NAMES,
    KINDS,
    Needs,
)
from operators.options import CODEC_NAMES, VIDEO_CODECS
from operators.registry import OPERATORS, load_operator
from pipeline.api.schemas import TaskCreate

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SHARED = {"format", "filename"}  # every kind takes them; the README says so once, above


def table(header: str) -> dict[str, str]:
    """First-column code names -> the rest of the row, for the table under `header`."""
    rows = README.split(header, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    found = {}
    for row in rows:
        first, _, rest = row.strip("|").partition("|")
        for name in re.findall(r"`([a-z_]+)`", first):
            found[name] = rest
    return found


KIND_ROWS = table("| kind | status | formats and options |")


def row_of(kind: str) -> str:
    """The kind's row, with the row it points at for "options as `other`"."""
    row = KIND_ROWS[kind]
    same = re.search(r"options as `([a-z]+)`", row)
    return row + (KIND_ROWS[same.group(1)] if same else "")


def test_every_kind_has_a_row_and_every_row_a_kind() -> None:
    assert set(KIND_ROWS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_row_names_the_kinds_formats_and_options(kind: str) -> None:
    named = set(re.findall(r"`([a-z0-9_]+)`", row_of(kind)))
    spec = KINDS[kind]
    assert set(spec.formats) <= named, f"{kind}: formats missing from the README"
    assert spec.option_names - SHARED <= named, f"{kind}: options missing from the README"
    # Each video format's codecs are named in its row too.
    if kind == "video":
        assert {c for codecs in VIDEO_CODECS.values() for c in codecs} <= named


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_row_gives_each_default_the_kinds_options_have(kind: str) -> None:
    row = row_of(kind)
    for name, field in KINDS[kind].options.model_fields.items():
        if name == "format" or field.default is None:
            continue
        said = re.search(rf"`{name}` \(([^)]*)\)", row)
        assert said is not None, f"{kind}: the README gives {name} no default"
        assert f"default {field.default:g}" in said.group(1), (kind, name, said.group(1))


NEEDS_ROWS = table("| kinds | the input needs |")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_needs_row_says_what_the_kind_needs(kind: str) -> None:
    row = NEEDS_ROWS[kind]
    needs = KINDS[kind].needs
    said = row.strip()
    assert said.startswith(needs.value) and said[len(needs.value) :][:2] in (" (", "; "), row
    code = "no_audio_stream" if needs is Needs.SOUND else "no_video_stream"
    assert needs is Needs.NOTHING or f"`{code}`" in row


BUDGET_ROWS = table("| kinds | base | per second of media |")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_budget_table_gives_the_kinds_budget(kind: str) -> None:
    row = BUDGET_ROWS[kind]
    budget = KINDS[kind].budget
    base, per_second = (cell.strip() for cell in row.strip().strip("|").split("|")[:2])
    assert base == f"{budget.base_s:g} s"
    if budget.per_media_s == 0:
        assert per_second == "—"
    else:
        assert per_second.startswith(f"{budget.per_media_s:g} s")
        assert ("× `fps`" in per_second) == budget.per_sampled_fps


def test_the_registry_and_the_schema_come_from_the_catalog() -> None:
    assert set(OPERATORS) == set(KINDS)
    for kind in KINDS:
        assert load_operator(kind).kind == kind
    schema = TaskCreate.model_json_schema()["properties"]
    assert schema["kind"]["anyOf"][0]["enum"] == list(KINDS)
    assert set(schema["format"]["anyOf"][0]["enum"]) == set(FORMAT_NAMES) | set(FORMAT_ALIASES)
    assert schema["codec"]["anyOf"][0]["enum"] == list(CODEC_NAMES)
